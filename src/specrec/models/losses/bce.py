"""Binary cross-entropy with k uniform negatives per positive (original SASRec: k = 1)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from specrec.models.losses.base import LOSSES, Loss, LossConfig, scores_of, uniform_negatives


@dataclass
class BCEConfig(LossConfig):
    negatives: int = 1


@LOSSES.register("bce")
class BCE(Loss):
    """ℓ = −log σ(s_p) − Σ_{r=1..k} log(1 − σ(s_{n_r})), negatives uniform over 1..N, n_r ≠ p."""

    Config = BCEConfig

    def __call__(
        self, user: Tensor, targets: Tensor, table: Tensor, bias: Tensor | None, generator: torch.Generator
    ) -> Tensor:
        negatives = uniform_negatives(targets, table.size(0) - 1, self.config.negatives, generator, True)
        pos = scores_of(user, targets[:, None], table, bias)
        neg = scores_of(user, negatives, table, bias)
        return (F.softplus(-pos).sum(1) + F.softplus(neg).sum(1)).mean()
