"""Helpers for tests and examples: tiny synthetic artifacts written through the real contracts."""
