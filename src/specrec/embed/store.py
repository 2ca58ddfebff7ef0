"""The embeddings artifact on disk: `embeddings.h5` (`/embeddings [N+1, D]`, `/item_id`, attrs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from specrec.artifacts import Meta, read_meta
from specrec.embed.mapped import map_rows
from specrec.errors import SpecrecError

EMBEDDINGS_FILE = "embeddings.h5"


@dataclass
class EmbeddingsFile:
    """An opened, validated embeddings artifact; arrays are read lazily from the HDF5 file."""

    path: Path
    meta: Meta
    n_items: int  # N (rows are N + 1 with row 0 padding)
    dim: int
    attrs: dict

    @property
    def h5_path(self) -> Path:
        return self.path / EMBEDDINGS_FILE

    @property
    def items_fingerprint(self) -> str:
        return str(self.meta.items_fingerprint)

    def iter_rows(
        self,
        chunk_rows: int = 8192,
        dtype: type = np.float64,
        *,
        reuse: bool = False,
        check: bool = True,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield `(start, block)` blocks of rows 1..N (padding row skipped) as `dtype`, checked
        finite unless `check=False`. `reuse`: every block is a view of one buffer, overwritten by
        the next block (no fresh pages per block: much faster for large blocks; the caller must
        not keep a block).
        """
        with h5py.File(self.h5_path, "r") as f:
            data = f["embeddings"]
            buffer = np.empty((min(chunk_rows, self.n_items), self.dim), dtype=dtype)
            for start in range(1, self.n_items + 1, chunk_rows):
                stop = min(start + chunk_rows, self.n_items + 1)
                block = buffer[: stop - start] if reuse else np.empty_like(buffer[: stop - start])
                data.read_direct(block, np.s_[start:stop])
                if check:
                    _check_finite(block, self.path, start)
                yield start, block

    def iter_stored(
        self, chunk_rows: int = 8192, *, mapped: bool = True, check: bool = True
    ) -> Iterator[tuple[int, list[np.ndarray]]]:
        """Yield `(start, pieces)` for blocks of rows 1..N in the stored dtype, read-only and
        checked finite: `pieces` hold the block's rows in order. With `mapped` and an uncompressed
        file they are views of the file's pages (no copy; see `mapped.stored_runs`), released
        after each block; otherwise one piece read into a buffer reused from block to block.
        `check=False` skips the finite check (one pass over the rows): for callers that check
        what they compute from each block instead, and call `check_rows` when it is not finite.
        """
        rows = map_rows(self.h5_path, "embeddings") if mapped else None
        if rows is None:
            with h5py.File(self.h5_path, "r") as f:
                stored = f["embeddings"].dtype
            for start, block in self.iter_rows(chunk_rows, stored, reuse=True, check=check):
                block.flags.writeable = False  # a view: the buffer itself stays writable
                yield start, [block]
            return
        for start in range(1, self.n_items + 1, chunk_rows):
            stop = min(start + chunk_rows, self.n_items + 1)
            pieces = list(rows.pieces(start, stop))
            if check:
                self.check_rows(start, pieces)
            yield start, pieces
            del pieces
            rows.release(start, stop)

    def check_rows(self, start: int, pieces: list[np.ndarray]) -> None:
        """Raise the one-line error naming the first NaN/Inf row among consecutive `pieces` of
        rows from item index `start`."""
        for piece in pieces:
            _check_finite(piece, self.path, start)
            start += piece.shape[0]

    def load(self, dtype: type = np.float32) -> np.ndarray:
        """All rows `[N+1, D]` (row 0 zeros), checked finite."""
        with h5py.File(self.h5_path, "r") as f:
            array = np.asarray(f["embeddings"][...], dtype=dtype)
        _check_finite(array, self.path, 0)
        return array

    def item_ids(self) -> list[str]:
        """The raw item ids of rows 1..N (`/item_id` without the padding row's "")."""
        with h5py.File(self.h5_path, "r") as f:
            return list(f["item_id"].asstr()[1:])


def write_rows(path: Path, rows: np.ndarray, item_ids: list[str], attrs: dict, dtype: str) -> int:
    """Write `rows [N+1, D]` (row 0 zeros) as `/embeddings` in `dtype`, chunked by rows as the
    embed stage writes it, with `/item_id` ("" then `item_ids`) and `attrs`; returns D. Values
    beyond `dtype`'s range are refused."""
    n_rows, dim = rows.shape
    chunk_rows = int(max(1, min(n_rows, (1 << 20) // max(1, dim * np.dtype(dtype).itemsize))))
    with h5py.File(path, "w") as f:
        data = f.create_dataset(
            "embeddings", shape=(n_rows, dim), dtype=dtype, chunks=(chunk_rows, dim)
        )
        for start in range(0, n_rows, chunk_rows):
            with np.errstate(over="ignore"):
                block = rows[start : start + chunk_rows].astype(dtype)
            if not np.isfinite(block).all():
                raise SpecrecError(
                    f"embeddings overflow {dtype} (values beyond its range); use --dtype float32"
                )
            data[start : start + len(block)] = block
        f.create_dataset("item_id", data=[""] + list(item_ids), dtype=h5py.string_dtype("utf-8"))
        for name, value in attrs.items():
            f.attrs[name] = value
    return dim


def _check_finite(block: np.ndarray, path: Path, start: int) -> None:
    if np.isfinite(block.sum()):  # NaN and ±Inf reach the sum; cheap, no mask array
        return
    if not np.isfinite(block).all():
        bad = start + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
        raise SpecrecError(
            f"embeddings '{path}' contain NaN or Inf (first at item index {bad}); "
            "re-embed (e.g. --dtype float32) or fix the encoder"
        )


def open_embeddings(path: str | Path) -> EmbeddingsFile:
    """Open and validate an embeddings artifact (meta, HDF5 layout, row count vs item ids)."""
    path = Path(path)
    meta = read_meta(path, kind="embeddings", required=(EMBEDDINGS_FILE,))
    try:
        with h5py.File(path / EMBEDDINGS_FILE, "r") as f:
            if "embeddings" not in f or "item_id" not in f:
                raise SpecrecError(
                    f"'{path / EMBEDDINGS_FILE}' lacks /embeddings or /item_id; re-embed with --force"
                )
            rows, dim = f["embeddings"].shape
            attrs = {k: _plain(v) for k, v in f.attrs.items()}
            n_ids = f["item_id"].shape[0]
    except OSError as exc:
        raise SpecrecError(f"cannot read '{path / EMBEDDINGS_FILE}' ({exc}); re-embed with --force")
    if n_ids != rows or rows < 2:
        raise SpecrecError(f"'{path}': /embeddings has {rows} rows but /item_id has {n_ids}")
    if attrs.get("items_fingerprint", meta.items_fingerprint) != meta.items_fingerprint:
        raise SpecrecError(f"'{path}': HDF5 and meta.json disagree on the items fingerprint")
    return EmbeddingsFile(path=path, meta=meta, n_items=rows - 1, dim=dim, attrs=attrs)


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode()
    if hasattr(value, "item") and np.ndim(value) == 0:
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
