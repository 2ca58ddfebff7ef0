"""`embed --from-file`: item vectors computed elsewhere (an API, a tool) -> embeddings artifact."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from specrec import __version__
from specrec.artifacts import Meta, check_output, claim_output, input_ref
from specrec.console import log as console_log
from specrec.data.preprocess import file_sha256
from specrec.embed.embed import STORAGE_DTYPES, read_items
from specrec.embed.store import EMBEDDINGS_FILE, open_embeddings, write_rows
from specrec.embed.vector_files import (
    FileNames, VectorFormat, VectorTable, default_ids_path, format_of, write_vector_file,
)  # fmt: skip
from specrec.errors import SpecrecError

ENCODER = "from-file"
CHECK_ROWS = 65536  # rows checked for NaN/Inf at a time
SHOWN_IDS = 3  # offending ids an error message names


def import_embeddings(
    *,
    dataset: Path,
    source: Path,
    out: Path,
    ids: Path | None = None,
    id_column: str | None = None,
    vector_column: str | None = None,
    normalize: bool = False,
    dtype: str = "float32",
    force: bool = False,
    log: Callable[[str], None] = console_log,
) -> Meta:
    """Import the vectors of `source` into the embeddings artifact `out` (the layout `embed`
    writes), row `i` being the vector whose raw id is item `i`'s `item_id` in `dataset`.

    Every row of the file must be valid (unique id, numbers, one length, finite); rows whose id
    is not in the dataset are ignored and counted; a dataset item without a row is an error.
    Vectors are stored as they are, cast to `dtype`; with `normalize`, each becomes v / ||v||_2.
    The fingerprint covers the source file's path, size and sha256, so a changed file rebuilds.
    """
    dataset, source, out = Path(dataset), Path(source), Path(out)
    if dtype not in STORAGE_DTYPES:
        raise SpecrecError(f"unknown --dtype '{dtype}'; choose one of: {', '.join(STORAGE_DTYPES)}")
    fmt = format_of(source)
    if not source.is_file():
        raise SpecrecError(f"vector file '{source}' does not exist (or is not a file); check it")
    names = _file_names(fmt, source, ids, id_column, vector_column)
    files = [source, *([names.ids_path] if names.ids_path else [])]
    check_output(out, "embeddings", [dataset, *files])  # before reading anything
    data_meta, item_ids, _ = read_items(dataset)
    config = {
        "encoder": ENCODER,
        "format": fmt.name,
        "source": _file_record(source),
        "ids_file": _file_record(names.ids_path) if names.ids_path else None,
        "id_column": names.id_column if fmt.columns else None,
        "vector_column": names.vector_column if fmt.columns else None,
        "normalize": normalize,
        "dtype": dtype,
    }
    inputs = {"dataset": input_ref(dataset, data_meta)}
    with claim_output(out, kind="embeddings", config=config, inputs=inputs, protect=files,
                      force=force, log=log) as claim:
        if claim.existing is not None:
            return claim.existing
        started = time.perf_counter()
        if config["source"]["size"] == 0:
            raise SpecrecError(f"vector file '{source}' is empty (0 bytes); export it again")
        table = fmt.read(source, names)
        rows = matched_rows(table, item_ids, source, normalize=normalize, dtype=dtype)
        ignored = len(table.ids) - len(item_ids)
        attrs = {
            "encoder": ENCODER,
            "model": config["source"]["path"],
            "revision": config["source"]["sha256"],
            "backend": f"file:{fmt.name}",
            "pooling": "",
            "padding_side": "",
            "max_length": 0,
            "prompt": "",
            "text_template": "",
            "normalized": normalize,
            "dtype": dtype,
            "compute_dtype": str(table.vectors.dtype),
            "items_fingerprint": str(data_meta.items_fingerprint),
            "specrec_version": __version__,
        }

        def build(tmp: Path) -> dict:
            dim = write_rows(tmp / EMBEDDINGS_FILE, rows, item_ids, attrs, dtype)
            return {
                "items": len(item_ids),
                "dim": dim,
                "seconds": round(time.perf_counter() - started, 3),
                "items_per_second": None,
                "format": fmt.name,
                "file_rows": len(table.ids),
                "ignored_rows": ignored,
            }

        meta = claim.write(build, data_meta.items_fingerprint)
    log(f"imported {len(item_ids)} items x {rows.shape[1]} from '{source}' ({fmt.name}); "
        f"{ignored} row(s) of the file with ids not in the dataset were ignored")
    return meta


def _file_names(
    fmt: VectorFormat, source: Path, ids: Path | None, id_column: str | None,
    vector_column: str | None,
) -> FileNames:
    """Where `source` keeps its ids; refuses the options its format does not take."""
    if ids is not None and fmt.name != "npy":
        raise SpecrecError(
            f"--ids is for .npy files only; '{source.name}' ({fmt.name}) holds its own ids"
        )
    if not fmt.columns and (id_column is not None or vector_column is not None):
        fixed = ("holds the arrays 'ids' and 'vectors'" if fmt.name == "npz" else
                 "takes its ids from --ids or the .ids.txt beside it")
        raise SpecrecError(
            f"--id-column/--vector-column are for .parquet and .jsonl files; '{source.name}' "
            f"{fixed}"
        )
    if fmt.name == "npy":
        ids_path = Path(ids) if ids is not None else default_ids_path(source)
        if ids is not None and not ids_path.is_file():
            raise SpecrecError(f"ids file '{ids}' does not exist (or is not a file); check --ids")
        if not ids_path.is_file():
            raise SpecrecError(
                f"'{source}' needs its item ids: pass --ids FILE.txt (one id per line, in row "
                f"order) or write them to '{default_ids_path(source)}'"
            )
        return FileNames(ids_path=ids_path)
    defaults = FileNames()
    return FileNames(id_column=id_column or defaults.id_column,
                     vector_column=vector_column or defaults.vector_column)


def _file_record(path: Path) -> dict:
    """What meta.json records of an input file: changing any byte of it changes the fingerprint."""
    return {"path": str(path.resolve()), "size": path.stat().st_size, "sha256": file_sha256(path)}


def _ids(names: list[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:SHOWN_IDS])
    return shown + (", ..." if len(names) > SHOWN_IDS else "")


def matched_rows(
    table: VectorTable, item_ids: list[str], source: Path, *, normalize: bool = False,
    dtype: str = "float32",
) -> np.ndarray:
    """The `[N+1, D]` rows in `dtype` (row 0 zeros; row i the vector of `item_ids[i-1]`, rounded
    once) of a validated `table`: refuses an empty table, duplicate ids, NaN/Inf anywhere in the
    file, a dataset item without a vector, values beyond `dtype` and, normalising, a zero vector."""
    if not table.ids:
        raise SpecrecError(f"vector file '{source}' holds no vectors; export the vectors again")
    row_of: dict[str, int] = {}
    for row, item_id in enumerate(table.ids):
        if item_id in row_of:
            raise SpecrecError(
                f"vector file '{source}': id {item_id!r} appears twice "
                f"({table.where(row_of[item_id])} and {table.where(row)}); keep one vector per item"
            )
        row_of[item_id] = row
    _check_finite(table, source)
    missing = [item_id for item_id in item_ids if item_id not in row_of]
    if missing:
        raise SpecrecError(
            f"vector file '{source}' lacks {len(missing)} of the dataset's {len(item_ids)} items "
            f"(ids {_ids(missing)}); add their vectors to the file"
        )
    vectors = np.asarray(table.vectors[np.array([row_of[i] for i in item_ids])])
    if normalize:
        vectors = _unit_rows(vectors.astype(np.float64), item_ids, source)
    rows = np.zeros((len(item_ids) + 1, vectors.shape[1]), dtype=dtype)
    with np.errstate(over="ignore"):
        rows[1:] = vectors
    beyond = ~np.isfinite(rows).all(axis=1)
    if beyond.any():
        item_id = item_ids[int(np.flatnonzero(beyond)[0]) - 1]
        raise SpecrecError(
            f"vector file '{source}': the vector of {item_id!r} ({table.where(row_of[item_id])}) "
            f"has values beyond {dtype}'s range; rescale the vectors or pass --normalize"
            + ("" if dtype == "float32" else " or --dtype float32")
        )
    return rows


def _check_finite(table: VectorTable, source: Path) -> None:
    if table.vectors.dtype.kind != "f":
        return
    for start in range(0, len(table.vectors), CHECK_ROWS):
        block = np.asarray(table.vectors[start : start + CHECK_ROWS])
        if np.isfinite(block.sum(dtype=np.float64)):  # NaN and ±Inf reach the sum
            continue
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            row = start + int(np.flatnonzero(bad)[0])
            raise SpecrecError(
                f"vector file '{source}': the vector of {table.ids[row]!r} ({table.where(row)}) "
                "holds NaN or Inf; fix or re-export that vector"
            )


def _unit_rows(vectors: np.ndarray, item_ids: list[str], source: Path) -> np.ndarray:
    """v / ||v||_2 row by row in float64, scaled by max |v| first so no square overflows."""
    scale = np.abs(vectors).max(axis=1)
    if not scale.all():
        item_id = item_ids[int(np.flatnonzero(scale == 0)[0])]
        raise SpecrecError(
            f"vector file '{source}': the vector of {item_id!r} is all zeros, which --normalize "
            "cannot scale to length 1; fix that vector or drop --normalize"
        )
    scaled = vectors / scale[:, None]
    return scaled / np.linalg.norm(scaled, axis=1, keepdims=True)


def export_embeddings(embeddings: Path, path: Path, names: FileNames = FileNames()) -> list[Path]:
    """Write the float32 rows 1..N of an embeddings artifact, with their raw item ids, to a vector
    file in the format `path`'s suffix names (see `write_vector_file`): what `--from-file` reads
    back bit for bit. Refuses to replace an existing file. Returns the files written."""
    path = Path(path)
    emb = open_embeddings(embeddings)
    ids_path = names.ids_path or default_ids_path(path)
    for target in [path, *([ids_path] if format_of(path).name == "npy" else [])]:
        if target.exists():
            raise SpecrecError(f"'{target}' already exists; choose a new file to export to")
    return write_vector_file(path, emb.item_ids(), emb.load(np.float32)[1:], names)
