"""RLMRec (AlphaFuse's SR "Con" variant): an ID table plus a cosine reconstruction loss from s·E."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder, zero_padding_row
from specrec.models.embedders.morec import (
    adapter_settings,
    frozen_basis,
    positive_int,
    real_option,
)
from specrec.transform.store import TransformTable

DEFAULTS = {"beta": 0.1, "align_items": 16384, "id_std": 0.02}


class RLMRec(ItemEmbedder):
    """E_item = E_ID (trainable, ~N(0, `id_std`²));
    aux = β · (1 − (1/|S|) Σ_{i∈S} cos(r(x_i), E_ID,i)).

    r = Linear(d→(d+k)/2) → LeakyReLU → Linear(→k) (xavier-uniform weights), x = s·E frozen.
    S = all items 1..N when N ≤ `align_items`, else a fresh uniform sample of that many per step.
    """

    def __init__(self, features: Tensor, dim: int, beta: float = 0.1, align_items: int = 16384,
                 id_std: float = 0.02) -> None:
        super().__init__(features.shape[0] - 1, dim)
        input_dim = features.shape[1]
        width = max(1, (input_dim + dim) // 2)
        self.register_buffer("features", features, persistent=False)
        self.id = nn.Parameter(torch.randn(features.shape[0], dim) * id_std)
        self.reconstructor = None  # β = 0: no unused parameters (DDP refuses those)
        if beta > 0:
            self.reconstructor = nn.Sequential(
                nn.Linear(input_dim, width), nn.LeakyReLU(), nn.Linear(width, dim)
            )
            for layer in (self.reconstructor[0], self.reconstructor[2]):
                nn.init.xavier_uniform_(layer.weight)
        self.beta, self.align_items = beta, align_items

    def forward(self) -> Tensor:
        return zero_padding_row(self.id)

    def aligned_items(self) -> Tensor:
        if self.n_items <= self.align_items:
            return torch.arange(1, self.n_items + 1, device=self.id.device)
        return (torch.randperm(self.n_items)[: self.align_items] + 1).to(self.id.device)

    def aux_loss(self, targets: Tensor | None = None) -> Tensor | None:
        """β · (1 − mean cosine) over `aligned_items()`; the batch's `targets` are not used."""
        if self.reconstructor is None:
            return None
        items = self.aligned_items()
        rebuilt = self.reconstructor(self.features[items])
        cosine = F.cosine_similarity(rebuilt.float(), self.id[items].float(), dim=1)
        return self.beta * (1.0 - cosine.mean())


@EMBEDDERS.register("rlmrec")
def build(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    features = frozen_basis(table, "features", n_items)
    settings = adapter_settings(table, options, DEFAULTS)
    beta = real_option(settings["beta"], "beta", "rlmrec")
    align_items = positive_int(settings["align_items"], "align_items", "rlmrec")
    id_std = real_option(settings["id_std"], "id_std", "rlmrec")
    return RLMRec(features, dim, beta, align_items, id_std)
