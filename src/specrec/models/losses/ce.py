"""Full-softmax cross-entropy over every item (RecBole's default for SASRec/GRU4Rec/BERT4Rec)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
import torch

from specrec.models.losses.base import LOSSES, Loss


@LOSSES.register("ce")
class FullSoftmaxCE(Loss):
    """ℓ = −s_p + log Σ_{j=1..N} exp s_j,  s_j = ⟨u, e_j⟩ (+ b_j); the padding row is no class."""

    def __call__(
        self, user: Tensor, targets: Tensor, table: Tensor, bias: Tensor | None, generator: torch.Generator
    ) -> Tensor:
        logits = user @ table[1:].T
        if bias is not None:
            logits = logits + bias[1:]
        return F.cross_entropy(logits, targets - 1)
