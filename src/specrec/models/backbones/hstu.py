"""HSTU (Zhai et al. ICML'24) with research-code semantics, in dense right-padded plain PyTorch."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.base import BACKBONES, Backbone, BackboneConfig, last_index, padding_mask
from specrec.models.dropout import Dropout

RAB_MODES = ("none", "position", "position+time")
NORM_EPS = 1e-6


@dataclass
class HSTUConfig(BackboneConfig):
    n_layers: int = 2
    n_heads: int = 1
    attention_dim: int | None = None  # d_qk per head; None -> dim // n_heads
    linear_dim: int | None = None  # d_v per head; None -> dim // n_heads
    dropout: float = 0.2
    rab: str = "position"
    num_buckets: int = 128
    l2_output: bool = True
    init_std: float = 0.02


def time_buckets(timestamps: Tensor, num_buckets: int) -> Tensor:
    """`[B, L + 1]` seconds -> `[B, L, L]` bucket ids of Δ[i, j] = ts[i + 1] − ts[j]:
    bucket = clamp(trunc(ln(max(|Δ|, 1)) / 0.301), 0, num_buckets)."""
    delta = timestamps[:, 1:, None] - timestamps[:, None, :-1]
    scaled = delta.abs().clamp(min=1).double().log() / 0.301
    return scaled.long().clamp(0, num_buckets).detach()


class RelativeBias(nn.Module):
    """rab[i, j] = w_pos[N − 1 + j − i]  (+ w_ts[bucket(ts[i + 1] − ts[j])] given timestamps)."""

    def __init__(self, n_total: int, num_buckets: int, use_time: bool, std: float) -> None:
        super().__init__()
        self.n_total = n_total
        self.num_buckets = num_buckets
        self.position_weights = nn.Parameter(torch.empty(2 * n_total - 1).normal_(0.0, std))
        self.time_weights = (
            nn.Parameter(torch.empty(num_buckets + 1).normal_(0.0, std)) if use_time else None
        )

    def forward(self, length: int, timestamps: Tensor | None) -> Tensor:
        """The bias `[B or 1, L, L]`, shared by all heads."""
        steps = torch.arange(length, device=self.position_weights.device)
        bias = self.position_weights[self.n_total - 1 + steps[None, :] - steps[:, None]][None]
        if self.time_weights is not None and timestamps is not None:
            bias = bias + self.time_weights[time_buckets(timestamps, self.num_buckets)]
        return bias


class HSTULayer(nn.Module):
    """U, V, Q, K = SiLU(LN(X) W_uvqk);  A = SiLU(QKᵀ + rab) / N · 1[j ≤ i, j valid];
    Y = W_o Drop(U ⊙ LN(A V)) + b_o + X   (both LNs without affine, ε = 1e-6; no FFN)."""

    def __init__(self, config: HSTUConfig, qk_dim: int, v_dim: int, n_total: int) -> None:
        super().__init__()
        heads = config.n_heads
        self.n_total = n_total
        self.split = [heads * v_dim, heads * v_dim, heads * qk_dim, heads * qk_dim]
        self.uvqk = nn.Linear(config.dim, sum(self.split), bias=False)
        nn.init.normal_(self.uvqk.weight, 0.0, config.init_std)
        self.out = nn.Linear(heads * v_dim, config.dim)  # bias keeps PyTorch's default init
        nn.init.xavier_uniform_(self.out.weight)
        self.dropout = Dropout(config.dropout)
        self.rel_bias = (
            None
            if config.rab == "none"
            else RelativeBias(
                n_total, config.num_buckets, config.rab == "position+time", config.init_std
            )
        )
        self.heads = heads

    def forward(self, x: Tensor, keep: Tensor, timestamps: Tensor | None,
                query: Tensor | None = None) -> Tensor:
        """`x [B, L, D]`; `keep [B, 1, L, L]` bool (causal and key-valid); timestamps or None.

        With `query [B]` (a position per row) only that position's output is computed, `[B, D]`:
        V and K still come from every position; U, Q, the attention row and W_o from one."""
        batch, length, dim = x.shape
        normed = F.layer_norm(x, (dim,), eps=NORM_EPS)
        if query is None:
            u, v, q, k = F.silu(self.uvqk(normed)).split(self.split, dim=-1)
        else:
            rows = torch.arange(batch, device=x.device)
            u_weight, v_weight, q_weight, k_weight = self.uvqk.weight.split(self.split)
            v, k = F.silu(F.linear(normed, torch.cat([v_weight, k_weight]))).split(
                [self.split[1], self.split[3]], dim=-1)
            x, keep = x[rows, query][:, None], keep[rows, :, query][:, :, None]
            u, q = F.silu(F.linear(normed[rows, query][:, None], torch.cat([u_weight, q_weight]))
                          ).split([self.split[0], self.split[2]], dim=-1)
        q = q.view(batch, q.size(1), self.heads, -1).transpose(1, 2)
        k, v = (t.view(batch, length, self.heads, -1).transpose(1, 2) for t in (k, v))
        scores = q @ k.transpose(-1, -2)  # no 1/sqrt(d): research code
        if self.rel_bias is not None:
            bias = self.rel_bias(length, timestamps)
            if query is not None:
                bias = bias.expand(batch, -1, -1)[rows, query][:, None]
            scores = scores + bias[:, None]
        weights = torch.where(keep, F.silu(scores), 0.0) / self.n_total
        attended = (weights @ v).transpose(1, 2).reshape(batch, q.size(2), -1)
        gated = u * F.layer_norm(attended, (attended.size(-1),), eps=NORM_EPS)
        out = self.out(self.dropout(gated)) + x
        return out if query is None else out[:, 0]


@BACKBONES.register("hstu")
class HSTU(Backbone):
    """h_0 = Drop(√D·x_t + P_t) · 1[t valid];  h_{l+1} = HSTULayer(h_l) · 1[t valid];
    out = h_L / max(‖h_L‖, 1e-6) when `l2_output`.

    N = max_len + 1 is a constant (the position table's size): outputs depend on it, not on the
    batch's padded length. `rab`: `position` (default; w_pos only, timestamps ignored),
    `position+time` (adds the bucketed time bias whenever timestamps are given), `none` (what the
    research code does when it is fed no timestamps).
    """

    name = "hstu"
    causal = True
    Config = HSTUConfig

    def __init__(self, config: HSTUConfig, n_items: int) -> None:
        super().__init__(config, n_items)
        if config.rab not in RAB_MODES:
            raise SpecrecError(
                f"hstu: rab must be one of {', '.join(RAB_MODES)}, got {config.rab!r}"
            )
        if config.n_layers <= 0 or config.n_heads <= 0 or config.num_buckets <= 0:
            raise SpecrecError("hstu: n_layers, n_heads and num_buckets must be positive")
        if not 0.0 <= config.dropout < 1.0:
            raise SpecrecError(f"hstu: dropout must be in [0, 1), got {config.dropout}")
        default_dims = config.attention_dim is None or config.linear_dim is None
        if default_dims and config.dim % config.n_heads:
            raise SpecrecError(
                f"hstu: dim {config.dim} is not divisible by n_heads {config.n_heads}; "
                "set attention_dim and linear_dim explicitly"
            )
        per_head = config.dim // config.n_heads
        qk_dim = per_head if config.attention_dim is None else config.attention_dim
        v_dim = per_head if config.linear_dim is None else config.linear_dim
        if qk_dim <= 0 or v_dim <= 0:
            raise SpecrecError("hstu: attention_dim and linear_dim must be positive")
        self.n_total = config.max_len + 1
        self.position = nn.Embedding(self.n_total, config.dim)
        nn.init.xavier_normal_(self.position.weight)
        self.dropout = Dropout(config.dropout)
        self.layers = nn.ModuleList(
            HSTULayer(config, qk_dim, v_dim, self.n_total) for _ in range(config.n_layers)
        )
        self.uses_time = config.rab == "position+time"

    def forward(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        hidden, keep, valid, timestamps = self._embedded(x, lengths, timestamps)
        for layer in self.layers:
            hidden = layer(hidden, keep, timestamps).masked_fill(~valid, 0.0)
        return self._output(hidden)

    def last_hidden(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        """`forward(...)[b, length_b − 1]`, with the last layer run for that position only (a
        row's last position is valid, so its padding mask is a no-op there)."""
        hidden, keep, valid, timestamps = self._embedded(x, lengths, timestamps)
        for layer in self.layers[:-1]:
            hidden = layer(hidden, keep, timestamps).masked_fill(~valid, 0.0)
        last = self.layers[-1](hidden, keep, timestamps, query=last_index(lengths))
        last = last.masked_fill((lengths == 0)[:, None], 0.0)  # an empty row, as forward's
        return self._output(last)

    def _output(self, hidden: Tensor) -> Tensor:
        return F.normalize(hidden, dim=-1, eps=NORM_EPS) if self.config.l2_output else hidden

    def _embedded(self, x: Tensor, lengths: Tensor, timestamps: Tensor | None
                  ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """h_0, the causal key-valid `keep [B, 1, L, L]`, the valid positions `[B, L, 1]` and the
        timestamps the layers use (None unless `rab` is position+time)."""
        batch, length, dim = x.shape
        if length > self.n_total:
            raise SpecrecError(
                f"hstu: sequence length {length} exceeds max_len + 1 = {self.n_total}"
            )
        if not self.uses_time:
            timestamps = None
        elif timestamps is not None and tuple(timestamps.shape) != (batch, length + 1):
            raise SpecrecError(
                f"hstu: timestamps must have shape [B, L + 1] = [{batch}, {length + 1}], "
                f"got {list(timestamps.shape)}"
            )
        valid = padding_mask(lengths, length)[..., None]
        positions = torch.arange(length, device=x.device)
        hidden = self.dropout(math.sqrt(dim) * x + self.position(positions)[None])
        hidden = hidden.masked_fill(~valid, 0.0)
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
        keep = (causal[None] & valid.transpose(1, 2))[:, None]
        return hidden, keep, valid, timestamps
