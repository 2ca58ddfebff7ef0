"""`specrec transform`: thin CLI wrapper."""
