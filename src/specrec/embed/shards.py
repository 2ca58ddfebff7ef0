"""Batch order and multi-GPU sharding as pure functions (ranks and groups: `specrec.devices`).

Items are sorted by text length (longest first, ties by index); rank r of W embeds the sorted
positions r, r+W, r+2W, ... so every rank gets the same mix of lengths; rank 0 merges by index.
"""

from __future__ import annotations

import numpy as np


def length_order(texts: list[str]) -> np.ndarray:
    """Item indices 1..N sorted by text length, longest first; equal lengths keep index order."""
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
    return np.argsort(-lengths, kind="stable").astype(np.int64) + 1


def shard(order: np.ndarray, rank: int, world: int) -> np.ndarray:
    """The items rank `rank` of `world` embeds: a stride through the length-sorted order."""
    return order[rank::world]


def batches(items: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive slices of `items` of `batch_size` (the last may be shorter)."""
    return [items[start : start + batch_size] for start in range(0, len(items), batch_size)]


def merge(order: np.ndarray, shard_rows: list[np.ndarray], out: np.ndarray) -> np.ndarray:
    """Write each rank's rows (in its shard order) into `out[item_idx]`; row 0 stays as it is."""
    world = len(shard_rows)
    for rank, rows in enumerate(shard_rows):
        items = shard(order, rank, world)
        if len(rows) != len(items):
            raise ValueError(f"shard {rank} holds {len(rows)} rows, expected {len(items)}")
        if len(items):
            out[items] = rows
    return out
