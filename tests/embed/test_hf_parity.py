"""The `hf` encoder: plain transformers over MiniLM reproduces sentence-transformers; when a
folder's own sentence-transformers pipeline runs; hub aliases resolved from a local cache."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from specrec.embed.embed import embed
from specrec.embed.encoders.resolve import resolve_encoder
from specrec.embed.store import open_embeddings
from specrec.errors import SpecrecError


def test_hf_mean_normalize_reproduces_sentence_transformers(
    tmp_path, tiny_dataset, minilm_dir, item_texts
):
    from sentence_transformers import SentenceTransformer

    meta = embed(
        dataset=tiny_dataset, encoder="hf", out=tmp_path / "e", model=str(minilm_dir),
        pooling="mean", normalize=True, batch_size=4, device="cpu",
    )  # fmt: skip
    assert meta.config["backend"] == "transformers"
    vectors = open_embeddings(tmp_path / "e").load()[1:]
    reference = SentenceTransformer(str(minilm_dir), device="cpu").encode(item_texts)
    cosine = (
        (vectors * reference).sum(1)
        / np.linalg.norm(vectors, axis=1)
        / np.linalg.norm(reference, axis=1)
    )
    assert cosine.min() >= 0.9999998
    assert meta.config["model"] == str(minilm_dir) and meta.config["max_length"] == 256


def test_sentence_transformers_folder_runs_its_own_pipeline(minilm_dir):
    settings = resolve_encoder("hf", model=str(minilm_dir))
    assert (settings.backend, settings.pooling, settings.normalize) == (
        "sentence-transformers", "mean", True,
    )  # fmt: skip
    # asking for something the pipeline does not do switches to plain transformers
    raw = resolve_encoder("hf", model=str(minilm_dir), normalize=False)
    assert (raw.backend, raw.pooling, raw.normalize) == ("transformers", "mean", False)
    left = resolve_encoder("minilm", padding_side="left")
    assert (left.backend, left.padding_side, left.model) == (
        "transformers", "left", "sentence-transformers/all-MiniLM-L6-v2",
    )  # fmt: skip


def test_plain_folder_defaults(tiny_bert_dir):
    settings = resolve_encoder("hf", model=str(tiny_bert_dir))
    assert (settings.backend, settings.pooling, settings.padding_side) == (
        "transformers",
        "mean",
        "right",
    )
    assert settings.max_length == 512 and settings.normalize is False and settings.prompt == ""


def test_alias_defaults_yield_to_user_options_and_accept_a_local_folder(tiny_bert_dir):
    qwen = resolve_encoder("qwen3-8b", model=str(tiny_bert_dir))
    assert (qwen.pooling, qwen.padding_side, qwen.normalize, qwen.max_length) == (
        "last_token", "left", True, 8192,
    )  # fmt: skip
    assert qwen.encoder == "qwen3-8b" and qwen.model == str(tiny_bert_dir)
    mine = resolve_encoder("qwen3-8b", model=str(tiny_bert_dir), pooling="mean", max_length=64,
                           padding_side="right", normalize=False, prompt="Item: ")  # fmt: skip
    assert (mine.pooling, mine.padding_side, mine.normalize, mine.max_length, mine.prompt) == (
        "mean", "right", False, 64, "Item: ",
    )  # fmt: skip


def test_hub_alias_resolves_from_the_local_cache(
    tmp_path, monkeypatch, tiny_bert_dir, tiny_dataset
):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--intfloat--e5-base-v2"
    shutil.copytree(tiny_bert_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    meta = embed(dataset=tiny_dataset, encoder="e5-base", out=tmp_path / "e", device="cpu")
    emb = open_embeddings(tmp_path / "e")
    assert emb.attrs["model"] == "intfloat/e5-base-v2" and emb.attrs["revision"] == commit
    assert emb.attrs["prompt"] == "passage: " and emb.attrs["pooling"] == "mean"
    assert emb.dim == 32 and meta.stats["items"] == 7
    np.testing.assert_allclose(np.linalg.norm(emb.load()[1:], axis=1), 1.0, atol=1e-5)


def test_uncached_hub_model_says_to_pass_a_local_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with pytest.raises(SpecrecError, match="pass a local directory with --model DIR") as info:
        resolve_encoder("qwen3-0.6b")
    assert "Qwen/Qwen3-Embedding-0.6B" in str(info.value) and "\n" not in str(info.value)
