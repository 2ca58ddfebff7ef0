"""Fixtures of the plan tests: tiny input artifacts shared by the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest

from specrec.testing.pipeline import tiny_dataset, tiny_embeddings


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny `loo` dataset artifact and embeddings of its items (made once per session)."""
    root = tmp_path_factory.mktemp("plan-inputs")
    return {"data": tiny_dataset(root / "data"), "emb": tiny_embeddings(root / "emb")}
