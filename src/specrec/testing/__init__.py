"""specrec.testing."""
