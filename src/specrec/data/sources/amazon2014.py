"""Amazon Reviews 2014: reviews as JSON lines + metadata lines that are Python dict literals."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from specrec.data.sources import SOURCES, RawData, Source
from specrec.data.sources._io import classify_files, iter_records, join_text, read_jsonl
from specrec.errors import SpecrecError

REVIEW_SCHEMA = {
    "reviewerID": pl.String,
    "asin": pl.String,
    "overall": pl.Float64,
    "unixReviewTime": pl.Int64,
}
META_FIELDS = ("title", "brand", "categories", "price", "description")


def is_review(record: dict) -> bool:
    return "reviewerID" in record and "asin" in record


def is_meta(record: dict) -> bool:
    return "asin" in record and "reviewerID" not in record


def read_meta(path: Path) -> pl.DataFrame:
    """One row per asin: title, brand, categories (flattened, ', '), price, description."""
    rows: dict[str, list] = {"item_id": [], **{field: [] for field in META_FIELDS}}
    for record in iter_records(path):
        if record.get("asin") is None:
            continue
        rows["item_id"].append(str(record["asin"]))
        for field in META_FIELDS:
            rows[field].append(join_text(record.get(field)))
    schema = {name: pl.String for name in rows}
    return pl.DataFrame(rows, schema=schema).unique("item_id", keep="first", maintain_order=True)


@SOURCES.register("amazon2014")
class Amazon2014(Source):
    """`reviews_<Cat>[_5].json[.gz]` + optional `meta_<Cat>.json[.gz]`, named or in one folder."""

    name = "amazon2014"

    def locate(self, paths: list[Path], columns: dict[str, str] | None) -> dict[str, Path]:
        if not paths:
            raise SpecrecError(
                "source amazon2014 needs the reviews file (and the meta file) as paths"
            )
        return classify_files(
            paths,
            {"interactions": is_review, "items": is_meta},
            source="amazon2014",
            required=("interactions",),
        )

    def default_template(self, files: dict[str, Path], columns: dict[str, str] | None) -> str:
        return "{title}[. Brand: {brand}][. Categories: {categories}]" if "items" in files else ""

    def read(self, files: dict[str, Path], columns: dict[str, str] | None) -> RawData:
        reviews = read_jsonl(files["interactions"], REVIEW_SCHEMA)
        inter = reviews.select(
            pl.col("reviewerID").alias("user_id"),
            pl.col("asin").alias("item_id"),
            pl.col("unixReviewTime").alias("timestamp"),
            pl.col("overall").alias("rating"),
        )
        items = (
            read_meta(files["items"])
            if "items" in files
            else pl.DataFrame(
                schema={"item_id": pl.String, **dict.fromkeys(META_FIELDS, pl.String)}
            )
        )
        return RawData(interactions=inter, items=items)
