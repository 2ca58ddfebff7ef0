"""Generic CSV / Parquet interactions with named columns, plus an optional item file."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from specrec.data.sources.base import SOURCES, RawData, Source
from specrec.data.sources._io import (
    labelled_template,
    metadata_name,
    require_columns,
    require_path,
    to_float,
    to_seconds,
    to_text,
    wrap_read_errors,
)
from specrec.errors import SpecrecError

CSV_SEPARATORS = {".tsv": "\t", ".tab": "\t"}
PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def scan_table(path: Path) -> pl.LazyFrame:
    """A CSV (`,`; tab for .tsv/.tab; gz allowed) or Parquet file, lazily; CSV as strings."""
    if is_parquet(path):
        return pl.scan_parquet(path)
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    separator = CSV_SEPARATORS.get(suffixes[-1] if suffixes else "", ",")
    if path.suffix.lower() == ".gz":  # scan_csv cannot stream compressed files
        return wrap_read_errors(
            path, lambda: pl.read_csv(path, separator=separator, infer_schema=False)
        ).lazy()
    return pl.scan_csv(path, separator=separator, infer_schema=False)


def collect(path: Path, frame: pl.LazyFrame) -> pl.DataFrame:
    return wrap_read_errors(path, frame.collect)


def header_of(path: Path) -> list[str]:
    return wrap_read_errors(path, lambda: scan_table(path).collect_schema()).names()


class Tabular(Source):
    """Interactions file first, optional item file second; roles user, item, time, rating, item_key.

    The item file's key column is `item_key` (default: the same name as the item column); all its
    other columns become text metadata.
    """

    column_keys = ("user", "item", "time", "rating", "item_key")
    required_columns = ("user", "item", "time")

    def locate(self, paths: list[Path], columns: dict[str, str] | None) -> dict[str, Path]:
        if not 1 <= len(paths) <= 2:
            raise SpecrecError(
                f"source {self.name} takes the interactions file and optionally an item file, "
                f"got {len(paths)} paths"
            )
        for path in paths:
            require_path(path, f"{self.name} file")
            if path.is_dir():
                raise SpecrecError(f"source {self.name} needs files, but '{path}' is a folder")
        files = {"interactions": paths[0]}
        if len(paths) == 2:
            files["items"] = paths[1]
        return files

    def item_key(self, columns: dict[str, str]) -> str:
        return columns.get("item_key") or columns["item"]

    def default_template(self, files: dict[str, Path], columns: dict[str, str] | None) -> str:
        if "items" not in files:
            return ""
        key = self.item_key(columns or {})
        return labelled_template([name for name in header_of(files["items"]) if name != key])

    def read(self, files: dict[str, Path], columns: dict[str, str] | None) -> RawData:
        columns = columns or {}
        path = files["interactions"]
        lazy = scan_table(path)
        roles = {
            role: columns[role] for role in ("user", "item", "time", "rating") if columns.get(role)
        }
        require_columns(lazy, roles, f"'{path}'")
        frame = collect(path, lazy.select(list(dict.fromkeys(roles.values()))))
        where = f"'{path}'"
        data = {
            "user_id": to_text(frame[roles["user"]]),
            "item_id": to_text(frame[roles["item"]]),
            "timestamp": to_seconds(frame[roles["time"]], where),
        }
        if "rating" in roles:
            data["rating"] = to_float(frame[roles["rating"]], where)
        items = pl.DataFrame(schema={"item_id": pl.String})
        if "items" in files:
            key = self.item_key(columns)
            item_frame = collect(files["items"], scan_table(files["items"]))
            require_columns(item_frame, {"item_key": key}, f"item file '{files['items']}'")
            items = pl.DataFrame(
                {
                    "item_id": to_text(item_frame[key]),
                    **{
                        metadata_name(n): to_text(item_frame[n])
                        for n in item_frame.columns
                        if n != key
                    },
                }
            ).unique("item_id", keep="first", maintain_order=True)
        return RawData(interactions=pl.DataFrame(data), items=items)


@SOURCES.register("csv")
class CsvSource(Tabular):
    """Comma-separated (tab for .tsv) files with a header row."""

    name = "csv"


@SOURCES.register("parquet")
class ParquetSource(Tabular):
    """Parquet files (an item file may be CSV or Parquet, chosen by its suffix)."""

    name = "parquet"
