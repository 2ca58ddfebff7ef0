"""BERT4Rec (Sun et al. 2019; RecBole 1.2 form): bidirectional post-LN encoder + head."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.base import BACKBONES, Backbone, BackboneConfig, last_index, padding_mask
from specrec.models.dropout import Dropout
from specrec.models.layers import additive_mask, init_normal, transformer_stack


@dataclass
class BERT4RecConfig(BackboneConfig):
    n_layers: int = 2
    n_heads: int = 2
    inner_size: int = 256
    hidden_dropout: float = 0.2
    attn_dropout: float = 0.2
    activation: str = "gelu"
    layer_norm_eps: float = 1e-12
    init_std: float = 0.02
    mask_ratio: float = 0.2  # share of history items the training loop masks (cloze)
    ft_ratio: float = 0.5  # share of batches the loop turns into "mask the last item" samples


@BACKBONES.register("bert4rec")
class BERT4Rec(Backbone):
    """x̃_t = m if masked_t else x_t;  h_0 = Drop(LN(x̃_t + p_t));  h_{l+1} = PostLNBlock(h_l);
    out = LN(GELU(W h_L + b)), scored by the loop as out · Eᵀ + b_item (RecBole 1.2 head).

    Attention is bidirectional with a key-padding mask; positions count from the first item.
    """

    name = "bert4rec"
    causal = False
    Config = BERT4RecConfig

    def __init__(self, config: BERT4RecConfig, n_items: int) -> None:
        super().__init__(config, n_items)
        if config.dim % config.n_heads:
            raise SpecrecError(
                f"bert4rec: dim {config.dim} must be divisible by n_heads {config.n_heads}"
            )
        if not 0.0 < config.mask_ratio < 1.0 or not 0.0 <= config.ft_ratio <= 1.0:
            raise SpecrecError("bert4rec: mask_ratio must be in (0, 1) and ft_ratio in [0, 1]")
        if config.activation not in ("gelu", "relu"):
            raise SpecrecError(
                f"bert4rec: activation must be gelu or relu, got {config.activation!r}"
            )
        self.position = nn.Embedding(config.max_len, config.dim)
        self.norm = nn.LayerNorm(config.dim, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)
        self.layers = transformer_stack(config)
        self.head = nn.Linear(config.dim, config.dim)
        self.head_norm = nn.LayerNorm(config.dim, eps=config.layer_norm_eps)
        self.apply(lambda m: init_normal(m, config.init_std))
        self.mask_vector = nn.Parameter(torch.empty(config.dim))
        nn.init.normal_(self.mask_vector, 0.0, config.init_std)
        self.output_bias = nn.Parameter(torch.zeros(n_items + 1))

    def forward(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        hidden, mask, valid = self._embedded(x, lengths, masked)
        for layer in self.layers:
            hidden = layer(hidden, mask)
        hidden = self.head_norm(F.gelu(self.head(hidden)))
        return hidden.masked_fill(~valid[..., None], 0.0)

    def last_hidden(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        """`forward(...)[b, length_b − 1]`, with the last layer and the head run for that
        position only (the mask slot that ranking reads)."""
        if not self.layers:
            return super().last_hidden(x, lengths, masked=masked)
        hidden, mask, _ = self._embedded(x, lengths, masked)
        for layer in self.layers[:-1]:
            hidden = layer(hidden, mask)
        last = self.layers[-1](hidden, mask, query=last_index(lengths))
        last = self.head_norm(F.gelu(self.head(last)))
        return last.masked_fill((lengths < 1)[:, None], 0.0)

    def _embedded(
        self, x: Tensor, lengths: Tensor, masked: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """h_0, the additive key-padding mask and the validity of each position."""
        length = x.size(1)
        if length > self.config.max_len:
            raise SpecrecError(
                f"bert4rec: sequence length {length} exceeds max_len {self.config.max_len}"
            )
        valid = padding_mask(lengths, length)
        x = x.masked_fill(~valid[..., None], 0.0)
        if masked is not None:
            x = torch.where(masked[..., None], self.mask_vector.to(x.dtype), x)
        positions = torch.arange(length, device=x.device)
        hidden = self.dropout(self.norm(x + self.position(positions)[None]))
        return hidden, additive_mask(valid, causal=False, dtype=hidden.dtype), valid

    def item_bias(self) -> Tensor:
        """The learned per-item logit bias `[n_items + 1]` (zeros at init)."""
        return self.output_bias
