"""Full-softmax cross-entropy over every item (RecBole's default for SASRec/GRU4Rec/BERT4Rec)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from specrec.errors import SpecrecError
from specrec.models.losses.base import LOSSES, Loss, LossConfig


@dataclass
class FullSoftmaxConfig(LossConfig):
    chunk: int | None = None  # items per block of the streamed log-sum-exp; None: all at once


@LOSSES.register("ce")
class FullSoftmaxCE(Loss):
    """ℓ = −s_p + log Σ_{j=1..N} exp s_j,  s_j = ⟨u, e_j⟩ (+ b_j); the padding row is no class.

    With `chunk` C the log-sum-exp is streamed over blocks of C items, forward and backward
    (`chunked_logsumexp`), so memory is M × C instead of M × N; the value and gradients are the
    full softmax's.
    """

    Config = FullSoftmaxConfig

    def __init__(self, config: FullSoftmaxConfig) -> None:
        super().__init__(config)
        if config.chunk is not None and (isinstance(config.chunk, bool)
                                         or not isinstance(config.chunk, int) or config.chunk < 1):
            raise SpecrecError(f"loss 'ce': chunk must be a whole number >= 1, not {config.chunk!r}")

    def __call__(
        self, user: Tensor, targets: Tensor, table: Tensor, bias: Tensor | None, generator: torch.Generator
    ) -> Tensor:
        items = table[1:]
        if self.config.chunk is None or self.config.chunk >= items.size(0):
            logits = user @ items.T
            if bias is not None:
                logits = logits + bias[1:]
            return F.cross_entropy(logits, targets - 1)
        scale = bias[1:] if bias is not None else items.new_zeros(items.size(0))
        lse = ChunkedLogSumExp.apply(user, items, scale, self.config.chunk)
        positive = (user * table[targets]).sum(dim=1)
        if bias is not None:
            positive = positive + bias[targets]
        return (lse - positive).mean()


class ChunkedLogSumExp(torch.autograd.Function):
    """lse_m = log Σ_j exp(⟨u_m, w_j⟩ + b_j) over blocks of `chunk` items (running max and sum);
    backward recomputes each block's logits: ∂lse_m/∂s_mj = softmax_mj = exp(s_mj − lse_m)."""

    @staticmethod
    def forward(ctx, user: Tensor, items: Tensor, bias: Tensor, chunk: int) -> Tensor:
        running_max = user.new_full((user.size(0),), float("-inf"))
        running_sum = user.new_zeros(user.size(0))
        for start in range(0, items.size(0), chunk):
            logits = user @ items[start : start + chunk].T + bias[start : start + chunk]
            block_max = logits.max(dim=1).values
            new_max = torch.maximum(running_max, block_max)
            running_sum = (running_sum * torch.exp(running_max - new_max)
                           + torch.exp(logits - new_max[:, None]).sum(dim=1))
            running_max = new_max
        lse = running_max + torch.log(running_sum)
        ctx.save_for_backward(user, items, bias, lse)
        ctx.chunk = chunk
        return lse

    @staticmethod
    def backward(ctx, grad_lse: Tensor):
        user, items, bias, lse = ctx.saved_tensors
        grad_user = torch.zeros_like(user)
        grad_items = torch.zeros_like(items)
        grad_bias = torch.zeros_like(bias)
        for start in range(0, items.size(0), ctx.chunk):
            block = items[start : start + ctx.chunk]
            logits = user @ block.T + bias[start : start + ctx.chunk]
            weights = torch.exp(logits - lse[:, None]) * grad_lse[:, None]  # softmax · upstream
            grad_user += weights @ block
            grad_items[start : start + ctx.chunk] = weights.T @ user
            grad_bias[start : start + ctx.chunk] = weights.sum(dim=0)
        return grad_user, grad_items, grad_bias, None
