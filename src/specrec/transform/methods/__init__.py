"""specrec.transform.methods."""
