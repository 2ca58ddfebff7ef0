"""load_dataset: the aligned fast path, the join fallback, and its one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from specrec.data.dataset import SPLIT_CODE, load_dataset
from specrec.errors import SpecrecError


@pytest.fixture
def copy(ml100k_dir, tmp_path) -> Path:
    out = tmp_path / "dataset"
    shutil.copytree(ml100k_dir, out)
    return out


def _rewrite(path: Path, name: str, change) -> None:
    file = path / f"{name}.parquet"
    change(pl.read_parquet(file)).write_parquet(file)


def _independent(path: Path) -> dict[int, list[tuple[int, int, int]]]:
    """(item, timestamp, split code) per user, from a plain dict walk over the parquet rows."""
    labels = {
        (u, p): s
        for u, p, s in pl.read_parquet(path / "splits.parquet")
        .select("user_idx", "position", "split")
        .iter_rows()
    }
    events: dict[int, list[tuple[int, int, int, int]]] = {}
    for u, i, t, p in (
        pl.read_parquet(path / "interactions.parquet")
        .select("user_idx", "item_idx", "timestamp", "position")
        .iter_rows()
    ):
        events.setdefault(u, []).append((p, i, t, SPLIT_CODE[labels[(u, p)]]))
    return {u: [row[1:] for row in sorted(rows)] for u, rows in events.items()}


def _as_dict(data) -> dict[int, list[tuple[int, int, int]]]:
    return {
        u: list(
            zip(
                data.items[data.offsets[u] : data.offsets[u + 1]].tolist(),
                data.timestamps[data.offsets[u] : data.offsets[u + 1]].tolist(),
                data.split[data.offsets[u] : data.offsets[u + 1]].tolist(),
            )
        )
        for u in range(1, data.n_users + 1)
    }


def test_aligned_files_load_without_a_join(ml100k_dir, monkeypatch):
    def no_join(*args, **kwargs):
        raise AssertionError("aligned files must not be joined")

    monkeypatch.setattr(pl.DataFrame, "join", no_join)
    data = load_dataset(ml100k_dir)
    assert data.n_users == 943 and len(data.items) == data.offsets[-1]
    assert _as_dict(data) == _independent(ml100k_dir)


def test_shuffled_rows_fall_back_to_the_join_and_load_the_same(ml100k_dir, copy):
    for name, seed in (("interactions", 1), ("splits", 2)):
        _rewrite(copy, name, lambda frame, seed=seed: frame.sample(fraction=1.0, shuffle=True, seed=seed))
    fast, joined = load_dataset(ml100k_dir), load_dataset(copy)
    np.testing.assert_array_equal(joined.offsets, fast.offsets)
    for field in ("items", "timestamps", "split"):
        np.testing.assert_array_equal(getattr(joined, field), getattr(fast, field))
    assert joined.split.dtype == np.int8 and joined.items.dtype == np.int32


@pytest.mark.parametrize(
    "name, change, message",
    [
        ("splits", lambda f: f.head(f.height - 1), "have no split label"),
        ("splits", lambda f: f.with_columns(pl.lit("holdout").alias("split")), "unknown label"),
        ("splits", lambda f: f.drop("split"), r"splits.parquet lacks column\(s\) \['split'\]"),
        ("items", lambda f: f.with_columns(pl.col("item_idx") + 1), "item_idx 1..N in order"),
        ("users", lambda f: f.head(10), "users outside users.parquet"),
    ],
)
def test_malformed_files_give_one_line_errors(copy, name, change, message):
    _rewrite(copy, name, change)
    with pytest.raises(SpecrecError, match=message) as error:
        load_dataset(copy)
    assert "\n" not in str(error.value)


def test_a_corrupt_file_is_named(copy):
    (copy / "interactions.parquet").write_bytes(b"not parquet")
    with pytest.raises(SpecrecError, match="unreadable parquet file.*rerun preprocess"):
        load_dataset(copy)
