"""Shared reading helpers for sources: gz-aware text, JSON lines, file discovery, dtype coercion."""

from __future__ import annotations

import ast
import gzip
import io
import json
from pathlib import Path
from typing import Any, Callable, Iterator

import polars as pl

from specrec.data.text import MISSING_TEXT
from specrec.errors import SpecrecError

GZIP_MAGIC = b"\x1f\x8b"
FIRST_LINE_LIMIT = 16 * 2**20
RESERVED_ITEM_COLUMNS = ("item_id", "item_idx", "text")


def metadata_name(column: str) -> str:
    """A metadata column's name in items.parquet ('raw_<name>' if it would clash with ours)."""
    return f"raw_{column}" if column in RESERVED_ITEM_COLUMNS else column


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_text(path: Path, encoding: str = "utf-8") -> io.TextIOBase:
    """Open a plain or gzipped text file (detected from its first bytes, not its name)."""
    if is_gzip(path):
        return gzip.open(path, "rt", encoding=encoding)
    return open(path, encoding=encoding)


def read_text(path: Path) -> str:
    """The whole file as text: UTF-8, falling back to latin-1 (old MovieLens files)."""
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as handle:
        data = handle.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def require_path(path: Path, what: str) -> Path:
    if not path.exists():
        raise SpecrecError(f"{what} '{path}' does not exist; check the path")
    return path


def files_of(paths: list[Path]) -> list[tuple[Path, bool]]:
    """Expand folders into their visible files; each entry says whether it was named explicitly."""
    found: list[tuple[Path, bool]] = []
    for path in paths:
        require_path(path, "input")
        if path.is_dir():
            found += [
                (p, False) for p in sorted(path.iterdir()) if p.is_file() and p.name[0] != "."
            ]
        else:
            found.append((path, True))
    return found


def parse_record(line: str) -> Any:
    """One line as JSON, or as a Python dict literal (Amazon 2014 metadata)."""
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return ast.literal_eval(line)


def first_record(path: Path) -> dict | None:
    """The first non-empty line of a JSON-lines file as a dict, or None if it is not one."""
    try:
        with open_text(path) as handle:
            for _ in range(100):
                line = handle.readline(FIRST_LINE_LIMIT)
                if not line:
                    return None
                if line.strip():
                    record = parse_record(line)
                    return record if isinstance(record, dict) else None
    except (ValueError, SyntaxError, UnicodeDecodeError, OSError, EOFError, MemoryError):
        return None
    return None


def classify_files(
    paths: list[Path],
    kinds: dict[str, Callable[[dict], bool]],
    *,
    source: str,
    required: tuple[str, ...],
) -> dict[str, Path]:
    """Role -> file, each JSON-lines file recognised from the keys of its first record.

    Files inside a folder that fit no role are skipped; a named file that fits none is an error.
    """
    found: dict[str, Path] = {}
    for path, explicit in files_of(paths):
        record = first_record(path)
        role = None
        if record is not None:
            role = next((name for name, test in kinds.items() if test(record)), None)
        if role is None:
            if explicit:
                raise SpecrecError(
                    f"'{path}' is not a {source} {' or '.join(kinds)} file "
                    "(JSON lines, gz or plain)"
                )
            continue
        if role in found:
            raise SpecrecError(f"two {source} {role} files, '{found[role]}' and '{path}'; pass one")
        found[role] = path
    for role in required:
        if role not in found:
            raise SpecrecError(
                f"no {source} {role} file among {', '.join(map(str, paths)) or 'the paths'}; "
                f"pass it (JSON lines, gz or plain)"
            )
    return found


def locate_reviews(
    paths: list[Path],
    *,
    source: str,
    is_review: Callable[[dict], bool],
    is_meta: Callable[[dict], bool],
) -> dict[str, Path]:
    """Role -> file for a reviews source: the reviews file ('interactions', required) and the
    item metadata file ('items', optional), both JSON lines recognised by their first record."""
    if not paths:
        raise SpecrecError(f"source {source} needs the reviews file (and the meta file) as paths")
    return classify_files(
        paths,
        {"interactions": is_review, "items": is_meta},
        source=source,
        required=("interactions",),
    )


def read_item_meta(
    files: dict[str, Path],
    *,
    key: str,
    fields: tuple[str, ...],
    separators: dict[str, str] | None = None,
) -> pl.DataFrame:
    """The item metadata of the optional 'items' file: one row per `key` value (its first
    record), `item_id` and each of `fields` as one string (`join_text` with ', ' unless
    `separators` names another); without that file, an empty frame with those columns."""
    schema = {"item_id": pl.String, **dict.fromkeys(fields, pl.String)}
    if "items" not in files:
        return pl.DataFrame(schema=schema)
    separators = separators or {}
    rows: dict[str, list] = {name: [] for name in schema}
    for record in iter_records(files["items"]):
        if record.get(key) is None:
            continue
        rows["item_id"].append(str(record[key]))
        for field in fields:
            rows[field].append(join_text(record.get(field), separators.get(field, ", ")))
    return pl.DataFrame(rows, schema=schema).unique("item_id", keep="first", maintain_order=True)


def iter_records(path: Path) -> Iterator[dict]:
    """Records of a JSON-lines (or dict-literal lines) file, with the line number in errors."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = parse_record(line)
            except (ValueError, SyntaxError) as exc:
                raise SpecrecError(
                    f"'{path}' line {number} is neither JSON nor a dict literal ({exc})"
                ) from exc
            if not isinstance(record, dict):
                raise SpecrecError(
                    f"'{path}' line {number} is not a record ({{...}}); check the file"
                )
            yield record


def read_jsonl(path: Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Selected fields of a JSON-lines file (gz or plain) via polars, else line by line."""
    try:
        frame = pl.read_ndjson(path, schema=schema, infer_schema_length=None)
    except Exception:  # not strict JSON (dict literals) or mixed types: parse in Python
        rows = {name: [] for name in schema}
        for record in iter_records(path):
            for name in schema:
                rows[name].append(record.get(name))
        try:
            frame = pl.DataFrame(rows, schema=schema, strict=False)
        except Exception as exc:
            message = f"'{path}' has fields of unexpected types ({exc}); check the file"
            raise SpecrecError(message) from exc
    return frame


def require_columns(frame: pl.DataFrame | pl.LazyFrame, needed: dict[str, str], where: str) -> None:
    """`needed` maps a role (user, item, ...) to the column name it must find in `frame`."""
    have = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    for role, name in needed.items():
        if name not in have:
            raise SpecrecError(
                f"{where} lacks column '{name}' (the {role} column); columns are: "
                f"{', '.join(have)}; fix it with --column {role}=NAME"
            )


def to_seconds(column: pl.Series, where: str) -> pl.Series:
    """Timestamps as int64 seconds UTC from integers, floats, numeric or date-time strings."""
    dtype = column.dtype
    if dtype == pl.String:
        numeric = column.cast(pl.Float64, strict=False)
        if numeric.null_count() == column.null_count():
            column, dtype = numeric, pl.Float64
        else:
            parsed = column.str.to_datetime(strict=False, time_zone="UTC")
            if parsed.null_count() != column.null_count():
                bad = column.filter(parsed.is_null() & column.is_not_null())[0]
                raise SpecrecError(
                    f"{where}: time value '{bad}' is neither a number nor a date-time"
                )
            return parsed.dt.epoch("s").cast(pl.Int64)
    if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        return column.dt.epoch("s").cast(pl.Int64)
    if dtype.is_float():
        if not column.drop_nulls().is_finite().all():
            raise SpecrecError(f"{where}: time column holds NaN or infinite values; clean the file")
        return column.floor().cast(pl.Int64)
    if dtype.is_integer():
        return column.cast(pl.Int64)
    raise SpecrecError(f"{where}: time column has type {dtype}; it must be numbers or date-times")


def to_float(column: pl.Series, where: str) -> pl.Series:
    """Ratings as float64; a value that is not a number is an error."""
    numeric = column.cast(pl.Float64, strict=False)
    if numeric.null_count() != column.null_count():
        bad = column.filter(numeric.is_null() & column.is_not_null())[0]
        raise SpecrecError(f"{where}: rating value '{bad}' is not a number")
    return numeric


def to_text(column: pl.Series) -> pl.Series:
    """Any metadata column as strings; lists are joined with ', ', missing values stay null."""
    if isinstance(column.dtype, pl.List):
        return column.list.eval(pl.element().cast(pl.String)).list.join(", ").replace("", None)
    if column.dtype.is_float():
        column = column.fill_nan(None)
    return column.cast(pl.String)


def join_text(value: Any, separator: str = ", ", *, unique: bool = True) -> str | None:
    """A metadata value (str, number, list, nested lists, dict) as one string; None if empty.
    A repeated part is written once unless `unique` is False."""
    parts: list[str] = []

    def walk(item: Any) -> None:
        if item is None:
            return
        if isinstance(item, dict):
            for key, inner in item.items():
                text = join_text(inner, unique=unique)
                if text:
                    parts.append(f"{key}: {text}")
        elif isinstance(item, (list, tuple)):
            for inner in item:
                walk(inner)
        elif isinstance(item, float) and item != item:
            return
        else:
            text = str(item).strip()
            if text and text not in MISSING_TEXT and (not unique or text not in parts):
                parts.append(text)

    walk(value)
    return separator.join(parts) or None


def wrap_read_errors(path: Path, read: Callable[[], pl.DataFrame]) -> pl.DataFrame:
    """Run a polars reader; its parse errors become a one-line SpecrecError naming the file."""
    try:
        return read()
    except SpecrecError:
        raise
    except Exception as exc:  # polars raises ComputeError, NoDataError, ShapeError...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecrecError(f"cannot read '{path}' ({first}); check its format") from exc


def labelled_template(columns: list[str]) -> str:
    """A generic template naming each metadata column: '[a: {a}][; b: {b}]'."""
    names = [metadata_name(name) for name in columns]
    return "".join(f"[{'; ' if i else ''}{name}: {{{name}}}]" for i, name in enumerate(names))
