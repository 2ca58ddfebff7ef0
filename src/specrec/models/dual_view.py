"""LLM-ESR's dual-view encoder: two-way cross-attention, then one shared backbone on each view."""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.base import Backbone, padding_mask

CROSS_HEADS = 2
"""Heads of each cross-attention (LLM-ESR's `Multi_CrossAttention(64, 64, 2)`)."""


class CrossAttention(nn.Module):
    """CA(x, y) = W_o [softmax_M(Q_h K_hᵀ/√d_h) V_h]_h + b_o with Q = x W_q, K = y W_k, V = y W_v
    (bias-free, split into H heads of d_h = k/H): queries from x, keys and values from y.

    softmax_M gives weight exactly 0 to every key the bool mask `allowed [B, L, L]` (query,
    key) forbids, and a query with no allowed key reads 0. Weights xavier-normal (LLM-ESR's
    `_init_weights`); b_o keeps PyTorch's default. No dropout, as the reference.
    """

    def __init__(self, dim: int, heads: int = CROSS_HEADS) -> None:
        super().__init__()
        if dim % heads:
            raise SpecrecError(
                f"llmesr: the per-view --dim {dim} must be divisible by the {heads} "
                "cross-attention heads; use an even --dim"
            )
        self.heads = heads
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)
        self.value = nn.Linear(dim, dim, bias=False)
        self.out = nn.Linear(dim, dim)
        for layer in (self.query, self.key, self.value, self.out):
            nn.init.xavier_normal_(layer.weight)

    def forward(self, x: Tensor, y: Tensor, allowed: Tensor) -> Tensor:
        batch, length, dim = x.shape

        def split(t: Tensor) -> Tensor:
            return t.view(batch, length, self.heads, dim // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(y)), split(self.value(y))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(dim // self.heads)
        allowed = allowed[:, None]
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1) * allowed
        attended = (weights.to(v.dtype) @ v).transpose(1, 2).reshape(batch, length, dim)
        return self.out(attended)


class DualView(Backbone):
    """x = [x_id; x_llm] ∈ R^{B×L×2k} (the two views of an item table of width 2k):

      x̃_id  = CA_llm→id(x_llm, x_id),   x̃_llm = CA_id→llm(x_id, x_llm)    (no residual)
      h     = [f(x̃_id); f(x̃_llm)]                                        (one f, shared)

    f = the wrapped backbone of width k (LLM-ESR's `log2feats`: `llm2id(llm, id)` feeds the ID
    stream, `id2llm(id, llm)` the LLM stream). The cross-attention masks pad keys; for a causal f
    also every later key (query t reads keys ≤ t: LLM-ESR masks pad keys only, which lets
    position t read item t + 1 under its seq-to-seq loss); for a cloze f the `masked` keys (they
    hold the items to predict; f swaps their queries for its mask vector). `config.dim` = 2k.
    """

    name = "dual_view"

    def __init__(self, inner: Backbone, heads: int = CROSS_HEADS) -> None:
        super().__init__(replace(inner.config, dim=2 * inner.config.dim), inner.n_items)
        self.causal = inner.causal
        self.inner = inner
        self.to_id = CrossAttention(inner.config.dim, heads)
        self.to_llm = CrossAttention(inner.config.dim, heads)

    def allowed(self, lengths: Tensor, length: int, masked: Tensor | None) -> Tensor:
        """`[B, L, L]` bool: which keys each query may read."""
        keys = padding_mask(lengths, length)
        if not self.causal and masked is not None:
            keys = keys & ~masked
        allowed = keys[:, None, :].expand(-1, length, -1)
        if self.causal:
            order = torch.ones(length, length, dtype=torch.bool, device=lengths.device).tril()
            allowed = allowed & order
        return allowed

    def forward(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        width = self.inner.config.dim
        x_id, x_llm = x[..., :width], x[..., width:]
        allowed = self.allowed(lengths, x.size(1), masked)
        streams = (self.to_id(x_llm, x_id, allowed), self.to_llm(x_id, x_llm, allowed))
        return torch.cat(
            [self.inner(s, lengths, masked=masked, timestamps=timestamps) for s in streams], dim=-1
        )

    def item_bias(self) -> Tensor | None:
        return self.inner.item_bias()
