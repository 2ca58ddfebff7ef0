"""Pooling over the attention mask: hand-computed values, and left/right padding invariance on a
tiny random BERT (the failure mode of sentence-transformers#3208: CLS/last token picking a PAD)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specrec.embed.encoders.resolve import load_encoder, resolve_encoder
from specrec.embed.encoders.positions import PositionNumbering
from specrec.embed.pooling import pool
from specrec.errors import SpecrecError

# token states 1..8 along the sequence, two features: H[b, t] = (t + 1, 10 * (t + 1))
HIDDEN = torch.tensor([[[t + 1.0, 10.0 * (t + 1)] for t in range(4)]] * 2)
RIGHT = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
LEFT = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1]])


def test_pooling_by_hand():
    assert pool(HIDDEN, RIGHT, "mean").tolist() == [[2.0, 20.0], [1.5, 15.0]]
    assert pool(HIDDEN, RIGHT, "cls").tolist() == [[1.0, 10.0], [1.0, 10.0]]
    assert pool(HIDDEN, RIGHT, "last_token").tolist() == [[3.0, 30.0], [2.0, 20.0]]
    assert pool(HIDDEN, LEFT, "mean").tolist() == [[3.0, 30.0], [3.5, 35.0]]
    assert pool(HIDDEN, LEFT, "cls").tolist() == [[2.0, 20.0], [3.0, 30.0]]  # first REAL token
    assert pool(HIDDEN, LEFT, "last_token").tolist() == [[4.0, 40.0], [4.0, 40.0]]


def test_position_ids_count_real_tokens_only():
    assert PositionNumbering().ids(LEFT).tolist() == [[0, 0, 1, 2], [0, 0, 0, 1]]
    assert PositionNumbering().ids(RIGHT).tolist() == [[0, 1, 2, 0], [0, 1, 0, 0]]
    roberta = PositionNumbering(first=2, pad=1)  # RoBERTa/MPNet: from padding_idx + 1
    assert roberta.ids(LEFT).tolist() == [[1, 2, 3, 4], [1, 1, 2, 3]]
    assert roberta.ids(RIGHT).tolist() == [[2, 3, 4, 1], [2, 3, 1, 1]]


def test_unknown_pooling_is_a_user_error():
    with pytest.raises(SpecrecError, match="unknown pooling 'max'"):
        pool(HIDDEN, RIGHT, "max")


TEXTS = ["a short one", "a considerably longer item text with many more word pieces in it", ""]


def _encode(model_dir, pooling: str, side: str, texts=TEXTS) -> np.ndarray:
    settings = resolve_encoder("hf", model=str(model_dir), pooling=pooling, padding_side=side)
    assert settings.backend == "transformers" and settings.padding_side == side
    return load_encoder(settings, device="cpu", compute_dtype="float32").encode(texts)


@pytest.mark.parametrize("pooling", ["mean", "cls", "last_token"])
def test_left_and_right_padding_agree(tiny_bert_dir, pooling):
    right = _encode(tiny_bert_dir, pooling, "right")
    left = _encode(tiny_bert_dir, pooling, "left")
    assert right.shape == (3, 32)
    np.testing.assert_allclose(left, right, atol=1e-5)
    # each padded row equals the text encoded alone (no padding at all)
    alone = np.stack([_encode(tiny_bert_dir, pooling, "right", [t])[0] for t in TEXTS])
    np.testing.assert_allclose(right, alone, atol=1e-5)


def test_last_token_with_right_padding_is_not_the_pad_position(tiny_bert_dir):
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir, padding_side="right")
    model = AutoModel.from_pretrained(tiny_bert_dir).eval()
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    n_real = int(batch["attention_mask"][0].sum())
    assert n_real < hidden.shape[1]  # the short text is padded
    ours = _encode(tiny_bert_dir, "last_token", "right", TEXTS[:2])[0]
    np.testing.assert_allclose(ours, hidden[0, n_real - 1].numpy(), atol=1e-5)  # its [SEP]
    assert np.abs(ours - hidden[0, -1].numpy()).max() > 1e-2  # not the final (PAD) position


def test_cls_and_mean_differ_and_normalize(tiny_bert_dir):
    cls = _encode(tiny_bert_dir, "cls", "right")
    mean = _encode(tiny_bert_dir, "mean", "right")
    assert np.abs(cls - mean).max() > 1e-2
    settings = resolve_encoder("hf", model=str(tiny_bert_dir), pooling="cls", normalize=True)
    unit = load_encoder(settings, device="cpu", compute_dtype="float32").encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(unit, cls / np.linalg.norm(cls, axis=1, keepdims=True), atol=1e-6)
