"""The tiny raw sample the source tests write in each real format, and what it must become."""

from __future__ import annotations

import gzip
from pathlib import Path

BASE = 881_250_000
# (user, item, rating, seconds) in raw file order. With min_user = min_item = 2 the k-core needs
# 3 passes: u4 goes (1 event), then i4 (1 left), then u3 (1 left). Survivors: rows 0-5.
SAMPLE = [
    ("u1", "i3", 5.0, BASE + 100),
    ("u2", "i1", 4.0, BASE + 90),
    ("u1", "i1", 3.0, BASE + 100),  # ties with row 0: file order puts i3 first
    ("u1", "i2", 4.0, BASE + 50),
    ("u2", "i2", 2.0, BASE + 95),
    ("u2", "i3", 5.0, BASE + 95),  # ties with row 4: i2 (index 3) before i3 (index 1)
    ("u3", "i3", 1.0, BASE + 10),
    ("u3", "i4", 3.0, BASE + 20),
    ("u4", "i4", 4.0, BASE + 30),
]
# Item index by first appearance among survivors: i3 -> 1, i1 -> 2, i2 -> 3.
EXPECTED_ITEM_IDS = ["i3", "i1", "i2"]
EXPECTED_USER_IDS = ["u1", "u2"]
EXPECTED_SEQUENCES = [
    [3, 1, 2],
    [2, 3, 1],
]  # u1: i2 (t50), i3, i1 (tie, file order); u2: i1, i2, i3
EXPECTED_PASSES = 3
# Item metadata: i2 lacks its brand/year, i1 has no metadata at all in some formats.
TITLES = {"i1": "Alpha", "i2": "Beta", "i3": "Gamma", "i4": "Delta"}


def write_text(path: Path, text: str, *, gz: bool = False, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wt", encoding=encoding) as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding=encoding)
    return path


def sequences(dataset) -> list[list[int]]:
    """Per-user item sequences of a loaded SequenceData, users 1..U."""
    return [
        dataset.items[dataset.offsets[u] : dataset.offsets[u + 1]].tolist()
        for u in range(1, dataset.n_users + 1)
    ]


def numeric(raw_id: str) -> str:
    """'u3' -> '3' for formats whose ids are numbers (MovieLens)."""
    return raw_id[1:]


def build_sample(source: str, paths: list[Path], out: Path, **options):
    """Preprocess with 2-core (the sample's setting) and load the result."""
    from specrec.data.dataset import load_dataset
    from specrec.data.preprocess import preprocess

    options = {"min_user": 2, "min_item": 2, **options}
    meta = preprocess(source=source, paths=paths, out=out, **options)
    return meta, load_dataset(out)


def assert_sample_result(meta, dataset, *, item_ids=EXPECTED_ITEM_IDS, user_ids=EXPECTED_USER_IDS):
    """The sample's survivors, ids by first appearance, tie order and the 3 k-core passes."""
    import polars as pl

    assert meta.stats["filtering_passes"] == EXPECTED_PASSES
    assert meta.stats["removed_per_pass"] == [1, 1, 1]
    assert (meta.stats["users"], meta.stats["items"], meta.stats["interactions"]) == (2, 3, 6)
    assert dataset.item_ids[1:] == list(item_ids)
    assert pl.read_parquet(dataset.path / "users.parquet")["user_id"].to_list() == list(user_ids)
    assert sequences(dataset) == EXPECTED_SEQUENCES
    assert meta.stats["splits"] == {"train": 2, "valid": 2, "test": 2, "context": 0}


def item_texts(dataset) -> dict[str, str]:
    import polars as pl

    items = pl.read_parquet(dataset.path / "items.parquet")
    return dict(zip(items["item_id"].to_list(), items["text"].to_list(), strict=True))
