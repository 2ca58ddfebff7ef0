"""Backbone registry entries: importing this package registers every backbone (one line each)."""

from specrec.models.backbones import sasrec  # noqa: F401
