"""Amazon Reviews 2014: reviews as JSON lines + metadata lines that are Python dict literals."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from specrec.data.sources.base import SOURCES, RawData, Source
from specrec.data.sources._io import locate_reviews, read_item_meta, read_jsonl
from specrec.data.sources._prompt import category_noun, read_every_item_field

REVIEW_SCHEMA = {
    "reviewerID": pl.String,
    "asin": pl.String,
    "overall": pl.Float64,
    "unixReviewTime": pl.Int64,
}
META_FIELDS = ("title", "brand", "categories", "price", "description")  # lists flattened, ", "
BEAUTY_DROPPED = ("related", "imUrl", "salesRank")  # LLMEmb's Beauty prompt (2014 files)
FASHION_DROPPED = (  # LLMEmb's Fashion prompt (2018 files, which this source reads too)
    "fit", "also_buy", "also_view", "similar_item", "imageURL", "imageURLHighRes",
)


def is_review(record: dict) -> bool:
    return "reviewerID" in record and "asin" in record


def is_meta(record: dict) -> bool:
    return "asin" in record and "reviewerID" not in record


@SOURCES.register("amazon2014")
class Amazon2014(Source):
    """`reviews_<Cat>[_5].json[.gz]` + optional `meta_<Cat>.json[.gz]`, named or in one folder."""

    name = "amazon2014"
    prompt_dropped_keys = BEAUTY_DROPPED + FASHION_DROPPED

    def locate(self, paths: list[Path], columns: dict[str, str] | None) -> dict[str, Path]:
        return locate_reviews(paths, source=self.name, is_review=is_review, is_meta=is_meta)

    def default_template(self, files: dict[str, Path], columns: dict[str, str] | None) -> str:
        return "{title}[. Brand: {brand}][. Categories: {categories}]" if "items" in files else ""

    def prompt_noun(self, files: dict[str, Path]) -> str:
        return category_noun(files["interactions"])

    def read(self, files: dict[str, Path], columns: dict[str, str] | None) -> RawData:
        reviews = read_jsonl(files["interactions"], REVIEW_SCHEMA)
        inter = reviews.select(
            pl.col("reviewerID").alias("user_id"),
            pl.col("asin").alias("item_id"),
            pl.col("unixReviewTime").alias("timestamp"),
            pl.col("overall").alias("rating"),
        )
        if self.every_field:
            items = read_every_item_field(files, key="asin", first_path=("categories",))
        else:
            items = read_item_meta(files, key="asin", fields=META_FIELDS)
        return RawData(interactions=inter, items=items)
