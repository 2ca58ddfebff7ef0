"""Shared transformer pieces (RecBole-style post-LN blocks) and the weight initialisation."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specrec.models.dropout import Dropout


class TransformerLayer(nn.Module):
    """Post-LN block: A = LN(x + Drop(MHA(x))), out = LN(A + Drop(W2 act(W1 A)))."""

    def __init__(
        self,
        dim: int,
        n_heads: int,
        inner_size: int,
        hidden_dropout: float,
        attn_dropout: float,
        eps: float,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim {dim} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.attn_dropout = Dropout(attn_dropout)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.ffn_in = nn.Linear(dim, inner_size)
        self.ffn_out = nn.Linear(inner_size, dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.dropout = Dropout(hidden_dropout)
        self.activation = {"gelu": F.gelu, "relu": F.relu}[activation]

    def forward(self, x: Tensor, attn_mask: Tensor, query: Tensor | None = None) -> Tensor:
        """`x [B, L, D]`, `attn_mask [B, 1, L or 1, L]` additive (0 = attend, large negative = not).

        With `query [B]` (a position per row) only that position's output is computed, `[B, D]`:
        its keys and values still come from every position, but its query, the attention output,
        the residuals and the feed-forward part are one row instead of L."""
        batch, length, dim = x.shape
        if query is None:
            q, k, v = (t.transpose(1, 2) for t in self._heads(self.qkv(x), 3).unbind(2))
        else:
            rows = torch.arange(batch, device=x.device)
            weight_q, weight_kv = self.qkv.weight.split([dim, 2 * dim])
            bias_q, bias_kv = self.qkv.bias.split([dim, 2 * dim])
            keys_values = self._heads(F.linear(x, weight_kv, bias_kv), 2)
            k, v = (t.transpose(1, 2) for t in keys_values.unbind(2))
            x = x[rows, query][:, None]
            if attn_mask.size(2) > 1:  # one mask row per query (causal); else shared by all
                attn_mask = attn_mask[rows, :, query][:, :, None]
            q = self._heads(F.linear(x, weight_q, bias_q), 1)[:, :, 0].transpose(1, 2)
        if self.training and self.attn_dropout.p > 0 and x.device.type == "cpu":
            # SDPA's own definition, with the cheaper dropout mask on its weights
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.size(-1)) + attn_mask
            attended = self.attn_dropout(torch.softmax(scores, dim=-1)) @ v
        else:
            attended = F.scaled_dot_product_attention(
                q, k, v, attn_mask=attn_mask,
                dropout_p=self.attn_dropout.p if self.training else 0.0,
            )  # fmt: skip
        attended = attended.transpose(1, 2).reshape(batch, x.size(1), dim)
        x = self.norm1(x + self.dropout(self.out(attended)))
        out = self.norm2(x + self.dropout(self.ffn_out(self.activation(self.ffn_in(x)))))
        return out if query is None else out[:, 0]

    def _heads(self, projected: Tensor, parts: int) -> Tensor:
        """`[B, L, parts·D] -> [B, L, parts, heads, D / heads]`."""
        batch, length, width = projected.shape
        return projected.view(batch, length, parts, self.n_heads, width // (parts * self.n_heads))


def transformer_stack(config: Any) -> nn.ModuleList:
    """`config.n_layers` post-LN `TransformerLayer`s of the config's dim, n_heads, inner_size,
    hidden_dropout, attn_dropout, layer_norm_eps and activation (RecBole's TransformerEncoder)."""
    return nn.ModuleList(
        TransformerLayer(
            config.dim,
            config.n_heads,
            config.inner_size,
            config.hidden_dropout,
            config.attn_dropout,
            config.layer_norm_eps,
            config.activation,
        )
        for _ in range(config.n_layers)
    )


def additive_mask(valid: Tensor, causal: bool, dtype: torch.dtype) -> Tensor:
    """`[B, 1, L, L]` additive mask from key validity `[B, L]` (and causality): 0 or -10000."""
    keys = valid[:, None, None, :]
    if causal:
        length = valid.size(1)
        keys = keys & torch.ones(length, length, dtype=torch.bool, device=valid.device).tril()
    return torch.zeros(keys.shape, dtype=dtype, device=valid.device).masked_fill(~keys, -10000.0)


def init_normal(module: nn.Module, std: float) -> None:
    """RecBole init: Linear/Embedding weights N(0, std^2), biases 0, LayerNorm (1, 0)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, 0.0, std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
