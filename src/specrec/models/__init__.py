"""specrec.models."""
