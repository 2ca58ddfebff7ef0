"""Acceptance: the bundled ml-100k gives RecBole's 5-core counts, loo splits and clean item text."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from specrec.artifacts import items_fingerprint, read_meta
from specrec.data.dataset import load_dataset
from specrec.data.sources.ml100k import bundled_ml100k_dir


def test_ml100k_counts_and_loo_splits(ml100k_dir):
    dataset = load_dataset(ml100k_dir)
    assert (dataset.n_users, dataset.n_items, len(dataset.items)) == (943, 1349, 99_287)
    assert len(dataset.targets("valid")) == 943
    assert len(dataset.targets("test")) == 943
    assert int((dataset.split == 0).sum()) == 99_287 - 2 * 943
    assert len(dataset.targets("train")) == 96_458  # RecBole's number of training prefixes
    # every user's last event is test and the one before it valid
    last = dataset.offsets[2:] - 1
    assert (dataset.split[last] == 2).all() and (dataset.split[last - 1] == 1).all()
    stats = read_meta(ml100k_dir).stats
    assert stats["raw_interactions"] == 100_000 and stats["raw_items"] == 1682
    assert stats["filtering_passes"] == 1 and stats["removed_per_pass"] == [713]
    assert stats["text_coverage"] == 1.0


def test_ml100k_parquet_contract(ml100k_dir):
    inter = pl.read_parquet(ml100k_dir / "interactions.parquet")
    assert inter.schema == pl.Schema(
        {
            "user_idx": pl.Int32,
            "item_idx": pl.Int32,
            "timestamp": pl.Int64,
            "position": pl.Int32,
            "rating": pl.Float32,
        }
    )
    assert inter.equals(inter.sort(["user_idx", "position"]))
    assert inter["item_idx"].min() == 1 and inter["item_idx"].max() == 1349
    splits = pl.read_parquet(ml100k_dir / "splits.parquet")
    assert splits.schema == pl.Schema(
        {"user_idx": pl.Int32, "position": pl.Int32, "split": pl.String}
    )
    users = pl.read_parquet(ml100k_dir / "users.parquet")
    assert users["user_idx"].to_list() == list(range(1, 944))
    assert users["user_id"].head(3).to_list() == [
        "196",
        "186",
        "22",
    ]  # first appearance in the file
    items = pl.read_parquet(ml100k_dir / "items.parquet")
    assert items.columns == ["item_idx", "item_id", "text", "movie_title", "release_year", "class"]
    meta = read_meta(ml100k_dir)
    assert meta.items_fingerprint == items_fingerprint(items["item_id"].to_list())


def test_ml100k_order_is_time_then_file_order(ml100k_dir):
    """Reproduce the tie rule from the raw file: a stable sort of file rows by (user, timestamp)."""
    raw = pl.read_csv(bundled_ml100k_dir() / "ml-100k.inter", separator="\t", infer_schema=False)
    raw.columns = ["user", "item", "rating", "ts"]
    items = pl.read_parquet(ml100k_dir / "items.parquet")
    users = pl.read_parquet(ml100k_dir / "users.parquet")
    kept = raw.filter(pl.col("item").is_in(items["item_id"].implode()))
    user_idx = kept["user"].replace_strict(users["user_id"], users["user_idx"]).to_numpy()
    item_idx = kept["item"].replace_strict(items["item_id"], items["item_idx"]).to_numpy()
    ts = kept["ts"].cast(pl.Int64).to_numpy()
    order = np.lexsort((np.arange(len(ts)), ts, user_idx))
    inter = pl.read_parquet(ml100k_dir / "interactions.parquet")
    assert np.array_equal(inter["item_idx"].to_numpy(), item_idx[order])
    # ties are everywhere in ml-100k, so this checks the rule, not luck
    tied = inter.group_by(["user_idx", "timestamp"]).len().filter(pl.col("len") > 1)["len"].sum()
    assert round(tied / inter.height, 3) == 0.756


def test_ml100k_item_texts(ml100k_dir):
    items = pl.read_parquet(ml100k_dir / "items.parquet")
    text = dict(zip(items["item_id"].to_list(), items["text"].to_list(), strict=True))
    assert text["1"] == "Toy Story (1995). Genres: Animation Children's Comedy"
    assert text["242"] == "Kolya (1996). Genres: Comedy"
    assert text["1005"] == (
        "Double vie de Véronique, La (Double Life of Veronique, The) (1991). Genres: Drama"
    )
    assert items["text"].str.len_chars().min() > 5
    for bad in (r"\bNone\b", r"\bnan\b", r"\bnull\b", r"\(\)", r"\s\s", r"^\s", r"\s$"):
        assert not items["text"].str.contains(bad).any(), bad


def test_ml100k_config_records_options_and_file_hashes(ml100k_dir):
    config = read_meta(ml100k_dir).config
    assert config["min_user"] == 5 and config["min_item"] == 5 and config["protocol"] == "loo"
    assert config["rating_threshold"] is None and config["seed"] == 0
    assert config["text_template"] == "{movie_title}[ ({release_year})][. Genres: {class}]"
    inter_file = bundled_ml100k_dir() / "ml-100k.inter"
    digest = "sha256:" + hashlib.sha256(inter_file.read_bytes()).hexdigest()
    assert config["raw_files"]["interactions"]["sha256"] == digest
    assert set(config["raw_files"]) == {"interactions", "items"}
