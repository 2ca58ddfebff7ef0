"""Yelp Open Dataset: `review.json` (user, business, stars, date) + `business.json`."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from specrec.data.sources.base import SOURCES, RawData, Source
from specrec.data.sources._io import classify_files, read_jsonl
from specrec.data.sources._prompt import read_every_item_field
from specrec.errors import SpecrecError

REVIEW_SCHEMA = {
    "user_id": pl.String,
    "business_id": pl.String,
    "stars": pl.Float64,
    "date": pl.String,
}
BUSINESS_FIELDS = ("name", "city", "state", "categories")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
PROMPT_DROPPED = ("longitude", "latitude")  # LLMEmb's Yelp prompt


def is_review(record: dict) -> bool:
    return "review_id" in record and "business_id" in record and "user_id" in record


def is_business(record: dict) -> bool:
    return "business_id" in record and "name" in record and "user_id" not in record


def review_seconds(dates: pl.Series, path: Path) -> pl.Series:
    """'YYYY-MM-DD HH:MM:SS' (UTC as published) -> int64 seconds."""
    parsed = dates.str.to_datetime(DATE_FORMAT, strict=False)
    bad = dates.filter(parsed.is_null() & dates.is_not_null())
    if bad.len():
        raise SpecrecError(f"'{path}': review date '{bad[0]}' is not 'YYYY-MM-DD HH:MM:SS'")
    return parsed.dt.epoch("s").cast(pl.Int64)


@SOURCES.register("yelp")
class Yelp(Source):
    """The Yelp Open Dataset folder (or its review and business files); items are businesses."""

    name = "yelp"
    prompt_dropped_keys = PROMPT_DROPPED

    def locate(self, paths: list[Path], columns: dict[str, str] | None) -> dict[str, Path]:
        if not paths:
            raise SpecrecError("source yelp needs the dataset folder or its review/business files")
        return classify_files(
            paths,
            {"interactions": is_review, "items": is_business},
            source="yelp",
            required=("interactions",),
        )

    def default_template(self, files: dict[str, Path], columns: dict[str, str] | None) -> str:
        return "{name}[, {city}][, {state}][. Categories: {categories}]" if "items" in files else ""

    def prompt_noun(self, files: dict[str, Path]) -> str:
        return "point of interest"

    def read(self, files: dict[str, Path], columns: dict[str, str] | None) -> RawData:
        path = files["interactions"]
        reviews = read_jsonl(path, REVIEW_SCHEMA)
        inter = pl.DataFrame(
            {
                "user_id": reviews["user_id"],
                "item_id": reviews["business_id"],
                "timestamp": review_seconds(reviews["date"], path),
                "rating": reviews["stars"],
            }
        )
        schema = {"business_id": pl.String, **dict.fromkeys(BUSINESS_FIELDS, pl.String)}
        if self.every_field:
            items = read_every_item_field(files, key="business_id")
        elif "items" in files:
            items = read_jsonl(files["items"], schema).rename({"business_id": "item_id"})
            items = items.unique("item_id", keep="first", maintain_order=True)
        else:
            items = pl.DataFrame(schema=schema).rename({"business_id": "item_id"})
        return RawData(interactions=inter, items=items)
