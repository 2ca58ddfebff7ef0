"""AlphaFuse's SASRec: one pre-LN-query block, no W_o, Conv1d FFN, positions aligned to the end."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from specrec.models.base import BACKBONES, Backbone, BackboneConfig, last_index, padding_mask
from specrec.models.dropout import Dropout

MASKED = -(2.0**32) + 1  # the reference code's fill for masked scores


@dataclass
class SASRecAFConfig(BackboneConfig):
    n_layers: int = 1  # AlphaFuse builds one block whatever --num_blocks says
    n_heads: int = 1
    dropout: float = 0.1  # embedding, attention-weight and FFN dropout alike
    layer_norm_eps: float = 1e-5


class AlphaFuseBlock(nn.Module):
    """q = LN₁(s); A = softmax(mask((q W_q)(s W_k)ᵀ / √D)) (s W_v) + q   (no output projection);
    f = LN₂(A); out = LN_f(f + Drop(W₂ ReLU(W₁ f)))   (W₁, W₂: D×D, the Conv1d k=1 of the code).

    Scores are divided by √D, the whole width, not √(D/H), as in the reference code.
    """

    def __init__(self, dim: int, n_heads: int, dropout: float, eps: float) -> None:
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim {dim} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.query_norm = nn.LayerNorm(dim, eps=eps)
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.attn_dropout = Dropout(dropout)
        self.ffn_norm = nn.LayerNorm(dim, eps=eps)
        self.ffn_in = nn.Linear(dim, dim)  # a Conv1d(D, D, 1) has the same weights and init
        self.ffn_out = nn.Linear(dim, dim)
        self.ffn_dropout = Dropout(dropout)
        self.ffn_residual_norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, s: Tensor, allowed: Tensor, query: Tensor | None = None) -> Tensor:
        """`s [B, L, D]` (pads zeroed), `allowed [B, 1, L, L]` bool (causal and valid keys).

        With `query [B]` (a position per row) only that position's output is computed, `[B, D]`,
        from the keys and values of every position."""
        batch, length, dim = s.shape
        queries = s
        if query is not None:
            rows = torch.arange(batch, device=s.device)
            queries, allowed = s[rows, query][:, None], allowed[rows, :, query][:, :, None]
        q_in = self.query_norm(queries)

        def heads(t: Tensor) -> Tensor:
            return t.view(batch, t.size(1), self.n_heads, dim // self.n_heads).transpose(1, 2)

        q, k, v = heads(self.query(q_in)), heads(self.key(s)), heads(self.value(s))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(dim)
        weights = torch.softmax(scores.masked_fill(~allowed, MASKED), dim=-1)
        attended = (self.attn_dropout(weights) @ v).transpose(1, 2).reshape(batch, q.size(2), dim)
        f = self.ffn_norm(attended + q_in)
        inner = self.ffn_out(torch.relu(self.ffn_in(f)))
        out = self.ffn_residual_norm(f + self.ffn_dropout(inner))
        return out if query is None else out[:, 0]


@BACKBONES.register("sasrec-af", "sasrec_af")
class SASRecAF(Backbone):
    """s₀ = Drop(e_i + p_{L−n+t}) ⊙ m; s ← Block(s) ⊙ m per block; h = LN(s).

    A history of n items in the fixed window of L = max_len positions sits at positions
    L−n … L−1, as AlphaFuse's left-padded rows do, so the last item is always at L−1; the rows
    stay right-padded here (m masks the pads as keys and zeroes them), which gives the valid
    positions exactly what the left-padded layout gives them. No √D scaling; PyTorch's default
    initialisation (the reference code sets none).
    """

    name = "sasrec-af"
    causal = True
    Config = SASRecAFConfig

    def __init__(self, config: SASRecAFConfig, n_items: int) -> None:
        super().__init__(config, n_items)
        if config.n_layers < 1 or config.n_heads < 1:
            raise ValueError("n_layers and n_heads must be >= 1")
        if not 0 <= config.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), not {config.dropout}")
        self.position = nn.Embedding(config.max_len, config.dim)
        self.dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            AlphaFuseBlock(config.dim, config.n_heads, config.dropout, config.layer_norm_eps)
            for _ in range(config.n_layers)
        )
        self.final_norm = nn.LayerNorm(config.dim, eps=config.layer_norm_eps)

    def positions(self, lengths: Tensor, width: int) -> Tensor:
        """`[B, width]` position ids L − n + t (clamped at 0 on pads, which are masked)."""
        steps = torch.arange(width, device=lengths.device)[None, :]
        return (self.config.max_len - lengths[:, None] + steps).clamp(0, self.config.max_len - 1)

    def forward(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        s, allowed, keep = self._embedded(x, lengths)
        for block in self.blocks:
            s = block(s, allowed) * keep
        return self.final_norm(s)

    def last_hidden(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        """`forward(...)[b, length_b − 1]`, with the last block run for that position only."""
        s, allowed, keep = self._embedded(x, lengths)
        for block in self.blocks[:-1]:
            s = block(s, allowed) * keep
        last = self.blocks[-1](s, allowed, query=last_index(lengths))
        return self.final_norm(last * (lengths > 0)[:, None].to(last.dtype))

    def _embedded(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """s₀, the causal and valid-key mask `[B, 1, L, L]` and the valid positions `[B, L, 1]`."""
        width = x.size(1)
        if int(lengths.max()) > self.config.max_len:
            raise ValueError(f"a history of {int(lengths.max())} items is longer than "
                             f"max_len {self.config.max_len}")
        valid = padding_mask(lengths, width)
        keep = valid[..., None].to(x.dtype)
        s = self.dropout(x + self.position(self.positions(lengths, width))) * keep
        causal = torch.ones(width, width, dtype=torch.bool, device=x.device).tril()
        return s, valid[:, None, None, :] & causal, keep
