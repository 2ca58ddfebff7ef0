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
        user, table = widened(user), widened(table)  # bf16 under autocast: the sums are float32
        items = table[1:]
        scale = widened(bias[1:]) if bias is not None else items.new_zeros(items.size(0))
        positive = (user * table[targets]).sum(dim=1)
        if bias is not None:
            positive = positive + widened(bias[targets])
        lse = ChunkedLogSumExp.apply(user, items, scale, self.config.chunk, positive.detach())
        return (lse - positive).mean()


def widened(tensor: Tensor) -> Tensor:
    """`tensor` in float32 when it is a 16-bit float (autocast's output), else as it is."""
    return tensor.float() if tensor.is_floating_point() and tensor.element_size() < 4 else tensor


class ChunkedLogSumExp(torch.autograd.Function):
    """lse_m = log Σ_j exp(⟨u_m, w_j⟩ + b_j) over blocks of `chunk` items, shifted by `shift` (the
    target logits; `_shifted_logsumexp`, falling back to `_blockwise_logsumexp` on overflow);
    backward recomputes each block's softmax P_mj = exp(⟨[u_m, 1, −lse_m], [w_j, b_j, 1]⟩), the
    bias and −lse folded into the matmul so that one in-place exp is the only pass over the block
    (in the inputs' dtype, also under bf16 autocast: −lse rounded to bf16 would bias every term):
    ∂/∂u_m = g_m Σ_j P_mj w_j,  ∂/∂w_j = Σ_m P_mj g_m u_m,  ∂/∂b_j = Σ_m P_mj g_m."""

    @staticmethod
    def forward(ctx, user: Tensor, items: Tensor, bias: Tensor, chunk: int, shift: Tensor) -> Tensor:
        with torch.autocast(user.device.type, enabled=False):  # float32 shift and sum, as backward
            lse = _shifted_logsumexp(user, items, bias, chunk, shift)
            if not torch.isfinite(lse).all():  # a logit above shift + 88 overflowed exp
                lse = _blockwise_logsumexp(user, items, bias, chunk)
        ctx.save_for_backward(user, items, bias, lse)
        ctx.chunk = chunk
        return lse

    @staticmethod
    def backward(ctx, grad_lse: Tensor):
        with torch.autocast(grad_lse.device.type, enabled=False):  # even if called under autocast
            return ChunkedLogSumExp._gradients(ctx, grad_lse)

    @staticmethod
    def _gradients(ctx, grad_lse: Tensor):
        user, items, bias, lse = ctx.saved_tensors
        shifted = torch.cat([user, user.new_ones(user.size(0), 1), -lse[:, None]], dim=1)
        scaled = user * grad_lse[:, None]
        grad_user = torch.zeros_like(user)
        grad_items = torch.empty_like(items)
        grad_bias = torch.empty_like(bias) if ctx.needs_input_grad[2] else None
        ones = items.new_ones(min(ctx.chunk, items.size(0)), 1)
        for start in range(0, items.size(0), ctx.chunk):
            stop = min(start + ctx.chunk, items.size(0))
            block = items[start:stop]
            extended = torch.cat([block, bias[start:stop, None], ones[: stop - start]], dim=1)
            probs = (shifted @ extended.T).exp_()  # softmax of the block, [M, C]
            grad_user.addmm_(probs, block)
            torch.mm(probs.T, scaled, out=grad_items[start:stop])
            if grad_bias is not None:
                torch.mv(probs.T, grad_lse, out=grad_bias[start:stop])
        return grad_user * grad_lse[:, None], grad_items, grad_bias, None, None


def _shifted_logsumexp(user: Tensor, items: Tensor, bias: Tensor, chunk: int, shift: Tensor) -> Tensor:
    """c_m + log Σ_j exp(s_mj − c_m) with c_m = `shift` (the target's logit, one of the s_mj, so the
    sum is >= 1 and blocks far below it underflow harmlessly): one matmul with −c folded in, one
    in-place exp and one row sum per block."""
    shifted = torch.cat([user, user.new_ones(user.size(0), 1), -shift[:, None]], dim=1)
    total = user.new_zeros(user.size(0))
    ones = items.new_ones(min(chunk, items.size(0)), 1)
    for start in range(0, items.size(0), chunk):
        stop = min(start + chunk, items.size(0))
        extended = torch.cat([items[start:stop], bias[start:stop, None], ones[: stop - start]], dim=1)
        total += (shifted @ extended.T).exp_().sum(dim=1)
    return shift + torch.log(total)


def _blockwise_logsumexp(user: Tensor, items: Tensor, bias: Tensor, chunk: int) -> Tensor:
    """log Σ_j exp(s_mj) by a running logaddexp of each block's max-shifted logsumexp (never
    overflows; two more passes per block than `_shifted_logsumexp`)."""
    with_one = torch.cat([user, user.new_ones(user.size(0), 1)], dim=1)
    lse = user.new_full((user.size(0),), float("-inf"))
    for start in range(0, items.size(0), chunk):
        block = torch.cat([items[start : start + chunk], bias[start : start + chunk, None]], dim=1)
        lse = torch.logaddexp(lse, torch.logsumexp(with_one @ block.T, dim=1))
    return lse
