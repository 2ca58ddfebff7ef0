"""SASRec (Kang & McAuley 2018) as RecBole 1.2 builds it: post-LN causal transformer, no sqrt(D)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from specrec.models.base import BACKBONES, Backbone, BackboneConfig, last_index, padding_mask
from specrec.models.dropout import Dropout
from specrec.models.layers import additive_mask, init_normal, transformer_stack


@dataclass
class SASRecConfig(BackboneConfig):
    n_layers: int = 2
    n_heads: int = 2
    inner_size: int = 256
    hidden_dropout: float = 0.5
    attn_dropout: float = 0.5
    activation: str = "gelu"
    layer_norm_eps: float = 1e-12
    init_std: float = 0.02


@BACKBONES.register("sasrec")
class SASRec(Backbone):
    """h_0 = Drop(LN(e_i + p_t)); h_{l+1} = PostLNBlock(h_l) with a causal, key-padding mask.

    Positions count from the first item of the (truncated) history, as in RecBole.
    """

    name = "sasrec"
    causal = True
    Config = SASRecConfig

    def __init__(self, config: SASRecConfig, n_items: int) -> None:
        super().__init__(config, n_items)
        self.position = nn.Embedding(config.max_len, config.dim)
        self.norm = nn.LayerNorm(config.dim, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)
        self.layers = transformer_stack(config)
        self.apply(lambda m: init_normal(m, config.init_std))

    def forward(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        hidden, mask = self._embedded(x, lengths)
        for layer in self.layers:
            hidden = layer(hidden, mask)
        return hidden

    def last_hidden(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        """`forward(...)[b, length_b − 1]`, with the last layer run for that position only."""
        if not self.layers:
            return super().last_hidden(x, lengths)
        hidden, mask = self._embedded(x, lengths)
        for layer in self.layers[:-1]:
            hidden = layer(hidden, mask)
        return self.layers[-1](hidden, mask, query=last_index(lengths))

    def _embedded(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """h_0 and the additive causal, key-padding mask."""
        length = x.size(1)
        positions = torch.arange(length, device=x.device)
        hidden = self.dropout(self.norm(x + self.position(positions)[None]))
        return hidden, additive_mask(padding_mask(lengths, length), causal=True, dtype=hidden.dtype)
