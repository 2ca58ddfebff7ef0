"""Zero-copy row views of an HDF5 matrix stored uncompressed: its runs of rows mapped from the file."""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import h5py
import numpy as np


@dataclass(frozen=True)
class Run:
    """Rows `first .. first + rows − 1` of the matrix, stored back to back from byte `offset`."""

    first: int
    rows: int
    offset: int


def stored_runs(path: Path, name: str) -> list[Run] | None:
    """The maximal runs of consecutive rows that dataset `name` stores back to back, covering all
    its rows in order; None when its bytes cannot be mapped as they are: filters (compression),
    a non-native byte order or non-float dtype, a user block, chunks that split rows, chunks not
    yet written (fill values), or a layout other than contiguous or chunked."""
    with h5py.File(path, "r") as f:
        return _runs(f, f[name])


def _runs(f: h5py.File, data: h5py.Dataset) -> list[Run] | None:
    if data.ndim != 2 or data.dtype.kind != "f" or not data.dtype.isnative:
        return None
    if f.userblock_size != 0 or data.id.get_create_plist().get_nfilters() != 0:
        return None
    n_rows, dim = data.shape
    row_bytes = dim * data.dtype.itemsize
    layout = data.id.get_create_plist().get_layout()
    if layout == h5py.h5d.CONTIGUOUS:
        offset = data.id.get_offset()
        return None if offset is None else [Run(0, n_rows, offset)]
    if layout != h5py.h5d.CHUNKED or data.chunks[1] != dim:
        return None
    chunk_rows = data.chunks[0]
    chunks = _chunk_offsets(data)
    if len(chunks) != -(-n_rows // chunk_rows):
        return None
    runs: list[Run] = []
    for first, offset in sorted(chunks):
        rows = min(chunk_rows, n_rows - first)
        last = runs[-1] if runs else None
        if last and last.first + last.rows == first and last.offset + last.rows * row_bytes == offset:
            runs[-1] = Run(last.first, last.rows + rows, last.offset)
        else:
            runs.append(Run(first, rows, offset))
    covered = 0
    for run in runs:
        if run.first != covered:
            return None
        covered += run.rows
    return runs


def map_rows(path: Path, name: str) -> MappedRows | None:
    """`MappedRows` of dataset `name`, or None when its bytes cannot be mapped as they are
    (`stored_runs`) or the file system refuses a memory map: the caller reads through HDF5."""
    with h5py.File(path, "r") as f:
        data = f[name]
        runs, dtype, dim = _runs(f, data), data.dtype, data.shape[-1]
    if runs is None:
        return None
    try:
        return MappedRows(path, dtype, dim, runs)
    except (OSError, ValueError):  # e.g. a file system without mmap
        return None


def _chunk_offsets(data: h5py.Dataset) -> list[tuple[int, int]]:
    """(first row, byte offset) of every written chunk, by HDF5's chunk iterator where it has one."""
    found: list[tuple[int, int]] = []
    if hasattr(data.id, "chunk_iter"):
        data.id.chunk_iter(lambda info: found.append((info.chunk_offset[0], info.byte_offset)))
        return found
    for index in range(data.id.get_num_chunks()):
        info = data.id.get_chunk_info(index)
        found.append((info.chunk_offset[0], info.byte_offset))
    return found


class MappedRows:
    """Read-only views of rows of a dataset whose runs `stored_runs` found, straight from the
    page cache (no copy). `release(first, stop)` drops those rows' pages from this process's
    mapping once a caller is done with them, so the resident set stays about one block."""

    def __init__(self, path: Path, dtype: np.dtype, dim: int, runs: list[Run]) -> None:
        self.dtype, self.dim, self.runs = np.dtype(dtype), dim, runs
        self.row_bytes = dim * self.dtype.itemsize
        with open(path, "rb") as handle:
            self.map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)

    def pieces(self, first: int, stop: int) -> Iterator[np.ndarray]:
        """Views of rows first..stop−1 in order: one per run they cross."""
        for run in self.runs:
            lo, hi = max(first, run.first), min(stop, run.first + run.rows)
            if lo >= hi:
                continue
            offset = run.offset + (lo - run.first) * self.row_bytes
            flat = np.frombuffer(self.map, self.dtype, count=(hi - lo) * self.dim, offset=offset)
            yield flat.reshape(hi - lo, self.dim)

    def release(self, first: int, stop: int) -> None:
        """Drop the mapped pages of rows first..stop−1 (they stay in the page cache)."""
        if not hasattr(mmap, "MADV_DONTNEED"):
            return
        page = mmap.PAGESIZE
        for run in self.runs:
            lo, hi = max(first, run.first), min(stop, run.first + run.rows)
            if lo >= hi:
                continue
            begin = run.offset + (lo - run.first) * self.row_bytes
            end = run.offset + (hi - run.first) * self.row_bytes
            aligned = begin - begin % page
            self.map.madvise(mmap.MADV_DONTNEED, aligned, end - aligned)
