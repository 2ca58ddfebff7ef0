"""Every loss against its formula, computed by hand on small tensors."""

import math

import pytest
import torch
import torch.nn.functional as F

from specrec.errors import SpecrecError
from specrec.models.losses import LOSSES, build_loss
from specrec.models.losses.base import uniform_negatives


@pytest.fixture
def problem():
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(21, 4, generator=gen)
    table[0] = 0
    user = torch.randn(6, 4, generator=gen)
    targets = torch.randint(1, 21, (6,), generator=gen)
    return user, targets, table


def test_ce_is_softmax_over_items_without_padding(problem):
    user, targets, table = problem
    loss = build_loss("ce")(user, targets, table, None, torch.Generator())
    logits = user @ table.T
    expected = (-logits.gather(1, targets[:, None]).squeeze(1) + torch.logsumexp(logits[:, 1:], 1)).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_ce_adds_bias(problem):
    user, targets, table = problem
    bias = torch.randn(21)
    loss = build_loss("ce")(user, targets, table, bias, torch.Generator())
    logits = user @ table[1:].T + bias[1:]
    assert loss.item() == pytest.approx(F.cross_entropy(logits, targets - 1).item(), rel=1e-6)


def _negatives(targets, n, k, seed, exclude):
    return uniform_negatives(targets, n, k, torch.Generator().manual_seed(seed), exclude)


def test_bce_formula(problem):
    user, targets, table = problem
    loss = build_loss("bce", negatives=3)(user, targets, table, None, torch.Generator().manual_seed(1))
    neg = _negatives(targets, 20, 3, 1, True)
    s_pos = (user * table[targets]).sum(1)
    s_neg = torch.einsum("md,mkd->mk", user, table[neg])
    expected = (-F.logsigmoid(s_pos) - F.logsigmoid(-s_neg).sum(1)).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_infonce_formula_and_target_never_a_negative(problem):
    user, targets, table = problem
    neg = _negatives(targets, 20, 64, 2, True)
    assert not (neg == targets[:, None]).any()
    loss = build_loss("infonce")(user, targets, table, None, torch.Generator().manual_seed(2))
    u = F.normalize(user, dim=1)
    cos_pos = (u * F.normalize(table[targets], dim=1)).sum(1) / 0.07
    cos_neg = torch.einsum("md,mkd->mk", u, F.normalize(table[neg], dim=2)) / 0.07
    expected = (-cos_pos + torch.logsumexp(torch.cat([cos_pos[:, None], cos_neg], 1), 1)).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_gbce_reduces_to_bce_at_t0_and_calibrates_at_t1(problem):
    user, targets, table = problem
    k = 5
    neg = _negatives(targets, 20, k, 3, False)
    s_pos = (user * table[targets]).sum(1)
    s_neg = torch.einsum("md,mkd->mk", user, table[neg])
    for t, beta in ((0.0, 1.0), (1.0, k / 19)):
        loss = build_loss("gbce", negatives=k, t=t)(user, targets, table, None,
                                                     torch.Generator().manual_seed(3))
        expected = ((-beta * F.logsigmoid(s_pos) - F.logsigmoid(-s_neg).sum(1)) / (k + 1)).mean()
        assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_sampled_softmax_logq_and_accidental_hits():
    table = torch.eye(3, 3)[[0, 0, 1, 2]]  # items 1..3: e1 = e_0-axis ... padding row 0 zeros
    table[0] = 0
    user = torch.tensor([[2.0, 0.0, 0.0]])
    targets = torch.tensor([1])
    loss_fn = build_loss("sampled-softmax", negatives=4)
    neg = _negatives(targets, 3, 4, 5, False)
    loss = loss_fn(user, targets, table, None, torch.Generator().manual_seed(5))
    s_neg = torch.tensor([(user[0] * table[n]).sum() + math.log(3 / 4) if n != 1 else -math.inf
                          for n in neg[0].tolist()])
    expected = -2.0 + torch.logsumexp(torch.cat([torch.tensor([2.0]), s_neg]), 0)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_unknown_loss_and_bad_options():
    with pytest.raises(SpecrecError, match="unknown loss"):
        build_loss("hinge")
    with pytest.raises(SpecrecError, match="no option"):
        build_loss("ce", negatives=3)
    with pytest.raises(SpecrecError):
        build_loss("infonce", tau=0)
    with pytest.raises(SpecrecError):
        build_loss("bce", negatives=0)
    assert set(LOSSES.names()) == {"bce", "ce", "gbce", "infonce", "sampled-softmax"}


@pytest.mark.parametrize("name, options", [("infonce", {}), ("sampled-softmax", {}),
                                           ("bce", {"negatives": 3}), ("gbce", {"negatives": 5})])
def test_dense_and_gathered_scoring_agree_in_loss_and_gradients(problem, monkeypatch, name, options):
    import specrec.models.losses.base as base

    user, targets, table = problem
    bias = torch.randn(21, generator=torch.Generator().manual_seed(3))
    results = []
    for rows_per_sample in (10**6, 0):  # every table dense, then every table gathered
        monkeypatch.setattr(base, "DENSE_ROWS_PER_SAMPLE", rows_per_sample)
        u, t, b = (x.double().requires_grad_(True) for x in (user, table, bias))
        loss = build_loss(name, **options)(u, targets, t, b, torch.Generator().manual_seed(4))
        loss.backward()
        results.append((loss.detach(), u.grad, t.grad, b.grad))
    # in float64 the two paths differ only in the order they sum 4 products: a few ulps of
    # |u|·|e| ≤ 10, amplified by at most 1/τ ≈ 14 in InfoNCE, so far below 1e-11 on any BLAS
    for dense, gathered in zip(*results):
        torch.testing.assert_close(dense, gathered, rtol=1e-11, atol=1e-11)


def test_dense_scoring_rule():
    from specrec.models.losses.base import DENSE_ROWS_PER_SAMPLE, dense_scoring

    assert DENSE_ROWS_PER_SAMPLE == 64
    assert dense_scoring(4_160, 65) and not dense_scoring(4_161, 65)  # InfoNCE's 1 + 64 items
    assert not dense_scoring(26_745, 129)  # sampled softmax at ML-20M gathers
