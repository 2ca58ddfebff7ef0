"""The full-softmax CE's blocked paths (kept rows, streamed blocks): the full softmax's value and
gradients, block by block."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from specrec.errors import SpecrecError
from specrec.models.losses import build_loss
from specrec.models.losses import ce
from specrec.models.losses.ce import _shifted_logsumexp

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


def full_softmax(user, targets, table, bias, generator=None):
    """The reference: the whole logits in one `F.cross_entropy`."""
    logits = user @ table[1:].T + (bias[1:] if bias is not None else 0)
    return F.cross_entropy(logits, targets - 1)


def counting(monkeypatch, function) -> list:
    """The `apply` calls of an autograd function, recorded."""
    calls, original = [], function.apply
    monkeypatch.setattr(function, "apply", lambda *a: calls.append(a) or original(*a))
    return calls


def small_kept_blocks(monkeypatch, rows: int) -> None:
    """`KeptRowsCE` with blocks of `rows` rows for the tests' tiny batches."""
    monkeypatch.setattr(ce, "ROWS_KEPT_MAX", rows)
    monkeypatch.setattr(ce, "ROWS_KEPT_MIN", 1)


@pytest.mark.parametrize("chunk", [1, 4, 7, N - 1])
@pytest.mark.parametrize("with_bias", [False, True])
def test_chunks_give_the_full_softmax_value_and_gradients(chunk, with_bias):
    user, table, bias, targets = inputs(with_bias)
    full_value, full_grads = value_and_grads(full_softmax, user, table, bias, targets)
    value, grads = value_and_grads(build_loss("ce", chunk=chunk), user, table, bias, targets)
    # float64 sums of ≤ N terms shifted by the target's logit: a few ulps of log N
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


def test_float32_blocks_match_float32_cross_entropy_to_its_rounding():
    gen = torch.Generator().manual_seed(2)
    user = (2 * torch.randn(64, 16, generator=gen)).requires_grad_()
    table = torch.randn(501, 16, generator=gen).requires_grad_()
    targets = torch.randint(1, 501, (64,), generator=gen)
    full_value, full_grads = value_and_grads(build_loss("ce"), user, table, None, targets)
    value, grads = value_and_grads(build_loss("ce", chunk=64), user, table, None, targets)
    # float32 dot products of length 17 and sums of 500 terms: relative error ~ 500 · 2^-24
    torch.testing.assert_close(value, full_value, rtol=5e-5, atol=5e-5)
    for got, want in zip(grads, full_grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_an_overflowing_shifted_sum_falls_back_to_the_max_shift():
    user, table, _, targets = inputs(False, seed=3)
    user, table = user.detach().float(), table.detach().float()
    with torch.no_grad():
        table[1] = 40 * user[0] / user[0].norm()  # item 1 outscores user 0's target by far more
        targets[0] = 2                             # than exp's float32 range (88)
    user.requires_grad_(), table.requires_grad_()
    full_value, full_grads = value_and_grads(build_loss("ce"), user, table, None, targets)
    value, grads = value_and_grads(build_loss("ce", chunk=4), user, table, None, targets)
    assert full_value > 88 / M  # user 0's loss alone is above the overflow point
    with torch.no_grad():  # the shifted sum overflows here, so this is the fallback's answer
        shift = (user * table[targets]).sum(1)
        assert not torch.isfinite(_shifted_logsumexp(user, table[1:], table.new_zeros(N), 4, shift)).all()
    torch.testing.assert_close(value, full_value, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, full_grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("rows", [1, 4, M, 64])
@pytest.mark.parametrize("with_bias", [False, True])
def test_kept_rows_give_the_full_softmax_value_and_gradients(monkeypatch, rows, with_bias):
    small_kept_blocks(monkeypatch, rows)  # 13 rows: 13 blocks of one, 3 of four and one of one, one
    calls = counting(monkeypatch, ce.KeptRowsCE)
    user, table, bias, targets = inputs(with_bias, seed=6)
    full_value, full_grads = value_and_grads(full_softmax, user, table, bias, targets)
    value, grads = value_and_grads(build_loss("ce"), user, table, bias, targets)
    assert [call[4] for call in calls] == [rows]
    # float64 sums of N terms shifted by the target's logit, as the streamed blocks
    torch.testing.assert_close(value, full_value, rtol=1e-13, atol=1e-13)
    for got, want in zip(grads, full_grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)
    assert float(grads[1][0].abs().max()) == 0.0


def test_kept_rows_redo_an_overflowing_block_shifted_by_its_maxima(monkeypatch):
    small_kept_blocks(monkeypatch, 4)
    user, table, _, targets = inputs(False, seed=3)
    user, table = user.detach().float(), table.detach().float()
    with torch.no_grad():
        table[1] = 40 * user[0] / user[0].norm()  # user 0's item 1 outscores its target by > 88
        targets[0] = 2
        shift = (user * table[targets]).sum(1)
        assert not torch.isfinite((user[:4] @ table[1:].T - shift[:4, None]).exp().sum(1)).all()
    user.requires_grad_(), table.requires_grad_()
    calls = counting(monkeypatch, ce.KeptRowsCE)
    full_value, full_grads = value_and_grads(full_softmax, user, table, None, targets)
    value, grads = value_and_grads(build_loss("ce"), user, table, None, targets)
    assert len(calls) == 1 and full_value > 88 / M
    torch.testing.assert_close(value, full_value, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, full_grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_kept_rows_give_a_frozen_table_no_gradient_and_stream_without_grad(monkeypatch):
    small_kept_blocks(monkeypatch, 4)
    kept = counting(monkeypatch, ce.KeptRowsCE)
    streamed = counting(monkeypatch, ce.ChunkedLogSumExp)
    user, table, _, targets = inputs(False, seed=7)
    frozen = table.detach()
    value = build_loss("ce")(user, targets, frozen, None, torch.Generator())
    (grad,) = torch.autograd.grad(value, [user])
    (want,) = torch.autograd.grad(full_softmax(user, targets, frozen, None), [user])
    torch.testing.assert_close(grad, want, rtol=1e-12, atol=1e-13)
    with torch.no_grad():  # evaluation needs no gradients: the forward alone, streamed
        plain = build_loss("ce")(user, targets, table, None, torch.Generator())
    torch.testing.assert_close(plain, value.detach(), rtol=1e-13, atol=1e-13)
    assert (len(kept), len(streamed)) == (1, 1)


def test_kept_rows_fill_the_budget_and_give_way_to_streaming_for_large_catalogues():
    cpu = torch.device("cpu")
    assert ce.kept_rows(1_682, cpu) == 512                 # ML-100K: the most rows
    assert ce.kept_rows(26_744, cpu) == 2**23 // 26_744    # ML-20M: 313 rows in 32 MiB
    assert ce.kept_rows(65_536, cpu) == 128
    assert ce.kept_rows(65_537, cpu) == 0                  # fewer than 128 rows: stream
    assert ce.kept_rows(1_682, torch.device("meta")) == 0  # off CPU: the whole logits


@pytest.mark.parametrize("chunk", [0, -3, 2.5, True])
def test_impossible_chunks_are_refused(chunk):
    with pytest.raises(SpecrecError, match="chunk must be a whole number >= 1"):
        build_loss("ce", chunk=chunk)


@pytest.mark.parametrize("chunk", [None, 16])
def test_bf16_autocast_user_vectors_are_summed_in_float32(chunk):
    gen = torch.Generator().manual_seed(4)
    layer = torch.nn.Linear(8, 8)
    table = torch.randn(201, 8, generator=gen)
    inputs_, targets = torch.randn(32, 8, generator=gen), torch.randint(1, 201, (32,), generator=gen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        user = layer(inputs_)
        value = build_loss("ce", chunk=chunk)(user, targets, table, None, torch.Generator())
    assert user.dtype == torch.bfloat16 and value.dtype == torch.float32
    exact = F.cross_entropy(user.float() @ table[1:].T, targets - 1)  # the same bf16 vectors
    torch.testing.assert_close(value, exact, rtol=1e-5, atol=1e-5)


def test_blocks_split_rows_and_items_within_the_cache_budget(monkeypatch):
    cpu = torch.device("cpu")
    assert ce.block_shape(1600, 4096, cpu) == (512, 512)   # 2^18 scores, square
    assert ce.block_shape(1600, 64, cpu) == (1600, 64)     # every row fits beside 64 items
    assert ce.block_shape(100, 4096, cpu) == (100, 512)
    assert ce.block_shape(1600, 4096, torch.device("meta")) == (1600, 4096)  # off CPU: all rows
    # shrink the budget so that M = 13 rows take two row blocks and N = 29 items eight item blocks
    monkeypatch.setattr(ce, "BLOCK_SCORES", 36)
    monkeypatch.setattr(ce, "ROWS_PER_BLOCK_MIN", 1)
    assert ce.block_shape(M, 4, cpu) == (9, 4)
    user, table, bias, targets = inputs(True, seed=5)
    full_value, full_grads = value_and_grads(build_loss("ce", chunk=N), user, table, bias, targets)
    value, grads = value_and_grads(build_loss("ce", chunk=4), user, table, bias, targets)
    torch.testing.assert_close(value, full_value, rtol=1e-13, atol=1e-13)
    for got, want in zip(grads, full_grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)


def test_the_default_streams_blocks_on_cpu_when_too_few_rows_fit(monkeypatch):
    monkeypatch.setattr(ce, "SCORES_KEPT", ce.ROWS_KEPT_MIN * N - 1)
    streamed = counting(monkeypatch, ce.ChunkedLogSumExp)
    kept = counting(monkeypatch, ce.KeptRowsCE)
    user, table, bias, targets = inputs(False)
    monkeypatch.setattr(ce, "BLOCK_ITEMS", 8)
    value_and_grads(build_loss("ce"), user, table, bias, targets)
    value_and_grads(build_loss("ce", chunk=N), user, table, bias, targets)  # >= N: whole logits
    assert [call[3] for call in streamed] == [8] and kept == []
