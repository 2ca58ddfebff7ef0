"""Files of precomputed item vectors (.npy + ids, .npz, Parquet, JSONL): a reader, a writer each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl

from specrec.errors import SpecrecError
from specrec.registry import Registry

DEFAULT_ID_COLUMN = "item_id"
DEFAULT_VECTOR_COLUMN = "embedding"
IDS_SUFFIX = ".ids.txt"
NPZ_IDS, NPZ_VECTORS = "ids", "vectors"


@dataclass
class VectorTable:
    """What a vector file holds: row `r` is the vector `vectors[r]` of the raw item id `ids[r]`.

    `vectors` is a numeric `[R, D]` array (for .npy a read-only memory map); `where(r)` names
    row `r` the way a user finds it in the file ("line 12", "row 11 (0-based)").
    """

    ids: list[str]
    vectors: np.ndarray
    where: Callable[[int], str]


@dataclass(frozen=True)
class FileNames:
    """Where a file keeps its ids: `ids_path` (.npy), or the keys `id_column`/`vector_column`
    of each Parquet row or JSONL object; a format ignores the fields it does not use."""

    ids_path: Path | None = None
    id_column: str = DEFAULT_ID_COLUMN
    vector_column: str = DEFAULT_VECTOR_COLUMN


@dataclass(frozen=True)
class VectorFormat:
    """One file format; `columns`: it takes --id-column/--vector-column (Parquet, JSONL)."""

    name: str
    columns: bool
    read: Callable[[Path, FileNames], VectorTable]
    write: Callable[[Path, list[str], np.ndarray, FileNames], list[Path]]


VECTOR_FORMATS: Registry[VectorFormat] = Registry("vector file format")


def format_of(path: Path) -> VectorFormat:
    """The format a file's suffix names (.npy, .npz, .parquet/.pq, .jsonl/.ndjson)."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in VECTOR_FORMATS:
        raise SpecrecError(
            f"cannot tell the format of '{path}' from its suffix '{path.suffix}'; save the vectors "
            "as .npy (with an ids file), .npz, .parquet or .jsonl"
        )
    return VECTOR_FORMATS.get(suffix)


def default_ids_path(path: Path) -> Path:
    """The ids file of a .npy file when --ids is not given: `vectors.npy` -> `vectors.ids.txt`."""
    return path.with_suffix(IDS_SUFFIX)


def _row(r: int) -> str:
    return f"row {r} (0-based)"


def _numeric(array: np.ndarray, path: Path, what: str) -> np.ndarray:
    if array.dtype.kind not in "fiu" or array.ndim != 2 or array.shape[1] == 0:
        raise SpecrecError(
            f"'{path}': {what} is {array.dtype} {array.shape}; it must be numbers [items, dim] "
            "with dim >= 1: store the vectors as a 2-D float array"
        )
    return array


def _load_numpy(path: Path, **kwargs) -> object:
    try:
        return np.load(path, allow_pickle=False, **kwargs)
    except (ValueError, OSError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fix = "save plain arrays, ids as np.array(ids, dtype=str)" if "pickle" in reason else (
            "export it again")
        raise SpecrecError(f"cannot read '{path}' as numpy ({reason}); {fix}") from None


def read_ids_file(path: Path) -> list[str]:
    """One raw item id per line (UTF-8; a final newline is optional; no empty lines)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise SpecrecError(f"cannot read the ids file '{path}' ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise SpecrecError(f"ids file '{path}' is not UTF-8 (byte {exc.start}); save it as UTF-8")
    ids = [line.removesuffix("\r") for line in text.split("\n")]
    if ids and ids[-1] == "":
        ids.pop()
    if "" in ids:
        raise SpecrecError(
            f"ids file '{path}': line {ids.index('') + 1} is empty; write one item id per line"
        )
    return ids


def _read_npy(path: Path, names: FileNames) -> VectorTable:
    vectors = _numeric(_load_numpy(path, mmap_mode="r"), path, "the array")
    ids_path = names.ids_path or default_ids_path(path)
    ids = read_ids_file(ids_path)
    if len(ids) != vectors.shape[0]:
        raise SpecrecError(
            f"ids file '{ids_path}' has {len(ids)} ids but '{path}' has {vectors.shape[0]} rows; "
            "write one id per row, in row order"
        )
    return VectorTable(ids, vectors, lambda r: f"{_row(r)}, line {r + 1} of '{ids_path.name}'")


def _write_npy(path: Path, ids: list[str], vectors: np.ndarray, names: FileNames) -> list[Path]:
    bad = [i for i in ids if not i or "\n" in i or "\r" in i]
    if bad:
        raise SpecrecError(f"item id {bad[0]!r} cannot be one line of an ids file; use .parquet")
    ids_path = names.ids_path or default_ids_path(path)
    np.save(path, np.ascontiguousarray(vectors))
    ids_path.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    return [path, ids_path]


def _ids_array(array: np.ndarray, path: Path, where: str) -> list[str]:
    if array.dtype.kind == "S":
        return [value.decode("utf-8") for value in array.tolist()]
    if array.dtype.kind not in "Uiu" or array.ndim != 1:
        raise SpecrecError(
            f"'{path}': {where} must be a 1-D array of strings or integers, got "
            f"{array.dtype} {array.shape}; save np.array(ids, dtype=str)"
        )
    return [str(value) for value in array.tolist()]


def _read_npz(path: Path, names: FileNames) -> VectorTable:
    with _load_numpy(path) as archive:
        missing = [name for name in (NPZ_IDS, NPZ_VECTORS) if name not in archive.files]
        if missing:
            raise SpecrecError(
                f"'{path}' lacks array(s) {missing} (has {archive.files}); save it with "
                f"np.savez(FILE, {NPZ_IDS}=ids, {NPZ_VECTORS}=vectors)"
            )
        vectors = _numeric(archive[NPZ_VECTORS], path, f"'{NPZ_VECTORS}'")
        ids = _ids_array(archive[NPZ_IDS], path, f"'{NPZ_IDS}'")
    if len(ids) != vectors.shape[0]:
        raise SpecrecError(
            f"'{path}': '{NPZ_IDS}' has {len(ids)} entries but '{NPZ_VECTORS}' has "
            f"{vectors.shape[0]} rows; save one id per row"
        )
    return VectorTable(ids, vectors, _row)


def _write_npz(path: Path, ids: list[str], vectors: np.ndarray, names: FileNames) -> list[Path]:
    np.savez(path, **{NPZ_IDS: np.array(ids, dtype=str), NPZ_VECTORS: vectors})
    return [path]


def _read_parquet(path: Path, names: FileNames) -> VectorTable:
    id_column, vector_column = names.id_column, names.vector_column
    try:
        schema = pl.read_parquet_schema(path)
        missing = [c for c in (id_column, vector_column) if c not in schema]
        if missing:
            raise SpecrecError(
                f"'{path}' has no column(s) {missing} (columns: {list(schema)}); name them with "
                "--id-column / --vector-column"
            )
        frame = pl.read_parquet(path, columns=[id_column, vector_column])
    except SpecrecError:
        raise
    except Exception as exc:  # pyarrow/polars raise many types for corrupt files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecrecError(f"cannot read '{path}' as Parquet ({reason}); export it again") from None
    ids, column = frame[id_column], frame[vector_column]
    if not (ids.dtype == pl.String or ids.dtype.is_integer()) or ids.null_count():
        raise SpecrecError(
            f"'{path}': column '{id_column}' must hold strings or integers without nulls "
            f"(dtype {ids.dtype}, {ids.null_count()} null); fix the ids or pass --id-column"
        )
    if isinstance(column.dtype, pl.Array):
        column = column.cast(pl.List(column.dtype.inner))
    if not isinstance(column.dtype, pl.List) or not column.dtype.inner.is_numeric():
        raise SpecrecError(
            f"'{path}': column '{vector_column}' is {column.dtype}, not a list of numbers; "
            "store each vector as a list of floats or pass --vector-column"
        )
    return VectorTable(ids.cast(pl.String).to_list(), _list_rows(column, path), _row)


def _list_rows(column: pl.Series, path: Path) -> np.ndarray:
    """The `[R, D]` array of a list column whose rows all have one length D and no nulls."""
    where = f"'{path}': column '{column.name}'"
    if column.null_count():
        row = int(column.is_null().arg_true()[0])
        raise SpecrecError(f"{where} is null in {_row(row)}; give every item a vector")
    lengths = column.list.len().to_numpy()
    if len(lengths) and lengths[0] == 0:
        raise SpecrecError(f"{where}: {_row(0)} is an empty list; store non-empty vectors")
    if len(lengths) and (lengths != lengths[0]).any():
        row = int(np.flatnonzero(lengths != lengths[0])[0])
        raise SpecrecError(
            f"{where}: {_row(row)} has {lengths[row]} values but row 0 has {lengths[0]}; every "
            "vector must have the same length"
        )
    flat = column.explode()
    if flat.null_count():
        row = int(flat.is_null().arg_true()[0]) // max(1, int(lengths[0]))
        raise SpecrecError(f"{where}: {_row(row)} holds a null value; give every value a number")
    return flat.to_numpy().reshape(len(column), int(lengths[0]) if len(lengths) else 0)


def _write_parquet(path: Path, ids: list[str], vectors: np.ndarray, names: FileNames) -> list[Path]:
    inner = pl.Float32 if vectors.dtype == np.float32 else pl.Float64
    column = pl.Series(names.vector_column, vectors).cast(pl.List(inner))
    pl.DataFrame([pl.Series(names.id_column, ids, dtype=pl.String), column]).write_parquet(path)
    return [path]


def _read_jsonl(path: Path, names: FileNames) -> VectorTable:
    ids: list[str] = []
    rows: list[np.ndarray] = []
    lines: list[int] = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                item_id, vector = _jsonl_record(line, f"'{path}' line {number}", names)
                if rows and len(vector) != len(rows[0]):
                    raise SpecrecError(
                        f"'{path}' line {number}: the vector has {len(vector)} values but line "
                        f"{lines[0]} has {len(rows[0])}; give every vector the same length"
                    )
                ids.append(item_id)
                rows.append(vector)
                lines.append(number)
    except UnicodeDecodeError as exc:
        raise SpecrecError(f"'{path}' is not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise SpecrecError(f"cannot read '{path}' ({exc.strerror or exc})") from None
    vectors = np.stack(rows) if rows else np.empty((0, 1))
    return VectorTable(ids, vectors, lambda r: f"line {lines[r]}")


def _jsonl_record(line: str, where: str, names: FileNames) -> tuple[str, np.ndarray]:
    """The id and vector of one JSONL line, or the one-line error that says what is wrong."""
    id_column, vector_column = names.id_column, names.vector_column
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SpecrecError(f"{where} is not valid JSON ({exc.msg}, column {exc.colno})") from None
    if not isinstance(record, dict) or id_column not in record or vector_column not in record:
        keys = list(record) if isinstance(record, dict) else type(record).__name__
        raise SpecrecError(
            f"{where} must be an object with '{id_column}' and '{vector_column}' (found {keys}); "
            "name the keys with --id-column / --vector-column"
        )
    item_id, values = record[id_column], record[vector_column]
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
        raise SpecrecError(f"{where}: '{id_column}' must be a string or integer, got {item_id!r}")
    try:
        vector = np.array(values) if isinstance(values, list) else np.empty(0, dtype=object)
    except (ValueError, OverflowError):  # nested lists of unequal lengths, huge integers
        vector = np.empty(0, dtype=object)
    if vector.ndim != 1 or vector.dtype.kind not in "fiu" or vector.size == 0:
        shown = json.dumps(values)
        raise SpecrecError(
            f"{where}: '{vector_column}' must be a non-empty list of numbers, got "
            f"{shown[:60] + '...' if len(shown) > 60 else shown}"
        )
    return str(item_id), vector.astype(np.float64, copy=False)


def _write_jsonl(path: Path, ids: list[str], vectors: np.ndarray, names: FileNames) -> list[Path]:
    with open(path, "w", encoding="utf-8") as handle:
        for item_id, vector in zip(ids, vectors):  # float32 -> shortest exact repr: bitwise back
            record = {names.id_column: item_id, names.vector_column: vector.tolist()}
            handle.write(json.dumps(record, allow_nan=False) + "\n")
    return [path]


VECTOR_FORMATS.register("npy")(VectorFormat("npy", False, _read_npy, _write_npy))
VECTOR_FORMATS.register("npz")(VectorFormat("npz", False, _read_npz, _write_npz))
VECTOR_FORMATS.register("parquet", "pq")(
    VectorFormat("parquet", True, _read_parquet, _write_parquet)
)
VECTOR_FORMATS.register("jsonl", "ndjson")(VectorFormat("jsonl", True, _read_jsonl, _write_jsonl))


def write_vector_file(
    path: Path, ids: list[str], vectors: np.ndarray, names: FileNames = FileNames()
) -> list[Path]:
    """Write `vectors[r]` for item id `ids[r]` in the format `path`'s suffix names (the layout
    `import_embeddings` reads back); a .npy also gets its ids file (`names.ids_path`, by
    default `default_ids_path`). Returns the files written."""
    return format_of(Path(path)).write(Path(path), ids, vectors, names)
