"""`specrec preprocess`: thin CLI wrapper."""
