"""Bad input: one-line SpecrecError, and nothing written that looks like an artifact."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from specrec.embed import embed as embed_module
from specrec.embed.embed import embed
from specrec.errors import SpecrecError


def _fails(out, match, **kwargs):
    options = {"encoder": "minilm", "device": "cpu", **kwargs}
    with pytest.raises(SpecrecError, match=match) as info:
        embed(out=out, **options)
    assert "\n" not in str(info.value)
    assert not out.exists() and not list(out.parent.glob(f"{out.name}.tmp-*"))


def test_unknown_encoder(tmp_path, tiny_dataset):
    match = r"unknown encoder 'nope'; choose one of: .*minilm"
    _fails(tmp_path / "e", match, dataset=tiny_dataset, encoder="nope")


def test_missing_dataset_dir(tmp_path):
    _fails(tmp_path / "e", "dataset artifact .* does not exist", dataset=tmp_path / "missing")


def test_dataset_without_items_parquet(tmp_path, tiny_dataset):
    (tiny_dataset / "items.parquet").unlink()
    _fails(tmp_path / "e", "lacks 'items.parquet'", dataset=tiny_dataset)


def test_dataset_without_text_column(tmp_path, dataset_factory):
    dataset = dataset_factory(tmp_path / "d", drop_text=True)
    _fails(tmp_path / "e", r"lacks column\(s\) \['text'\]", dataset=dataset)


def test_corrupt_items_parquet(tmp_path, tiny_dataset):
    (tiny_dataset / "items.parquet").write_bytes(b"not parquet")
    _fails(tmp_path / "e", "cannot read items.parquet", dataset=tiny_dataset)


def test_items_that_do_not_match_the_fingerprint(tmp_path, tiny_dataset):
    meta = json.loads((tiny_dataset / "meta.json").read_text())
    meta["items_fingerprint"] = "sha256:" + "0" * 64
    (tiny_dataset / "meta.json").write_text(json.dumps(meta))
    _fails(tmp_path / "e", "does not match the items fingerprint", dataset=tiny_dataset)


def test_items_out_of_order(tmp_path, tiny_dataset):
    items = pl.read_parquet(tiny_dataset / "items.parquet").reverse()
    items.write_parquet(tiny_dataset / "items.parquet")
    _fails(tmp_path / "e", "item_idx 1..N in order", dataset=tiny_dataset)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"pooling": "max"}, "unknown pooling 'max'; choose one of: mean, cls, last_token"),
        ({"padding_side": "middle"}, "unknown padding side 'middle'"),
        ({"max_length": 0}, "--max-length must be a positive"),
        ({"batch_size": 0}, "--batch-size must be at least 1"),
        ({"dtype": "int8"}, "unknown --dtype 'int8'"),
        ({"device": "tpu"}, "unknown --device 'tpu'"),
        ({"encoder": "hf"}, "encoder 'hf' needs --model DIR"),
        (
            {"encoder": "hf", "model": "/no/such/dir"},
            "model directory '/no/such/dir' does not exist",
        ),
        (
            {"encoder": "qwen3-8b"},
            "Qwen/Qwen3-Embedding-8B' is not in the local Hugging Face cache",
        ),
        (
            {"encoder": "hf", "model": "someone/not-cached"},
            "pass a local directory with --model DIR",
        ),
    ],
)
def test_bad_options(tmp_path, tiny_dataset, monkeypatch, options, match):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    _fails(tmp_path / "e", match, dataset=tiny_dataset, **options)


def test_folder_that_is_not_a_model(tmp_path, tiny_dataset):
    (tmp_path / "not-a-model").mkdir()
    _fails(tmp_path / "e", "is not a Hugging Face model folder", dataset=tiny_dataset,
           encoder="hf", model=str(tmp_path / "not-a-model"))  # fmt: skip


def test_cuda_asked_without_a_gpu(tmp_path, tiny_dataset, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _fails(tmp_path / "e", "no CUDA GPU is visible", dataset=tiny_dataset, device="cuda")


def test_nan_from_the_encoder_names_the_item(tmp_path, tiny_dataset, monkeypatch):
    class NaNEncoder:
        dim = 4

        def encode(self, texts):
            out = np.ones((len(texts), 4), dtype=np.float32)
            out[0, 2] = np.nan
            return out

    monkeypatch.setattr(embed_module, "load_encoder", lambda *a, **k: NaNEncoder())
    # the longest text (item 5) comes first
    _fails(tmp_path / "e", r"produced NaN or Inf for item 5 \('m5'\)", dataset=tiny_dataset)


def test_float16_overflow_is_refused(tmp_path, tiny_dataset, monkeypatch):
    class HugeEncoder:
        dim = 4

        def encode(self, texts):
            return np.full((len(texts), 4), 1e6, dtype=np.float32)

    monkeypatch.setattr(embed_module, "load_encoder", lambda *a, **k: HugeEncoder())
    _fails(
        tmp_path / "e",
        "overflow float16.*use --dtype float32",
        dataset=tiny_dataset,
        dtype="float16",
    )
    # the embedded rows survive, and another storage dtype reuses them without encoding again
    monkeypatch.setattr(embed_module, "load_encoder", lambda *a, **k: pytest.fail("re-encoded"))
    meta = embed(dataset=tiny_dataset, encoder="minilm", device="cpu", out=tmp_path / "e")
    assert meta.stats["resumed_items"] == 7 and meta.stats["dim"] == 4
