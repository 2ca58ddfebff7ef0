"""Backbone registry entries: importing this package registers every backbone (one line each)."""

from specrec.models.backbones import sasrec  # noqa: F401
from specrec.models.backbones import gru4rec  # noqa: F401
from specrec.models.backbones import bert4rec  # noqa: F401
from specrec.models.backbones import hstu  # noqa: F401
from specrec.models.backbones import sasrec_af  # noqa: F401
