"""Item embedders (the fusion of a transform into the model): importing registers every entry."""

from specrec.models.embedders import frozen_plus_id, id_table  # noqa: F401
from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder

__all__ = ["EMBEDDERS", "ItemEmbedder"]
from specrec.models.embedders import morec  # noqa: F401
from specrec.models.embedders import alpharec  # noqa: F401
from specrec.models.embedders import unisrec  # noqa: F401
from specrec.models.embedders import whitenrec  # noqa: F401
from specrec.models.embedders import llmemb  # noqa: F401
from specrec.models.embedders import spectran  # noqa: F401
from specrec.models.embedders import rlmrec  # noqa: F401
from specrec.models.embedders import whitenrec_plus  # noqa: F401
from specrec.models.embedders import llmesr  # noqa: F401
