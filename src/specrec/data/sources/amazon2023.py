"""Amazon Reviews 2023 (McAuley lab): reviews and item metadata as JSON lines, timestamps in ms."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from specrec.data.sources.base import SOURCES, RawData, Source
from specrec.data.sources._io import locate_reviews, read_item_meta, read_jsonl
from specrec.data.sources._prompt import category_noun, read_every_item_field

REVIEW_SCHEMA = {
    "user_id": pl.String,
    "parent_asin": pl.String,
    "rating": pl.Float64,
    "timestamp": pl.Int64,
}
META_FIELDS = (
    "title",
    "main_category",
    "store",
    "categories",
    "features",
    "description",
    "details",
    "price",
)
SEPARATORS = {"features": " ", "description": " ", "details": "; "}  # details: "key: value; ..."
MS_PER_SECOND = 1000
PROMPT_DROPPED = ("images", "videos", "bought_together")  # URLs and ids, as LLMEmb drops imUrl


def is_review(record: dict) -> bool:
    return "user_id" in record and "parent_asin" in record


def is_meta(record: dict) -> bool:
    return "parent_asin" in record and "user_id" not in record


@SOURCES.register("amazon2023")
class Amazon2023(Source):
    """`<Cat>.jsonl[.gz]` reviews + optional `meta_<Cat>.jsonl[.gz]`; items are parent_asin."""

    name = "amazon2023"
    prompt_dropped_keys = PROMPT_DROPPED

    def locate(self, paths: list[Path], columns: dict[str, str] | None) -> dict[str, Path]:
        return locate_reviews(paths, source=self.name, is_review=is_review, is_meta=is_meta)

    def default_template(self, files: dict[str, Path], columns: dict[str, str] | None) -> str:
        return "{title}[. Store: {store}][. Categories: {categories}]" if "items" in files else ""

    def prompt_noun(self, files: dict[str, Path]) -> str:
        return category_noun(files["interactions"])

    def read(self, files: dict[str, Path], columns: dict[str, str] | None) -> RawData:
        reviews = read_jsonl(files["interactions"], REVIEW_SCHEMA)
        inter = reviews.select(
            pl.col("user_id"),
            pl.col("parent_asin").alias("item_id"),
            (pl.col("timestamp") // MS_PER_SECOND).alias("timestamp"),
            pl.col("rating"),
        )
        if self.every_field:
            items = read_every_item_field(files, key="parent_asin")
        else:
            items = read_item_meta(
                files, key="parent_asin", fields=META_FIELDS, separators=SEPARATORS
            )
        return RawData(interactions=inter, items=items)
