"""SCFT's loss: LLMEmb's soft-target symmetric contrastive loss, τ learned from 3."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from specrec.finetune.loss import SCFTLoss
from specrec.models.embedders import llmemb
from specrec.models.losses.soft_contrastive import soft_contrastive


def elementwise(x: np.ndarray, y: np.ndarray, tau: float) -> float:
    """The formula of methods.md §3.3 written out entry by entry."""
    n = len(x)
    targets = np.array([[math.exp((x[i] @ x[j] + y[i] @ y[j]) / 2 * tau) for j in range(n)]
                        for i in range(n)])
    targets /= targets.sum(axis=1, keepdims=True)
    logits = np.array([[x[i] @ y[j] / tau for j in range(n)] for i in range(n)])

    def soft_ce(row: np.ndarray, target: np.ndarray) -> float:
        return -float(sum(t * (r - math.log(np.exp(row).sum())) for r, t in zip(row, target)))

    forward = [soft_ce(logits[i], targets[i]) for i in range(n)]
    backward = [soft_ce(logits[:, i], targets[:, i]) for i in range(n)]
    return (np.mean(forward) + np.mean(backward)) / 2


def test_two_orthonormal_pairs_give_the_hand_computed_value():
    """X = Y = I₂, τ = 3: T = softmax([3, 0]) per row, Z = I/3, so both directions give
    L = log(1 + e^{1/3}) − e³ / (3 (1 + e³))."""
    loss = SCFTLoss()
    eye = torch.eye(2, dtype=torch.float64)
    expected = math.log(1 + math.exp(1 / 3)) - math.exp(3) / (3 * (1 + math.exp(3)))
    assert expected == pytest.approx(0.5561142, abs=1e-7)
    assert float(loss(eye, eye).detach()) == pytest.approx(expected, rel=1e-6)  # in float32


def test_a_2x2_asymmetric_pair_matches_the_formula():
    x = np.array([[1.0, 0.0], [0.0, 2.0]])
    y = np.array([[1.0, 1.0], [0.0, 1.0]])
    value = float(soft_contrastive(torch.tensor(x), torch.tensor(y), 3.0))
    assert value == pytest.approx(elementwise(x, y, 3.0), rel=1e-12)
    scft = SCFTLoss()(torch.tensor(x), torch.tensor(y)).detach()
    assert float(scft) == pytest.approx(value, rel=1e-6)


def test_tau_starts_at_3_and_is_trained():
    loss = SCFTLoss()
    parameters = list(loss.parameters())
    assert float(loss.tau.detach()) == 3.0 and len(parameters) == 1 and parameters[0] is loss.tau
    x = torch.tensor([[1.0, 0.5], [0.2, 1.0]], requires_grad=True)
    y = torch.tensor([[0.9, 0.4], [0.1, 1.2]])
    loss(x, y).backward()
    assert loss.tau.grad is not None and float(loss.tau.grad) != 0.0
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())


def test_the_loss_stays_float32_under_bf16_autocast():
    x, y = torch.eye(2), torch.eye(2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = SCFTLoss()(x.bfloat16(), y.bfloat16()).detach()
    assert value.dtype == torch.float32
    assert float(value) == pytest.approx(float(SCFTLoss()(x, y).detach()), rel=1e-6)


def test_rat_and_scft_share_one_formula():
    assert llmemb.soft_contrastive is soft_contrastive
