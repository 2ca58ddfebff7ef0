"""Fixtures for transform tests: small synthetic artifacts, streamed in many small blocks."""

from __future__ import annotations

import numpy as np
import pytest
from transform_synthetic import anisotropic, item_ids, write_dataset, write_embeddings

from specrec.transform import gram, spectral

N_ITEMS, DIM = 150, 24


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """16-row blocks, so every streamed pass really runs over many chunks."""
    monkeypatch.setattr(spectral, "CHUNK_BYTES", 1)
    monkeypatch.setattr(gram, "GRAM_BLOCK_BYTES", 1)


@pytest.fixture(scope="session")
def matrix() -> np.ndarray:
    return anisotropic(N_ITEMS, DIM, seed=7)


@pytest.fixture(scope="session")
def emb_path(tmp_path_factory, matrix):
    return write_embeddings(tmp_path_factory.mktemp("emb") / "emb", matrix)


@pytest.fixture(scope="session")
def dataset_path(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data") / "data", item_ids(N_ITEMS))


@pytest.fixture()
def make_embeddings(tmp_path):
    """Write any matrix as an embeddings artifact under tmp_path."""
    counter = iter(range(1000))

    def make(matrix: np.ndarray, ids: list[str] | None = None):
        return write_embeddings(tmp_path / f"emb{next(counter)}", matrix, ids)

    return make
