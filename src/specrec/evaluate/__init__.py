"""specrec.evaluate."""
