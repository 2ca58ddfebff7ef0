"""specrec.train."""
