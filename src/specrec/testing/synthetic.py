"""Write small synthetic dataset artifacts (DESIGN §3) for tests, examples and benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from specrec.artifacts import Meta, build_artifact, items_fingerprint


def write_sequences(
    out: Path, sequences: list[list[int]], n_items: int | None = None, protocol: str = "loo",
    item_ids: list[str] | None = None,
) -> Meta:
    """A dataset artifact from per-user item sequences (items 1..N); loo or all-train splits.

    `protocol="loo"`: last event test, second last valid, the rest train.
    `protocol="train"`: every event is a training event (for overfitting tests).
    """
    n_items = n_items or max(max(s) for s in sequences)
    item_ids = item_ids or [f"i{j}" for j in range(1, n_items + 1)]
    rows = [(u, item, 1_000 * pos, pos, len(seq))
            for u, seq in enumerate(sequences, start=1) for pos, item in enumerate(seq)]
    user, item, ts, pos, length = (np.array(c) for c in zip(*rows))
    if protocol == "loo":
        split = np.where(pos == length - 1, "test", np.where(pos == length - 2, "valid", "train"))
    else:
        split = np.full(len(pos), "train")

    def build(tmp: Path) -> dict:
        pl.DataFrame({"user_idx": user.astype(np.int32), "item_idx": item.astype(np.int32),
                      "timestamp": ts.astype(np.int64), "position": pos.astype(np.int32)}
                     ).write_parquet(tmp / "interactions.parquet")
        pl.DataFrame({"item_idx": np.arange(1, n_items + 1, dtype=np.int32), "item_id": item_ids,
                      "text": [f"item {i}" for i in item_ids]}).write_parquet(tmp / "items.parquet")
        pl.DataFrame({"user_idx": np.arange(1, len(sequences) + 1, dtype=np.int32),
                      "user_id": [f"u{u}" for u in range(1, len(sequences) + 1)]}
                     ).write_parquet(tmp / "users.parquet")
        pl.DataFrame({"user_idx": user.astype(np.int32), "position": pos.astype(np.int32),
                      "split": split}).write_parquet(tmp / "splits.parquet")
        return {"users": len(sequences), "items": n_items, "interactions": len(rows)}

    return build_artifact(out, kind="dataset", config={"protocol": protocol, "synthetic": True},
                          inputs={}, items_fp=items_fingerprint(item_ids), build=build, force=True)


def markov_sequences(n_users: int, n_items: int, length: int, seed: int = 0) -> list[list[int]]:
    """Sequences where item j is usually followed by j+1: a learnable next-item signal."""
    rng = np.random.default_rng(seed)
    sequences = []
    for _ in range(n_users):
        start = int(rng.integers(1, n_items + 1))
        seq = [(start + step - 1) % n_items + 1 for step in range(length)]
        noise = rng.random(length) < 0.1
        seq = [int(rng.integers(1, n_items + 1)) if flip else item for item, flip in zip(seq, noise)]
        sequences.append(seq)
    return sequences
