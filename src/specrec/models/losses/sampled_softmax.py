"""Sampled softmax with k uniform negatives and the logQ correction (Bengio & Senécal; Yi et al.)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from specrec.models.losses.base import LOSSES, Loss, LossConfig, scores_of, uniform_negatives


@dataclass
class SampledSoftmaxConfig(LossConfig):
    negatives: int = 128
    tau: float = 1.0
    logq: bool = True


@LOSSES.register("sampled-softmax")
class SampledSoftmax(Loss):
    """ℓ = −log exp(s_p) / (exp(s_p) + Σ_r exp(s'_{n_r})),  s'_n = s_n/τ − log(k·Q(n)),  s_p = s_p/τ.

    With Q uniform over 1..N, −log(k·Q(n)) = log(N/k): the k sampled terms stand in for the N
    items of the full softmax partition. The positive is not sampled, so it is not corrected
    (as in RePlay's sampled CE; a shift of every logit would cancel). Accidental hits (n_r = p)
    get logit −∞. Without `logq` the shift is dropped (plain sampled softmax).
    """

    Config = SampledSoftmaxConfig

    def __call__(
        self, user: Tensor, targets: Tensor, table: Tensor, bias: Tensor | None, generator: torch.Generator
    ) -> Tensor:
        n_items, k = table.size(0) - 1, self.config.negatives
        negatives = uniform_negatives(targets, n_items, k, generator, exclude_target=False)
        items = torch.cat([targets[:, None], negatives], dim=1)
        logits = scores_of(user, items, table, bias) / self.config.tau
        if self.config.logq:
            logits[:, 1:] = logits[:, 1:] + math.log(n_items / k)
        hits = torch.cat([torch.zeros_like(targets[:, None], dtype=torch.bool),
                          negatives == targets[:, None]], dim=1)
        logits = logits.masked_fill(hits, float("-inf"))
        labels = torch.zeros(user.size(0), dtype=torch.long, device=user.device)
        return F.cross_entropy(logits, labels)
