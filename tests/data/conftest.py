"""Shared fixtures for the data tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ml100k_dir(tmp_path_factory) -> Path:
    """The bundled ml-100k preprocessed once with the defaults (5-core, loo)."""
    from specrec.data.preprocess import preprocess

    out = tmp_path_factory.mktemp("ml100k") / "dataset"
    preprocess(source="ml-100k", paths=[], out=out)
    return out
