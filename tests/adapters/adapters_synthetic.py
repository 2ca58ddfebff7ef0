"""Synthetic inputs for the adapter tests: anisotropic embeddings, ids as `write_sequences`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from specrec.testing import synthetic

N_ITEMS, DIM, K = 30, 24, 8
ADAPTERS = ("morec", "alpharec", "unisrec", "whitenrec", "llmemb", "spectran", "rlmrec",
            "whitenrec-plus", "llmesr")
ITEM_IDS = [f"i{j}" for j in range(1, N_ITEMS + 1)]  # the ids `write_sequences` gives items 1..N


def anisotropic(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Rows with a decaying spectrum σᵢ ∝ 1/i in a random basis plus a large common mean."""
    return synthetic.anisotropic(n, d, seed=seed, decay=1.0, offset=2.0)


def write_embeddings(path: Path, matrix: np.ndarray, ids: list[str] = ITEM_IDS) -> Path:
    """An embeddings artifact (DESIGN §4) holding `matrix` as rows 1..N; returns the path."""
    synthetic.write_embeddings(path, matrix, list(ids))
    return path
