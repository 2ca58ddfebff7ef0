"""gBCE (gSASRec, Petrov & Macdonald 2023): BCE with the positive probability raised to β."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from specrec.errors import SpecrecError
from specrec.models.losses.base import LOSSES, Loss, LossConfig, scores_of, uniform_negatives


@dataclass
class GBCEConfig(LossConfig):
    negatives: int = 256
    t: float = 0.75


@LOSSES.register("gbce")
class GBCE(Loss):
    """ℓ = (β·softplus(−s_p) + Σ_r softplus(s_{n_r})) / (k+1),  β = 1 − t(1 − α),  α = k/(N−1).

    softplus(−s) = −log σ(s), so β·softplus(−s_p) = −log σ(s_p)^β (the stable form of gBCE).
    t = 0 is plain BCE; t = 1 is fully calibrated. Negatives are uniform over 1..N, with
    replacement and unfiltered, as in gSASRec.
    """

    Config = GBCEConfig

    def __call__(
        self, user: Tensor, targets: Tensor, table: Tensor, bias: Tensor | None, generator: torch.Generator
    ) -> Tensor:
        n_items, k = table.size(0) - 1, self.config.negatives
        if not 0.0 <= self.config.t <= 1.0:
            raise SpecrecError(f"gbce: t must be in [0, 1], not {self.config.t}")
        alpha = min(1.0, k / max(n_items - 1, 1))
        beta = 1.0 - self.config.t * (1.0 - alpha)
        negatives = uniform_negatives(targets, n_items, k, generator, exclude_target=False)
        pos = scores_of(user, targets[:, None], table, bias).squeeze(1)
        neg = scores_of(user, negatives, table, bias)
        return ((beta * F.softplus(-pos) + F.softplus(neg).sum(1)) / (k + 1)).mean()
