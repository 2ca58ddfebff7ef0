"""Synthetic inputs for the adapter tests: anisotropic embeddings, ids as `write_sequences`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np

from specrec.artifacts import build_artifact, items_fingerprint

N_ITEMS, DIM, K = 30, 24, 8
ADAPTERS = ("morec", "alpharec", "unisrec", "whitenrec", "llmemb", "spectran", "rlmrec")
ITEM_IDS = [f"i{j}" for j in range(1, N_ITEMS + 1)]  # the ids `write_sequences` gives items 1..N


def anisotropic(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Rows with a decaying spectrum σᵢ ∝ 1/i in a random basis plus a large common mean."""
    rng = np.random.default_rng(seed)
    r = min(n, d)
    basis, _ = np.linalg.qr(rng.standard_normal((d, r)))
    scores = rng.standard_normal((n, r)) / (1.0 + np.arange(r))
    mean = rng.standard_normal(d)
    matrix = scores @ basis.T + 2.0 * mean / np.linalg.norm(mean)
    return matrix.astype(np.float32).astype(np.float64)


def write_embeddings(path: Path, matrix: np.ndarray, ids: list[str] = ITEM_IDS) -> Path:
    """An embeddings artifact (DESIGN §4) holding `matrix` as rows 1..N."""
    rows = np.vstack([np.zeros((1, matrix.shape[1])), matrix]).astype(np.float32)
    fingerprint = items_fingerprint(ids)

    def build(tmp: Path) -> dict:
        with h5py.File(tmp / "embeddings.h5", "w") as f:
            f.create_dataset("embeddings", data=rows)
            f.create_dataset("item_id", data=[""] + list(ids), dtype=h5py.string_dtype())
            f.attrs.update(
                {
                    "encoder": "synthetic",
                    "pooling": "mean",
                    "normalized": False,
                    "dtype": "float32",
                    "items_fingerprint": fingerprint,
                }
            )
        return {}

    config = {"digest": hashlib.sha256(rows.tobytes()).hexdigest()}
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
