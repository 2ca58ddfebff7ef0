"""specrec: LLM-enhanced sequential recommendation as a pipeline of cached, reproducible stages."""

__version__ = "0.1.0"

from specrec.errors import SpecrecError

__all__ = ["SpecrecError", "__version__"]
