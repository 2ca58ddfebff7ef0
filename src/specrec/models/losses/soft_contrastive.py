"""LLMEmb's soft-target symmetric contrastive loss, shared by SCFT (`finetune`) and RAT (llmemb)."""

from __future__ import annotations

import torch
from torch import Tensor


def soft_contrastive(x: Tensor, y: Tensor, tau: float | Tensor) -> Tensor:
    """LLMEmb's Contrastive_Loss / Contrastive_Loss2 on unnormalised rows x_b and y_b (batch B):

    Z = XYᵀ/τ,  T = softmax_row(((XXᵀ + YYᵀ)/2) · τ)   (τ multiplies, as in the reference code),
    L = ½ · mean_b [ −Σ_j T_bj log softmax(Z_b)_j − Σ_j (Tᵀ)_bj log softmax((Zᵀ)_b)_j ].

    `tau` may be a float or a 0-d tensor that is trained (SCFT learns it, starting from 3).
    Not a registered recommendation loss: it scores pairs of views, not users against items.
    """
    logits = x @ y.T / tau
    targets = torch.softmax((x @ x.T + y @ y.T) / 2 * tau, dim=1)
    forward = -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    backward = -(targets.T * torch.log_softmax(logits.T, dim=1)).sum(dim=1).mean()
    return (forward + backward) / 2
