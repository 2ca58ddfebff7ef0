"""Batch order and multi-GPU sharding as pure functions, plus the few torch.distributed calls.

Items are sorted by text length (longest first, ties by index); rank r of W embeds the sorted
positions r, r+W, r+2W, ... so every rank gets the same mix of lengths; rank 0 merges by index.
"""

from __future__ import annotations

import os
from datetime import timedelta

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


def world() -> tuple[int, int, int]:
    """`(rank, world_size, local_rank)` from the torchrun environment; (0, 1, 0) otherwise."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
        int(os.environ.get("LOCAL_RANK", 0)),
    )


_started_group = False


def barrier(world_size: int) -> None:
    """Wait for every rank (a gloo group is started on first use; no-op when single-process)."""
    global _started_group
    if world_size <= 1:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo", timeout=timedelta(hours=12))
        _started_group = True
    dist.barrier()


def finish() -> None:
    """Close the process group if `barrier` started it (a caller's own group is left alone)."""
    global _started_group
    if _started_group:
        import torch.distributed as dist

        dist.destroy_process_group()
        _started_group = False
