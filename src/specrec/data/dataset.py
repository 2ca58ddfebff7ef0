"""Read a dataset artifact into per-user sequences (CSR arrays) with its split labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from specrec.artifacts import Meta, read_meta
from specrec.errors import SpecrecError

DATASET_FILES = ("interactions.parquet", "items.parquet", "users.parquet", "splits.parquet")
SPLITS = ("train", "valid", "test", "context")
"""Split labels of events. `context` events are input history only, never a target."""
SPLIT_CODE = {name: code for code, name in enumerate(SPLITS)}


@dataclass
class SequenceData:
    """All users' item sequences in CSR form; user u's events are `items[offsets[u]:offsets[u+1]]`.

    Users are 1..n_users, items 1..n_items; index 0 is padding everywhere (user 0 is empty).
    """

    path: Path
    meta: Meta
    n_users: int
    n_items: int
    offsets: np.ndarray  # int64 [n_users + 2]
    items: np.ndarray  # int32 [n_events]
    timestamps: np.ndarray  # int64 [n_events]
    split: np.ndarray  # int8 [n_events], codes of SPLITS
    item_ids: list[str]  # [n_items + 1], "" at 0

    @property
    def items_fingerprint(self) -> str:
        return str(self.meta.items_fingerprint)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def targets(self, split: str) -> np.ndarray:
        """Global event indices that are targets of `split` (train targets need >= 1 earlier item)."""
        code = SPLIT_CODE[split]
        idx = np.flatnonzero(self.split == code)
        if split == "train":
            users = np.searchsorted(self.offsets, idx, side="right") - 1
            idx = idx[idx > self.offsets[users]]
        return idx

    def user_of(self, event_idx: np.ndarray) -> np.ndarray:
        return (np.searchsorted(self.offsets, event_idx, side="right") - 1).astype(np.int64)

    def histories(self, event_idx: np.ndarray, max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Right-padded histories (the <= max_len items before each event) and their lengths."""
        event_idx = np.asarray(event_idx, dtype=np.int64)
        starts = self.offsets[self.user_of(event_idx)]
        lengths = np.minimum(event_idx - starts, max_len)
        cols = np.arange(max_len)
        src = (event_idx - lengths)[:, None] + cols[None, :]
        valid = cols[None, :] < lengths[:, None]
        out = np.where(valid, self.items[np.where(valid, src, 0)], 0).astype(np.int64)
        return out, lengths.astype(np.int64)

    def history_timestamps(self, event_idx: np.ndarray, max_len: int) -> np.ndarray:
        """Timestamps aligned with `histories`, plus the target's own time in the column after."""
        event_idx = np.asarray(event_idx, dtype=np.int64)
        starts = self.offsets[self.user_of(event_idx)]
        lengths = np.minimum(event_idx - starts, max_len)
        cols = np.arange(max_len + 1)
        src = (event_idx - lengths)[:, None] + cols[None, :]
        valid = cols[None, :] <= lengths[:, None]
        return np.where(valid, self.timestamps[np.where(valid, src, 0)], 0).astype(np.int64)

    def popularity(self, split: str = "train") -> np.ndarray:
        """Interaction counts per item (index 0 = 0) over the events of `split`."""
        mask = self.split == SPLIT_CODE[split]
        return np.bincount(self.items[mask], minlength=self.n_items + 1).astype(np.int64)


def load_dataset(path: str | Path) -> SequenceData:
    """Load and validate a dataset artifact written by `specrec preprocess`."""
    path = Path(path)
    meta = read_meta(path, kind="dataset", required=DATASET_FILES)
    inter = _read(path, "interactions", ("user_idx", "item_idx", "timestamp", "position"))
    splits = _read(path, "splits", ("user_idx", "position", "split"))
    items = _read(path, "items", ("item_idx", "item_id"))
    n_users = _read(path, "users", ("user_idx",)).height
    n_items = items.height
    if not np.array_equal(items["item_idx"].to_numpy(), np.arange(1, n_items + 1)):
        raise SpecrecError(f"dataset '{path}': items.parquet must hold item_idx 1..N in order")
    user, position = (inter[name].to_numpy() for name in ("user_idx", "position"))
    if not (_aligned(user, position, splits) and _sorted(user, position)):
        inter = inter.join(splits, on=["user_idx", "position"], how="left").sort(
            ["user_idx", "position"]
        )
        splits, user = inter, inter["user_idx"].to_numpy()
    labels = splits["split"]
    if labels.null_count():
        raise SpecrecError(f"dataset '{path}': some interactions have no split label; rerun preprocess")
    unknown = labels.filter(~labels.is_in(SPLITS)).unique().to_list()
    if unknown:
        raise SpecrecError(
            f"dataset '{path}': splits.parquet has unknown label(s) {unknown[:3]}; rerun preprocess"
        )
    codes = labels.cast(pl.Enum(SPLITS)).to_physical().to_numpy().astype(np.int8)
    del labels, splits
    counts = np.bincount(user, minlength=n_users + 1)
    if len(counts) > n_users + 1 or (len(user) and user.min() < 1):
        raise SpecrecError(f"dataset '{path}': interactions name users outside users.parquet")
    offsets = np.zeros(n_users + 2, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)
    return SequenceData(
        path=path,
        meta=meta,
        n_users=n_users,
        n_items=n_items,
        offsets=offsets,
        items=np.asarray(inter["item_idx"].to_numpy(), dtype=np.int32),
        timestamps=np.asarray(inter["timestamp"].to_numpy(), dtype=np.int64),
        split=codes,
        item_ids=[""] + items["item_id"].cast(pl.Utf8).to_list(),
    )


def _read(path: Path, name: str, columns: tuple[str, ...]) -> pl.DataFrame:
    """The named columns of one of the dataset's parquet files, or a one-line error."""
    file = path / f"{name}.parquet"
    try:
        present = pl.read_parquet_schema(file)
        missing = [c for c in columns if c not in present]
        if missing:
            raise SpecrecError(f"dataset '{path}': {name}.parquet lacks column(s) {missing}")
        return pl.read_parquet(file, columns=list(columns))
    except SpecrecError:
        raise
    except Exception as exc:  # pyarrow/polars raise many types for corrupt files
        raise SpecrecError(f"dataset '{path}' has an unreadable parquet file ({exc}); rerun preprocess")


def _aligned(user: np.ndarray, position: np.ndarray, splits: pl.DataFrame) -> bool:
    """Whether splits.parquet labels the interactions row by row (preprocess writes it so)."""
    return splits.height == len(user) and bool(
        np.array_equal(splits["user_idx"].to_numpy(), user)
        and np.array_equal(splits["position"].to_numpy(), position)
    )


def _sorted(user: np.ndarray, position: np.ndarray) -> bool:
    """Whether the events are in (user, position) order, each pair once."""
    if len(user) < 2:
        return True
    step_user = np.diff(user.astype(np.int64))
    step_position = np.diff(position.astype(np.int64))
    return bool(np.all((step_user > 0) | ((step_user == 0) & (step_position > 0))))
