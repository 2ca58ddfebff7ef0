"""`specrec embed`: thin CLI wrapper."""
