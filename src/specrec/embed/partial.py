"""Resumable embedding: completed batches of one shard persist in `<out>.partial/shard-R-of-W/`.

`rows.f32` holds the float32 rows of the completed batches back to back; `progress.json` (replaced
atomically after each append) says how many batches and rows are complete, how many of those rows
the latest process added, and under which key (the stage fingerprint). A different key wipes the
folder, so another config never reuses rows; a torn append past the recorded rows is cut off.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

ROWS_FILE = "rows.f32"
PROGRESS_FILE = "progress.json"


def partial_root(out: Path) -> Path:
    """Where the interrupted state of the artifact `out` lives (next to it, never inside it)."""
    return out.parent / f"{out.name}.partial"


class PartialRows:
    """Append-only store of one shard's completed batches (float32 rows, in batch order)."""

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = directory
        self.key = key
        progress = self._read_progress()
        if progress.get("key") != key:
            shutil.rmtree(directory, ignore_errors=True)
            progress = {}
        self.batches_done = int(progress.get("batches", 0))
        self.rows_done = int(progress.get("rows", 0))
        self.dim: int | None = progress.get("dim")
        self.new_rows = 0
        rows_path = directory / ROWS_FILE
        if rows_path.exists():
            with open(rows_path, "r+b") as handle:
                handle.truncate(self.rows_done * (self.dim or 0) * 4)
            self._write_progress()

    @classmethod
    def read_only(cls, directory: Path, key: str) -> PartialRows:
        """Open another rank's completed store without resetting its counters."""
        store = cls.__new__(cls)
        store.directory, store.key = directory, key
        progress = store._read_progress()
        if progress.get("key", key) != key:
            raise ValueError(f"'{directory}' holds rows of another configuration")
        store.batches_done = int(progress.get("batches", 0))
        store.rows_done = int(progress.get("rows", 0))
        store.dim, store.new_rows = progress.get("dim"), int(progress.get("new_rows", 0))
        return store

    def _read_progress(self) -> dict:
        try:
            return json.loads((self.directory / PROGRESS_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def append(self, block: np.ndarray) -> None:
        """Persist one completed batch (`[B, D]` float32), durably, then record it as done."""
        block = np.ascontiguousarray(block, dtype=np.float32)
        if self.dim is None:
            self.dim = int(block.shape[1])
        self.directory.mkdir(parents=True, exist_ok=True)
        rows_path = self.directory / ROWS_FILE
        with open(rows_path, "r+b" if rows_path.exists() else "wb") as handle:
            handle.seek(self.rows_done * self.dim * 4)
            handle.write(block.tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        self.batches_done += 1
        self.rows_done += int(block.shape[0])
        self.new_rows += int(block.shape[0])
        self._write_progress()

    def _write_progress(self) -> None:
        progress = {"key": self.key, "batches": self.batches_done, "rows": self.rows_done}
        progress.update(dim=self.dim, new_rows=self.new_rows)
        tmp = self.directory / (PROGRESS_FILE + ".part")
        tmp.write_text(json.dumps(progress))
        tmp.replace(self.directory / PROGRESS_FILE)

    def rows(self) -> np.ndarray:
        """All completed rows `[rows_done, D]`, memory-mapped read-only."""
        if not self.rows_done:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        return np.memmap(
            self.directory / ROWS_FILE, dtype=np.float32, mode="r", shape=(self.rows_done, self.dim)
        )
