"""Write small synthetic dataset (DESIGN §3) and embeddings (§4) artifacts for tests and benches."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np
import polars as pl

from specrec.artifacts import Meta, build_artifact, items_fingerprint
from specrec.embed.store import EMBEDDINGS_FILE

EMBEDDINGS_ATTRS = {  # the DESIGN §4 attributes of a synthetic embeddings file (keywords override)
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
}
WRITE_ROWS = 8192  # rows converted to float32 and written at a time


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


def anisotropic(
    n: int,
    d: int,
    *,
    seed: int = 0,
    decay: float = 1.0,
    offset: float = 3.0,
    rank: int | None = None,
) -> np.ndarray:
    """n×d rows with a power-law spectrum σᵢ ∝ i^-decay in a random basis plus a common mean.

    E = S Bᵀ + offset·m/‖m‖, B a random orthonormal d×r basis, S_ij ~ N(0, 1)·j^-decay, rounded
    to float32 (returned as float64).
    """
    rng = np.random.default_rng(seed)
    r = rank or min(n, d)
    basis, _ = np.linalg.qr(rng.standard_normal((d, r)))
    scores = rng.standard_normal((n, r)) * (1.0 + np.arange(r)) ** -decay
    direction = rng.standard_normal(d)
    matrix = scores @ basis.T + offset * direction / np.linalg.norm(direction)
    return matrix.astype(np.float32).astype(np.float64)


def write_embeddings(
    out: Path,
    matrix: np.ndarray | Callable[[], np.ndarray],
    item_ids: list[str] | None = None,
    *,
    config: dict | None = None,
    force: bool = True,
    log: Callable[[str], None] | None = None,
    **attrs: Any,
) -> Meta:
    """An embeddings artifact (DESIGN §4) that `open_embeddings` accepts: `/embeddings [N+1, D]`
    float32 with row 0 zeros and `matrix` (N×D) as rows 1..N, `/item_id` ("" then `item_ids`,
    by default the ids `write_sequences` gives: i1..iN), `EMBEDDINGS_ATTRS` updated by `attrs`.

    Without `config` the artifact is identified by a digest of its float32 rows. `matrix` may
    also be a function that makes it, called only when the artifact is (re)built: pass it with
    `item_ids`, a `config` that identifies it and `force=False` to reuse a large one on disk.
    """
    if callable(matrix):
        if item_ids is None or config is None:
            raise ValueError("a matrix made on demand needs item_ids and config")
    else:
        item_ids = item_ids or [f"i{j}" for j in range(1, len(matrix) + 1)]
        config = config or {"encoder": "synthetic", "digest": _rows_digest(matrix)}
    fingerprint = items_fingerprint(item_ids)

    def build(tmp: Path) -> dict:
        rows = matrix() if callable(matrix) else matrix
        n, d = rows.shape
        with h5py.File(tmp / EMBEDDINGS_FILE, "w") as f:
            data = f.create_dataset(
                "embeddings", (n + 1, d), dtype=np.float32, chunks=(min(256, n + 1), d)
            )
            data[0] = 0.0
            for start in range(0, n, WRITE_ROWS):
                block = np.asarray(rows[start : start + WRITE_ROWS]).astype(np.float32)
                data[1 + start : 1 + start + len(block)] = block
            f.create_dataset("item_id", data=[""] + list(item_ids), dtype=h5py.string_dtype())
            f.attrs.update({**EMBEDDINGS_ATTRS, **attrs, "items_fingerprint": fingerprint})
        return {"items": n, "dim": d}

    return build_artifact(out, kind="embeddings", config=config, inputs={}, items_fp=fingerprint,
                          build=build, force=force, log=log)


def _rows_digest(matrix: np.ndarray) -> str:
    """sha256 (hex) of the float32 `[N+1, D]` rows as written: a zero row, then `matrix`."""
    digest = hashlib.sha256(np.zeros(matrix.shape[1], dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(matrix, dtype=np.float32).tobytes())
    return digest.hexdigest()
