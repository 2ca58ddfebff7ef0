"""InfoNCE on cosine similarities with k uniform negatives (AlphaFuse / SpecTran: k=64, τ=0.07)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from specrec.models.losses.base import (
    LOSSES,
    Loss,
    LossConfig,
    dense_scoring,
    scores_of,
    uniform_negatives,
)
from specrec.models.rows import gather_rows


@dataclass
class InfoNCEConfig(LossConfig):
    negatives: int = 64
    tau: float = 0.07


@LOSSES.register("infonce")
class InfoNCE(Loss):
    """ℓ = −log exp(cos(u, e_p)/τ) / (exp(cos(u, e_p)/τ) + Σ_r exp(cos(u, e_{n_r})/τ)), n_r ≠ p.

    Evaluation still ranks by the raw dot product, as AlphaFuse does.
    """

    Config = InfoNCEConfig

    def __call__(
        self, user: Tensor, targets: Tensor, table: Tensor, bias: Tensor | None, generator: torch.Generator
    ) -> Tensor:
        negatives = uniform_negatives(targets, table.size(0) - 1, self.config.negatives, generator, True)
        items = torch.cat([targets[:, None], negatives], dim=1)
        unit_user = F.normalize(user, dim=-1)
        if dense_scoring(table.size(0), items.size(1)):  # unit rows of the whole (small) table
            cosine = scores_of(unit_user, items, F.normalize(table, dim=-1), None)
        else:  # unit rows of the sampled items only
            unit_rows = F.normalize(gather_rows(table, items), dim=-1)
            cosine = torch.einsum("md,mjd->mj", unit_user, unit_rows)
        labels = torch.zeros(user.size(0), dtype=torch.long, device=user.device)
        return F.cross_entropy(cosine / self.config.tau, labels)
