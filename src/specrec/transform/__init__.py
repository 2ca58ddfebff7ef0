"""specrec.transform."""
