"""specrec.report."""
