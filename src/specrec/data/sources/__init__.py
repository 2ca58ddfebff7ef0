"""The SOURCES registry: one reader per raw format, each returning `RawData` in file order."""

from specrec.data.sources.base import INTERACTION_COLUMNS, SOURCES, RawData, Source

# Each module registers its source(s) when imported.
from specrec.data.sources import (  # noqa: E402,F401
    amazon2014,
    amazon2023,
    ml100k,
    movielens,
    recbole,
    tabular,
    yelp,
)

__all__ = ["INTERACTION_COLUMNS", "RawData", "SOURCES", "Source"]
