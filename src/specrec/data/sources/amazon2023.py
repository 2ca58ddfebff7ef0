"""Amazon Reviews 2023 (McAuley lab): reviews and item metadata as JSON lines, timestamps in ms."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from specrec.data.sources import SOURCES, RawData, Source
from specrec.data.sources._io import classify_files, iter_records, join_text, read_jsonl
from specrec.errors import SpecrecError

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
SEPARATORS = {"features": " ", "description": " ", "details": "; "}
MS_PER_SECOND = 1000


def is_review(record: dict) -> bool:
    return "user_id" in record and "parent_asin" in record


def is_meta(record: dict) -> bool:
    return "parent_asin" in record and "user_id" not in record


def read_meta(path: Path) -> pl.DataFrame:
    """One row per parent_asin; list fields joined, `details` as 'key: value; ...'."""
    rows: dict[str, list] = {"item_id": [], **{field: [] for field in META_FIELDS}}
    for record in iter_records(path):
        if record.get("parent_asin") is None:
            continue
        rows["item_id"].append(str(record["parent_asin"]))
        for field in META_FIELDS:
            rows[field].append(join_text(record.get(field), SEPARATORS.get(field, ", ")))
    schema = {name: pl.String for name in rows}
    return pl.DataFrame(rows, schema=schema).unique("item_id", keep="first", maintain_order=True)


@SOURCES.register("amazon2023")
class Amazon2023(Source):
    """`<Cat>.jsonl[.gz]` reviews + optional `meta_<Cat>.jsonl[.gz]`; items are parent_asin."""

    name = "amazon2023"

    def locate(self, paths: list[Path], columns: dict[str, str] | None) -> dict[str, Path]:
        if not paths:
            raise SpecrecError(
                "source amazon2023 needs the reviews file (and the meta file) as paths"
            )
        return classify_files(
            paths,
            {"interactions": is_review, "items": is_meta},
            source="amazon2023",
            required=("interactions",),
        )

    def default_template(self, files: dict[str, Path], columns: dict[str, str] | None) -> str:
        return "{title}[. Store: {store}][. Categories: {categories}]" if "items" in files else ""

    def read(self, files: dict[str, Path], columns: dict[str, str] | None) -> RawData:
        reviews = read_jsonl(files["interactions"], REVIEW_SCHEMA)
        inter = reviews.select(
            pl.col("user_id"),
            pl.col("parent_asin").alias("item_id"),
            (pl.col("timestamp") // MS_PER_SECOND).alias("timestamp"),
            pl.col("rating"),
        )
        items = (
            read_meta(files["items"])
            if "items" in files
            else pl.DataFrame(
                schema={"item_id": pl.String, **dict.fromkeys(META_FIELDS, pl.String)}
            )
        )
        return RawData(interactions=inter, items=items)
