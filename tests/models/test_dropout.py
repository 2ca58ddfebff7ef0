"""specrec's dropout: its keep rate, independence, scale, gradient and reproducibility."""

from __future__ import annotations

import math

import pytest
import torch

from specrec.models.dropout import WORD, Dropout, keep_mask

N = 1_200_000  # 6 standard errors of a rate at this n: 6·sqrt(q(1−q)/n) ≈ 0.0022 at q = 0.8


def _bound(q: float, n: int) -> float:
    return 6 * math.sqrt(q * (1 - q) / n)


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5, 0.9])
def test_keep_rate_and_neighbours_are_independent(p):
    torch.manual_seed(0)
    threshold = round((1 - p) * WORD)
    q = threshold / WORD
    mask = keep_mask((N,), threshold)
    assert abs(mask.float().mean().item() - q) < _bound(q, N)
    # neighbours share a 64-bit draw (three words each) or sit across two: both kept q² apart
    for lag in (1, 2, 3):
        both = (mask[:-lag] & mask[lag:]).float().mean().item()
        assert abs(both - q * q) < _bound(q * q, N - lag)


def test_training_output_is_zero_or_scaled_with_the_mean_kept():
    torch.manual_seed(1)
    layer = Dropout(0.2).train()
    x = torch.ones(400, 3000, requires_grad=True)
    y = layer(x)
    scale = WORD / layer.threshold
    values = torch.unique(y.detach())
    assert values.tolist() == [0.0, pytest.approx(scale, rel=1e-6)]
    q = layer.threshold / WORD
    assert abs(y.detach().mean().item() - 1.0) < scale * _bound(q, x.numel())
    y.sum().backward()
    torch.testing.assert_close(x.grad, y.detach(), rtol=0, atol=0)  # d(sum y)/dx = m / q̂


def test_eval_zero_and_one_and_dtype():
    x = torch.randn(5, 7)
    assert Dropout(0.3).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros(5, 7))
    half = torch.randn(64, 64, dtype=torch.bfloat16)
    assert Dropout(0.5).train()(half).dtype == torch.bfloat16
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        Dropout(1.5)


def test_masks_follow_the_torch_seed():
    layer = Dropout(0.5).train()
    x = torch.ones(10_000)
    torch.manual_seed(7)
    first, second = layer(x), layer(x)
    torch.manual_seed(7)
    assert torch.equal(layer(x), first)
    assert not torch.equal(first, second)


def test_odd_shapes_get_a_full_mask():
    torch.manual_seed(3)
    for shape in [(1,), (2,), (4,), (3, 5, 7)]:
        mask = keep_mask(shape, WORD // 2)
        assert mask.shape == torch.Size(shape) and mask.dtype == torch.bool


def test_transformer_attention_with_dropout_is_sdpa_with_its_mask():
    from specrec.models.layers import TransformerLayer

    torch.manual_seed(4)
    # p = 1e-6 rounds to q̂ = 1: every weight kept, scale 1, so training mode must equal SDPA's
    layer = TransformerLayer(16, 2, 32, hidden_dropout=0.0, attn_dropout=1e-6, eps=1e-12).double()
    x = torch.randn(3, 5, 16, dtype=torch.float64)
    allowed = torch.ones(5, 5).tril().bool()
    mask = torch.zeros(3, 1, 5, 5, dtype=torch.float64).masked_fill(~allowed, -1e4)
    explicit, sdpa = layer.train()(x, mask), layer.eval()(x, mask)
    # float64: the two attention kernels differ by summation order only (~1e-15 at unit scale,
    # LayerNorm's 1/std ≤ ~10 on top), far below 1e-10 on any CPU
    torch.testing.assert_close(explicit, sdpa, rtol=1e-10, atol=1e-10)


def test_extreme_thresholds():
    assert keep_mask((1000,), WORD).all()  # q̂ = 1 (2^15 does not fit an int16 word)
    assert not keep_mask((1000,), 0).any()
