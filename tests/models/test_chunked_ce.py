"""The chunked full-softmax CE: the full softmax's value and gradients, block by block."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from specrec.errors import SpecrecError
from specrec.models.losses import build_loss

M, D, N = 13, 6, 29


def inputs(with_bias: bool, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    user = (3 * torch.randn(M, D, generator=gen, dtype=torch.float64)).requires_grad_()
    table = torch.randn(N + 1, D, generator=gen, dtype=torch.float64).requires_grad_()
    bias = torch.randn(N + 1, generator=gen, dtype=torch.float64).requires_grad_() if with_bias \
        else None
    targets = torch.randint(1, N + 1, (M,), generator=gen)
    return user, table, bias, targets


def value_and_grads(loss, user, table, bias, targets):
    value = loss(user, targets, table, bias, torch.Generator())
    wanted = [user, table] + ([bias] if bias is not None else [])
    return value.detach(), torch.autograd.grad(value, wanted)


@pytest.mark.parametrize("chunk", [1, 4, 7, N - 1])
@pytest.mark.parametrize("with_bias", [False, True])
def test_chunks_give_the_full_softmax_value_and_gradients(chunk, with_bias):
    user, table, bias, targets = inputs(with_bias)
    full_value, full_grads = value_and_grads(build_loss("ce"), user, table, bias, targets)
    logits = user @ table[1:].T + (bias[1:] if bias is not None else 0)
    assert torch.allclose(full_value, F.cross_entropy(logits, targets - 1), rtol=0, atol=1e-13)
    value, grads = value_and_grads(build_loss("ce", chunk=chunk), user, table, bias, targets)
    # float64 sums of ≤ N terms of size ≤ e^0 after the max shift: a few ulps of log N
    torch.testing.assert_close(value, full_value, rtol=1e-13, atol=1e-13)
    for got, want in zip(grads, full_grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)
    assert float(grads[1][0].abs().max()) == 0.0  # the padding row is no class


def test_large_logits_do_not_overflow_the_running_sum():
    user, table, bias, targets = inputs(True, seed=1)
    with torch.no_grad():
        user *= 400  # logits of order 10^3: exp would overflow without the running max
    full_value, _ = value_and_grads(build_loss("ce"), user, table, bias, targets)
    value, grads = value_and_grads(build_loss("ce", chunk=5), user, table, bias, targets)
    assert torch.isfinite(value) and all(torch.isfinite(g).all() for g in grads)
    torch.testing.assert_close(value, full_value, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("chunk", [0, -3, 2.5, True])
def test_impossible_chunks_are_refused(chunk):
    with pytest.raises(SpecrecError, match="chunk must be a whole number >= 1"):
        build_loss("ce", chunk=chunk)
