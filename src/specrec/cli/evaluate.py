"""`specrec evaluate`: thin CLI wrapper."""
