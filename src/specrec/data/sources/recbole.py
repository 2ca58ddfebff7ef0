"""RecBole atomic files: `<name>.inter` (+ optional `<name>.item`), tab separated, `name:type`."""

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
    wrap_read_errors,
)
from specrec.errors import SpecrecError

FIELD_TYPES = ("token", "token_seq", "float", "float_seq")
TEXT_TYPES = ("token", "token_seq")


def read_atomic(path: Path) -> tuple[pl.DataFrame, dict[str, str]]:
    """An atomic file as all-string columns named without their type, plus name -> type."""
    frame = wrap_read_errors(
        path,
        lambda: pl.read_csv(
            path, separator="\t", quote_char=None, infer_schema=False, has_header=True
        ),
    )
    types: dict[str, str] = {}
    for header in frame.columns:
        name, _, kind = header.rpartition(":")
        if not name or kind not in FIELD_TYPES:
            raise SpecrecError(
                f"'{path}' header '{header}' is not 'name:type' with type one of "
                f"{', '.join(FIELD_TYPES)}; fix the first line of the file"
            )
        types[name] = kind
    return frame.rename(dict(zip(frame.columns, types, strict=True))), types


def read_recbole(files: dict[str, Path], columns: dict[str, str]) -> RawData:
    """Interactions and token/token_seq item metadata from a RecBole dataset folder."""
    inter_path = files["interactions"]
    inter, _ = read_atomic(inter_path)
    roles = {role: columns[role] for role in ("user", "item", "time")}
    require_columns(inter, roles, f"'{inter_path}'")
    where = f"'{inter_path}'"
    data = {
        "user_id": inter[columns["user"]],
        "item_id": inter[columns["item"]],
        "timestamp": to_seconds(inter[columns["time"]], where),
    }
    if columns.get("rating") and columns["rating"] in inter.columns:
        data["rating"] = to_float(inter[columns["rating"]], where)
    items = pl.DataFrame({"item_id": []}, schema={"item_id": pl.String})
    if "items" in files:
        item_frame, types = read_atomic(files["items"])
        require_columns(item_frame, {"item": columns["item"]}, f"'{files['items']}'")
        keep = [n for n, t in types.items() if t in TEXT_TYPES and n != columns["item"]]
        items = item_frame.select(
            pl.col(columns["item"]).alias("item_id"),
            *[pl.col(n).alias(metadata_name(n)) for n in keep],
        ).unique("item_id", keep="first", maintain_order=True)
    return RawData(interactions=pl.DataFrame(data), items=items)


def locate_atomic(folder_or_file: Path) -> dict[str, Path]:
    """`<name>.inter` and, if present, `<name>.item`, from a folder or from the .inter path."""
    require_path(folder_or_file, "RecBole dataset")
    if folder_or_file.is_dir():
        inter_files = sorted(folder_or_file.glob("*.inter"))
        if len(inter_files) != 1:
            found = ", ".join(p.name for p in inter_files) or "none"
            raise SpecrecError(
                f"'{folder_or_file}' must hold exactly one .inter file (found: {found}); "
                "pass the .inter file itself"
            )
        inter_path = inter_files[0]
    elif folder_or_file.suffix == ".inter":
        inter_path = folder_or_file
    else:
        raise SpecrecError(
            f"'{folder_or_file}' is not a RecBole .inter file or a folder holding one"
        )
    files = {"interactions": inter_path}
    item_path = inter_path.with_suffix(".item")
    if item_path.is_file():
        files["items"] = item_path
    return files


def item_text_columns(item_path: Path, item_column: str) -> list[str]:
    """Names of the token/token_seq columns of a .item file (from its header only)."""
    with open(item_path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline().rstrip("\n\r").split("\t")
    names = [h.rpartition(":") for h in header]
    return [n for n, _, t in names if t in TEXT_TYPES and n != item_column]


@SOURCES.register("recbole")
class RecBoleAtomic(Source):
    """A folder with RecBole atomic files; field names default to RecBole's (user_id, ...)."""

    name = "recbole"
    column_keys = ("user", "item", "time", "rating")
    default_columns = {
        "user": "user_id",
        "item": "item_id",
        "time": "timestamp",
        "rating": "rating",
    }
    required_columns = ("user", "item", "time")

    def locate(self, paths: list[Path], columns: dict[str, str] | None) -> dict[str, Path]:
        if len(paths) != 1:
            raise SpecrecError(
                f"source recbole takes one folder (or .inter file), got {len(paths)} paths"
            )
        return locate_atomic(paths[0])

    def default_template(self, files: dict[str, Path], columns: dict[str, str] | None) -> str:
        if "items" not in files:
            return ""
        return labelled_template(item_text_columns(files["items"], (columns or {})["item"]))

    def read(self, files: dict[str, Path], columns: dict[str, str] | None) -> RawData:
        return read_recbole(files, columns or self.default_columns)
