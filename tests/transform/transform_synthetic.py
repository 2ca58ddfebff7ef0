"""Synthetic artifacts for transform tests: anisotropic embeddings and a tiny matching dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from specrec.artifacts import build_artifact, items_fingerprint
from specrec.testing import synthetic
from specrec.testing.synthetic import anisotropic

__all__ = ["anisotropic", "item_ids", "write_dataset", "write_embeddings"]


def item_ids(n: int, prefix: str = "item") -> list[str]:
    return [f"{prefix}{i}" for i in range(1, n + 1)]


def write_embeddings(path: Path, matrix: np.ndarray, ids: list[str] | None = None) -> Path:
    """`synthetic.write_embeddings` with ids item1..itemN by default; returns the path."""
    synthetic.write_embeddings(path, matrix, ids or item_ids(len(matrix)))
    return path


def write_dataset(path: Path, ids: list[str], *, n_users: int = 40, seed: int = 0) -> Path:
    """A dataset artifact with Zipf-popular items and leave-one-out splits (DESIGN §3)."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    weights = 1.0 / (1.0 + np.arange(n))
    order = rng.permutation(n)  # popularity rank is not the item index
    popularity = np.empty(n)
    popularity[order] = weights
    popularity /= popularity.sum()
    rows, splits = [], []
    for user in range(1, n_users + 1):
        length = int(rng.integers(5, 12))
        items = rng.choice(n, size=length, p=popularity) + 1
        for position, item in enumerate(items):
            rows.append((user, int(item), 1_000_000 + 60 * position, position))
            label = (
                "test" if position == length - 1 else "valid" if position == length - 2 else "train"
            )
            splits.append((user, position, label))

    def build(tmp: Path) -> dict:
        pl.DataFrame(
            rows,
            schema={
                "user_idx": pl.Int32,
                "item_idx": pl.Int32,
                "timestamp": pl.Int64,
                "position": pl.Int32,
            },
            orient="row",
        ).write_parquet(tmp / "interactions.parquet")
        pl.DataFrame(
            {
                "item_idx": np.arange(1, n + 1, dtype=np.int32),
                "item_id": ids,
                "text": [f"text of {i}" for i in ids],
            }
        ).write_parquet(tmp / "items.parquet")
        pl.DataFrame(
            {
                "user_idx": np.arange(1, n_users + 1, dtype=np.int32),
                "user_id": [f"u{u}" for u in range(1, n_users + 1)],
            }
        ).write_parquet(tmp / "users.parquet")
        pl.DataFrame(
            splits,
            schema={"user_idx": pl.Int32, "position": pl.Int32, "split": pl.Utf8},
            orient="row",
        ).write_parquet(tmp / "splits.parquet")
        return {"users": n_users, "items": n, "interactions": len(rows)}

    build_artifact(
        path,
        kind="dataset",
        config={"synthetic": seed, "items": n},
        inputs={},
        items_fp=items_fingerprint(ids),
        build=build,
        force=True,
    )
    return path
