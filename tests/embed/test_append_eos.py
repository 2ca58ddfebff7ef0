"""`append_eos` (the f2llm-4b alias): the text tokens, no BOS, then the EOS that is pooled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_dataset
from encoder_parity_contract import MIN_COSINE, cosines
from tiny_encoder_folders import as_sentence_transformer, f2llm, llama, parity_texts

from specrec.embed.embed import embed
from specrec.embed.encoders.resolve import load_encoder, resolve_encoder
from specrec.embed.store import open_embeddings
from specrec.errors import SpecrecError


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return parity_texts(20, seed=3)


@pytest.fixture(scope="module")
def folders(tmp_path_factory, texts) -> dict[str, Path]:
    """The same random F2LLM weights with the card's two tokenizers: one appends no EOS (the
    card then adds `tokenizer.eos_token` by hand), the other appends it itself."""
    root = tmp_path_factory.mktemp("f2llm")
    return {"no-eos": f2llm(root, texts, eos_appended=False), "eos": f2llm(root, texts)}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, texts) -> Path:
    return make_dataset(tmp_path_factory.mktemp("append-eos") / "dataset", texts)


def card_recipe(folder: Path, texts: list[str]) -> np.ndarray:
    """F2LLM's card: text + eos_token, tokenised with add_special_tokens=False, the hidden state
    at the EOS, L2-normalised; here one text at a time (no padding)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    vectors = []
    with torch.inference_mode():
        for text in texts:
            batch = tokenizer(
                text + tokenizer.eos_token, add_special_tokens=False, return_tensors="pt"
            )
            vectors.append(model(**batch).last_hidden_state[0, -1])
    return torch.nn.functional.normalize(torch.stack(vectors), dim=1).numpy()


def embedded(dataset: Path, out: Path, folder: Path, **options) -> tuple[np.ndarray, object]:
    meta = embed(dataset=dataset, encoder="f2llm-4b", out=out, model=str(folder), device="cpu",
                 **options)  # fmt: skip
    return open_embeddings(out).load()[1:], meta


@pytest.mark.parametrize("tokenizer", ["no-eos", "eos"])
def test_f2llm_alias_follows_the_card_with_either_tokenizer(
    tmp_path, folders, dataset, texts, tokenizer
):
    reference = card_recipe(folders["no-eos"], texts)
    vectors, meta = embedded(dataset, tmp_path / "e", folders[tokenizer])
    assert meta.config["append_eos"] is True and open_embeddings(tmp_path / "e").attrs["append_eos"]
    assert cosines(vectors, reference).min() >= MIN_COSINE
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_each_row_holds_the_text_tokens_then_one_eos(folders, texts):
    from transformers import AutoTokenizer

    for folder in folders.values():
        settings = resolve_encoder("f2llm-4b", model=str(folder))
        batch = load_encoder(settings, device="cpu", compute_dtype="float32").tokenize(texts)
        alone = AutoTokenizer.from_pretrained(folder)
        eos = alone.eos_token_id
        for row, text in enumerate(texts):
            real = batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
            assert real == alone(text, add_special_tokens=False)["input_ids"] + [eos]


def test_truncation_keeps_the_eos(folders, texts):
    settings = resolve_encoder("f2llm-4b", model=str(folders["eos"]), max_length=4)
    encoder = load_encoder(settings, device="cpu", compute_dtype="float32")
    batch = encoder.tokenize(texts)
    lengths = batch["attention_mask"].sum(dim=1)
    assert lengths.max() == 4 and lengths.min() == 1  # the empty text: its EOS alone
    last = batch["input_ids"][:, -1]  # left padding: every row ends with its last real token
    assert last.tolist() == [encoder.tokenizer.eos_token_id] * len(texts)


def test_no_bos_on_a_tokenizer_that_adds_one(tmp_path, texts):
    """LLaMA's tokenizer wraps a text as <s> text </s>: append_eos gives text </s>, no <s>."""
    folder = llama(tmp_path, texts, "llama")
    settings = resolve_encoder("hf", model=str(folder), pooling="last_token", append_eos=True)
    encoder = load_encoder(settings, device="cpu", compute_dtype="float32")
    text = next(text for text in texts if len(text.split()) > 2)
    ids = encoder.tokenize([text])["input_ids"][0].tolist()
    assert encoder.tokenizer.convert_ids_to_tokens(ids) == [*text.split(), "</s>"]
    assert encoder.tokenizer(text).tokens() == ["<s>", *text.split(), "</s>"]


def test_no_append_eos_pools_the_last_text_token(tmp_path, folders, dataset, texts):
    reference = card_recipe(folders["no-eos"], texts)
    vectors, meta = embedded(dataset, tmp_path / "plain", folders["no-eos"], append_eos=False)
    with_eos, eos_meta = embedded(dataset, tmp_path / "eos", folders["no-eos"])
    assert "append_eos" not in meta.config and meta.fingerprint != eos_meta.fingerprint
    agreement = cosines(vectors, reference)
    assert agreement.max() < 0.99  # another token's state: a different vector for every text
    assert cosines(with_eos, reference).min() >= MIN_COSINE


def test_append_eos_leaves_a_sentence_transformers_pipeline(tmp_path, folders):
    folder = as_sentence_transformer(folders["eos"], tmp_path / "st", "lasttoken")
    assert resolve_encoder("hf", model=str(folder)).backend == "sentence-transformers"
    settings = resolve_encoder("hf", model=str(folder), append_eos=True)
    assert (settings.backend, settings.append_eos) == ("transformers", True)


def test_append_eos_needs_room_for_the_eos(folders):
    with pytest.raises(SpecrecError, match="--max-length of at least 2") as info:
        resolve_encoder("f2llm-4b", model=str(folders["eos"]), max_length=1)
    assert "\n" not in str(info.value)
