"""`specrec report`: thin CLI wrapper."""
