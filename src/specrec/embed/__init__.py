"""specrec.embed."""
