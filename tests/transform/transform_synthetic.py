"""Synthetic artifacts for transform tests: anisotropic embeddings and a tiny matching dataset."""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
import polars as pl

from specrec.artifacts import build_artifact, items_fingerprint


def anisotropic(
    n: int,
    d: int,
    *,
    seed: int = 0,
    decay: float = 1.0,
    offset: float = 3.0,
    rank: int | None = None,
) -> np.ndarray:
    """n×d rows with a power-law spectrum σᵢ ∝ i^-decay in a random basis plus a common mean."""
    rng = np.random.default_rng(seed)
    r = rank or min(n, d)
    basis, _ = np.linalg.qr(rng.standard_normal((d, r)))
    scores = rng.standard_normal((n, r)) * (1.0 + np.arange(r)) ** -decay
    direction = rng.standard_normal(d)
    matrix = scores @ basis.T + offset * direction / np.linalg.norm(direction)
    return matrix.astype(np.float32).astype(np.float64)


def item_ids(n: int, prefix: str = "item") -> list[str]:
    return [f"{prefix}{i}" for i in range(1, n + 1)]


def write_embeddings(path: Path, matrix: np.ndarray, ids: list[str] | None = None) -> Path:
    """An embeddings artifact (DESIGN §4): /embeddings [N+1, D] float32, row 0 zeros, /item_id."""
    n, d = matrix.shape
    ids = ids or item_ids(n)
    fingerprint = items_fingerprint(ids)
    rows = np.vstack([np.zeros((1, d)), matrix]).astype(np.float32)

    def build(tmp: Path) -> dict:
        with h5py.File(tmp / "embeddings.h5", "w") as f:
            f.create_dataset("embeddings", data=rows, chunks=(min(32, n + 1), d))
            f.create_dataset("item_id", data=[""] + ids, dtype=h5py.string_dtype())
            attrs = {
                "encoder": "synthetic",
                "model": "synthetic",
                "revision": "",
                "pooling": "mean",
                "padding_side": "right",
                "max_length": 0,
                "prompt": "",
                "text_template": "",
                "normalized": False,
                "dtype": "float32",
                "items_fingerprint": fingerprint,
            }
            f.attrs.update(attrs)
        return {"items": n, "dim": d}

    digest = hashlib.sha256(rows.tobytes()).hexdigest()
    config = {"encoder": "synthetic", "digest": digest}
    build_artifact(
        path,
        kind="embeddings",
        config=config,
        inputs={},
        items_fp=fingerprint,
        build=build,
        force=True,
    )
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
