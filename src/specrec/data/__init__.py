"""specrec.data."""
