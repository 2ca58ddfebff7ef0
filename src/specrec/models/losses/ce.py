"""Full-softmax cross-entropy over every item (RecBole's default for SASRec/GRU4Rec/BERT4Rec)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from specrec.errors import SpecrecError
from specrec.models.losses.base import LOSSES, Loss, LossConfig
from specrec.models.rows import gather_rows


@dataclass
class FullSoftmaxConfig(LossConfig):
    chunk: int | None = None  # most items per block of the streamed log-sum-exp; >= N: all at once


@LOSSES.register("ce")
class FullSoftmaxCE(Loss):
    """ℓ = −s_p + log Σ_{j=1..N} exp s_j,  s_j = ⟨u, e_j⟩ (+ b_j); the padding row is no class.

    On CPU, by default, the softmax of a block of rows × all N items is computed once, in the
    forward pass, and kept just long enough to take that block's gradients (`KeptRowsCE`): three
    products per score, the model's own, in at most `SCORES_KEPT` scores of memory. When not even
    `ROWS_KEPT_MIN` rows fit (N > 65,536), or with an explicit `chunk` < N, the log-sum-exp is
    streamed over blocks of at most `chunk` items (512 by default), forward and backward
    (`ChunkedLogSumExp`), the backward recomputing each block. On other devices None means the
    whole M × N logits in one `F.cross_entropy`, as does a `chunk` >= N everywhere. Each way gives
    the full softmax's value and gradients.
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
        items, chunk = table[1:], self.config.chunk
        keep = kept_rows(items.size(0), user.device) if chunk is None else 0
        if chunk is None and user.device.type == "cpu":
            chunk = BLOCK_ITEMS
        if not keep and (chunk is None or chunk >= items.size(0)):
            logits = user @ items.T
            if bias is not None:
                logits = logits + bias[1:]
            return F.cross_entropy(logits, targets - 1)
        user, table = widened(user), widened(table)  # bf16 under autocast: the sums are float32
        items = table[1:]
        scale = widened(bias[1:]) if bias is not None else items.new_zeros(items.size(0))
        positive = (user * gather_rows(table, targets)).sum(dim=1)
        if bias is not None:
            positive = positive + widened(bias[targets])
        if keep and torch.is_grad_enabled() and (user.requires_grad or items.requires_grad
                                                 or scale.requires_grad):
            return KeptRowsCE.apply(user, items, scale, positive.detach(), keep) - positive.mean()
        lse = ChunkedLogSumExp.apply(user, items, scale, chunk, positive.detach())
        return (lse - positive).mean()


def widened(tensor: Tensor) -> Tensor:
    """`tensor` in float32 when it is a 16-bit float (autocast's output), else as it is."""
    return tensor.float() if tensor.is_floating_point() and tensor.element_size() < 4 else tensor


BLOCK_SCORES = 2**18  # scores per block on CPU: 1 MiB in float32, which stays in a core's L2
BLOCK_ITEMS = 512     # items per block on CPU: square blocks of 2^18 scores are the fastest
ROWS_PER_BLOCK_MIN = 16
SCORES_KEPT = 2**23   # scores of the softmax block `KeptRowsCE` keeps on CPU: 32 MiB in float32
ROWS_KEPT_MAX = 512
ROWS_KEPT_MIN = 128   # fewer rows make its products slower than streaming blocks


def kept_rows(n_items: int, device: torch.device) -> int:
    """Rows per block of `KeptRowsCE` for `n_items` classes on `device`; 0: stream blocks instead.

    Against the streamed blocks it skips the backward's recomputed logits and its second exp. On
    one EPYC core, forward and backward of the loss for 1,230 × 64 user vectors against 26,744
    items took 241–252 ms against 323–340 ms streamed, and for 1,600 against 1,682 items 21–22 ms
    against 30–33 ms; blocks of 128 to 512 rows measured alike (bench/results/scale.md)."""
    if device.type != "cpu":
        return 0
    rows = min(ROWS_KEPT_MAX, SCORES_KEPT // max(n_items, 1))
    return rows if rows >= ROWS_KEPT_MIN else 0


def block_shape(rows: int, chunk: int, device: torch.device) -> tuple[int, int]:
    """(rows, items) of one block: at most `chunk` items, and on CPU at most `BLOCK_SCORES`
    scores, as square as that allows; elsewhere every row (one kernel per block of items).

    A block of the whole batch × `chunk` items (26 MB at 1,600 rows × 4,096 items) leaves the
    cache between the matmul that writes it and the exp and sums that read it; blocks of 2^18
    scores do not. On one Xeon core, forward and backward of 1,600 × 64 against 26,744 items went
    from 0.27 s (every row × 4,096 items) to 0.20 s (docs/training.md)."""
    if device.type != "cpu":
        return rows, chunk
    items = min(chunk, BLOCK_ITEMS)
    return max(ROWS_PER_BLOCK_MIN, min(rows, BLOCK_SCORES // items)), items


class ChunkedLogSumExp(torch.autograd.Function):
    """lse_m = log Σ_j exp(⟨u_m, w_j⟩ + b_j) over blocks of rows × items (`block_shape`), shifted
    by `shift` (the target logits; `_shifted_logsumexp`, falling back to `_blockwise_logsumexp` on
    overflow); backward recomputes each block's softmax P_mj = exp(⟨[u_m, 1, −lse_m], [w_j, b_j,
    1]⟩), the bias and −lse folded into the matmul so that one in-place exp is the only pass over
    the block (in the inputs' dtype, also under bf16 autocast: −lse rounded to bf16 would bias
    every term), and takes the item and bias gradients from one product with [g_m u_m, g_m]:
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
        rows, width = block_shape(user.size(0), ctx.chunk, user.device)
        shifted = _with_shift(user, lse)
        scaled = torch.cat([user * grad_lse[:, None], grad_lse[:, None]], dim=1)  # [g u, g]
        grad_user = torch.zeros_like(user)
        grad_extended = torch.zeros(items.size(0), items.size(1) + 1, dtype=items.dtype,
                                    device=items.device)  # [∂/∂w_j, ∂/∂b_j]
        for start in range(0, items.size(0), width):
            block, extended = items[start : start + width], _extended(items, bias, start, width)
            grad_block = grad_extended[start : start + width]
            for row in range(0, user.size(0), rows):
                probs = (shifted[row : row + rows] @ extended.T).exp_()  # the block's softmax
                grad_user[row : row + rows].addmm_(probs, block)
                grad_block.addmm_(probs.T, scaled[row : row + rows])
        grad_bias = grad_extended[:, -1] if ctx.needs_input_grad[2] else None
        return grad_user * grad_lse[:, None], grad_extended[:, :-1], grad_bias, None, None


class KeptRowsCE(torch.autograd.Function):
    """mean_m lse_m, lse_m = log Σ_j exp(⟨u_m, w_j⟩ + b_j), with its gradients taken in the forward
    pass, block by block of `rows` rows × all N items: P = exp(⟨[u_m, 1, −c_m], [w_j, b_j, 1]⟩)
    (c_m = `shift`, the target's logit; a block whose sum overflows is redone shifted by its row
    maxima), S_m = Σ_j P_mj, lse_m = c_m + log S_m, and with a_m = 1 / (M S_m):
    ∂/∂u_m = a_m Σ_j P_mj w_j,  [∂/∂w_j, ∂/∂b_j] = Σ_m P_mj [a_m u_m, a_m].
    Three products per score, where `ChunkedLogSumExp` takes four; backward only scales the kept
    gradients by the incoming one, which is why this returns the mean, not one lse per row."""

    @staticmethod
    def forward(ctx, user: Tensor, items: Tensor, bias: Tensor, shift: Tensor, rows: int) -> Tensor:
        with torch.autocast(user.device.type, enabled=False):
            count, width = user.size(0), items.size(1)
            table_grads = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
            extended = _extended(items, bias, 0, items.size(0))
            shifted = _with_shift(user, shift)
            grad_user = torch.empty_like(user)
            grad_extended = items.new_zeros(items.size(0), width + 1)  # [∂/∂w_j, ∂/∂b_j]
            scores = user.new_empty(min(rows, count), items.size(0))
            total = user.new_zeros(())
            for row in range(0, count, rows):
                block = slice(row, row + rows)
                probs = scores[: shifted[block].size(0)]
                torch.mm(shifted[block], extended.T, out=probs).exp_()
                sums = probs.sum(dim=1)
                lse = shift[block] + sums.log()
                if not torch.isfinite(sums).all():  # a logit above c_m + 88 overflowed exp
                    torch.mm(shifted[block, :-1], extended[:, :-1].T, out=probs)  # s_mj
                    top = probs.amax(dim=1)
                    sums = probs.sub_(top[:, None]).exp_().sum(dim=1)
                    lse = top + sums.log()
                total += lse.sum()
                weight = 1.0 / (count * sums)
                torch.mm(probs, items, out=grad_user[block]).mul_(weight[:, None])
                if table_grads:
                    grad_extended.addmm_(probs.T, torch.cat([user[block] * weight[:, None],
                                                             weight[:, None]], dim=1))
        ctx.save_for_backward(grad_user, grad_extended)
        return total / count

    @staticmethod
    def backward(ctx, grad_mean: Tensor):
        grad_user, grad_extended = ctx.saved_tensors
        return (grad_user * grad_mean, grad_extended[:, :-1] * grad_mean,
                grad_extended[:, -1] * grad_mean, None, None)


def _with_shift(user: Tensor, shift: Tensor) -> Tensor:
    """[u_m, 1, −c_m]: its product with `_extended`'s [w_j, b_j, 1] is s_mj − c_m."""
    return torch.cat([user, user.new_ones(user.size(0), 1), -shift[:, None]], dim=1)


def _extended(items: Tensor, bias: Tensor, start: int, width: int) -> Tensor:
    """[w_j, b_j, 1] for the items start .. start + width − 1."""
    block = items[start : start + width]
    return torch.cat([block, bias[start : start + width, None], block.new_ones(block.size(0), 1)], dim=1)


def _shifted_logsumexp(user: Tensor, items: Tensor, bias: Tensor, chunk: int, shift: Tensor) -> Tensor:
    """c_m + log Σ_j exp(s_mj − c_m) with c_m = `shift` (the target's logit, one of the s_mj, so the
    sum is >= 1 and blocks far below it underflow harmlessly): one matmul with −c folded in, one
    in-place exp and one row sum per block."""
    rows, width = block_shape(user.size(0), chunk, user.device)
    shifted = _with_shift(user, shift)
    total = user.new_zeros(user.size(0))
    for start in range(0, items.size(0), width):
        extended = _extended(items, bias, start, width)
        for row in range(0, user.size(0), rows):
            total[row : row + rows] += (shifted[row : row + rows] @ extended.T).exp_().sum(dim=1)
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
