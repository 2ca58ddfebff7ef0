"""SCFT's objective: LLMEmb's soft-target symmetric contrastive loss with a learned temperature."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from specrec.models.losses.soft_contrastive import soft_contrastive

TAU_INIT = 3.0


class SCFTLoss(nn.Module):
    """L(X, Y) = ½ · mean_b [−Σ_j T_bj log softmax(Z_b)_j − Σ_j (Tᵀ)_bj log softmax((Zᵀ)_b)_j],

    Z = XYᵀ/τ,  T = softmax_row(((XXᵀ + YYᵀ)/2) · τ),

    on the unnormalised pooled vectors X (first views) and Y (second views) of one batch: each
    item's other view is its positive, the other items of the batch are its negatives. τ is a
    parameter initialised to 3 and trained with the adapter (LLMEmb's `Contrastive_Loss`, whose
    `tau` the training script unfreezes). Computed in float32 whatever the autocast around it.
    """

    def __init__(self, tau_init: float = TAU_INIT) -> None:
        super().__init__()
        self.tau = nn.Parameter(torch.tensor(float(tau_init)))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            return soft_contrastive(x.float(), y.float(), self.tau)
