"""Fixtures for the adapter tests: embeddings, a learnable dataset, every adapter transformed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from adapters_synthetic import ADAPTERS, DIM, N_ITEMS, K, anisotropic, write_embeddings

from specrec.testing.synthetic import markov_sequences, write_sequences
from specrec.transform.transform import transform


@pytest.fixture(scope="session")
def matrix() -> np.ndarray:
    return anisotropic(N_ITEMS, DIM, seed=3)


@pytest.fixture(scope="session")
def emb_path(tmp_path_factory, matrix) -> Path:
    return write_embeddings(tmp_path_factory.mktemp("emb") / "emb", matrix)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "markov"
    write_sequences(path, markov_sequences(24, N_ITEMS, 8, seed=2), n_items=N_ITEMS)
    return path


@pytest.fixture(scope="session")
def tables(tmp_path_factory, emb_path, dataset) -> dict[str, Path]:
    """Every adapter transformed once with its defaults (k = 8)."""
    root = tmp_path_factory.mktemp("tables")
    for method in ADAPTERS:
        transform(
            method=method,
            embeddings=emb_path,
            out=root / method,
            dim=K,
            dataset=dataset,
            log=lambda message: None,
        )
    return {method: root / method for method in ADAPTERS}
