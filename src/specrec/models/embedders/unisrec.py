"""UniSRec adapter: a mixture of parametric-whitening experts over frozen LLM embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.dropout import Dropout
from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder, zero_padding_row
from specrec.models.embedders.morec import (
    adapter_settings,
    frozen_basis,
    positive_int,
    real_option,
)
from specrec.transform.store import TransformTable

NOISE_FLOOR = 0.01


class ParametricWhitening(nn.Module):
    """PW(x) = W (Dropout(x) − b):  b ∈ R^d init 0, W ∈ R^{k×d} ~ N(0, 0.02²), no bias."""

    def __init__(self, input_dim: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.dropout = Dropout(dropout)
        self.shift = nn.Parameter(torch.zeros(input_dim))
        self.linear = nn.Linear(input_dim, dim, bias=False)
        nn.init.normal_(self.linear.weight, 0.0, 0.02)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.dropout(x) - self.shift)


class MoEAdaptor(ItemEmbedder):
    """E_item = Σ_g π_g(x) PW_g(x) [+ E_ID],
    π = softmax(x W_gate + ε ⊙ (softplus(x W_noise) + 0.01)).

    ε ~ N(0, 1) only in training; W_gate, W_noise start at zero, so the gates start uniform (1/G).
    x = s·E is frozen (non-persistent buffer). With `with_id` (UniSRec's transductive mode) a
    trainable ID table E_ID ~ N(0, 0.02²) is added.
    """

    def __init__(
        self, features: Tensor, dim: int, experts: int, dropout: float, with_id: bool
    ) -> None:
        super().__init__(features.shape[0] - 1, dim)
        input_dim = features.shape[1]
        self.register_buffer("features", features, persistent=False)
        self.experts = nn.ModuleList(
            ParametricWhitening(input_dim, dim, dropout) for _ in range(experts)
        )
        self.gate = nn.Parameter(torch.zeros(input_dim, experts))
        self.noise = nn.Parameter(torch.zeros(input_dim, experts))
        self.id = nn.Parameter(torch.randn(features.shape[0], dim) * 0.02) if with_id else None

    def gates(self, x: Tensor) -> Tensor:
        """Mixture weights `[rows, G]` (noisy in training mode)."""
        logits = x @ self.gate
        if self.training:
            spread = F.softplus(x @ self.noise) + NOISE_FLOOR
            logits = logits + torch.randn_like(logits) * spread
        return torch.softmax(logits, dim=-1)

    def forward(self) -> Tensor:
        x = self.features
        gates = self.gates(x)
        table = sum(gates[:, g, None] * expert(x) for g, expert in enumerate(self.experts))
        if self.id is not None:
            table = table + self.id
        return zero_padding_row(table)


@EMBEDDERS.register("unisrec")
def build(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    features = frozen_basis(table, "features", n_items)
    settings = adapter_settings(table, options, {"experts": 8, "dropout": 0.2, "with_id": False})
    experts = positive_int(settings["experts"], "experts", "unisrec")
    dropout = real_option(settings["dropout"], "dropout", "unisrec", below=1.0)
    if not isinstance(settings["with_id"], bool):
        raise SpecrecError(f"unisrec: with_id must be true or false, not {settings['with_id']!r}")
    return MoEAdaptor(features, dim, experts, dropout, settings["with_id"])
