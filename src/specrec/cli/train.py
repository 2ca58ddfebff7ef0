"""`specrec train`: thin CLI wrapper."""
