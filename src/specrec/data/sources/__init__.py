"""specrec.data.sources."""
