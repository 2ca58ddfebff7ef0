"""A sequential recommender = item embedder (the item table) + backbone; scores are dot products
(or cosines over a temperature)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specrec.models.base import Backbone
from specrec.models.embedders.base import ItemEmbedder
from specrec.models.rows import gather_rows


UNIT_EPS = 1e-6


class SequentialRecommender(nn.Module):
    """u = backbone(E[seq])[len − 1];  score(u, j) = ⟨u, E_j⟩ + b_j  (E tied for input and output).

    With a `temperature` τ: score(u, j) = ⟨u/‖u‖, E_j/‖E_j‖⟩/τ + b_j (cosine scoring, as HSTU's
    research code); the backbone still reads the raw E.
    """

    def __init__(
        self, embedder: ItemEmbedder, backbone: Backbone, temperature: float | None = None
    ) -> None:
        super().__init__()
        if embedder.dim != backbone.config.dim:
            raise ValueError(f"embedder dim {embedder.dim} != backbone dim {backbone.config.dim}")
        self.embedder = embedder
        self.backbone = backbone
        self.temperature = temperature

    @property
    def max_len(self) -> int:
        return self.backbone.config.max_len

    def item_table(self) -> Tensor:
        return self.embedder()

    def item_bias(self) -> Tensor | None:
        return self.backbone.item_bias()

    def score_table(self, table: Tensor) -> Tensor:
        """The item vectors users are scored against: E, or its unit rows under a temperature."""
        if self.temperature is None:
            return table
        return F.normalize(table, dim=-1, eps=UNIT_EPS)

    def score_user(self, user: Tensor) -> Tensor:
        """The user vectors that score items: u, or u/(‖u‖ τ) under a temperature."""
        if self.temperature is None:
            return user
        return F.normalize(user, dim=-1, eps=UNIT_EPS) / self.temperature

    def hidden(
        self,
        seq: Tensor,
        lengths: Tensor,
        table: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        """Hidden states `[B, L, D]` of right-padded item ids `seq [B, L]`."""
        return self.backbone(gather_rows(table, seq), lengths, masked=masked, timestamps=timestamps)

    def forward(self, seq: Tensor, lengths: Tensor, timestamps: Tensor | None = None) -> Tensor:
        """User vectors `[B, D]` that score the next item of each history (used for ranking)."""
        table = self.item_table()
        if self.backbone.causal:
            items = gather_rows(table, seq)
            return self.score_user(self.backbone.last_hidden(items, lengths, timestamps=timestamps))
        seq, lengths, masked = append_mask_slot(seq, lengths, self.max_len)
        items = gather_rows(table, seq)
        return self.score_user(self.backbone.last_hidden(items, lengths, masked=masked))


def append_mask_slot(seq: Tensor, lengths: Tensor, max_len: int) -> tuple[Tensor, Tensor, Tensor]:
    """Cloze prediction input: one masked slot after each history (oldest item dropped if full)."""
    batch = seq.size(0)
    extended = torch.cat([seq, seq.new_zeros(batch, max_len + 1 - seq.size(1))], dim=1)
    full = lengths >= max_len
    shifted = torch.where(full[:, None], extended[:, 1 : max_len + 1], extended[:, :max_len])
    new_lengths = torch.where(full, lengths, lengths + 1)
    shifted = shifted[:, : int(new_lengths.max())]
    masked = torch.zeros_like(shifted, dtype=torch.bool)
    masked[torch.arange(batch, device=seq.device), new_lengths - 1] = True
    return shifted, new_lengths, masked
