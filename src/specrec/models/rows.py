"""Row lookups E[ids] of large trainable item tables, whose gradients touch only the rows used."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

SPARSE_ROWS_MIN = 2**15
"""Tables of at least this many rows are looked up sparsely: a property of the table, not of the
batch, so a dataset's runs round the same way at every step (ML-100K and ML-20M's 26,745 rows
stay dense; bench/results/scale.md has the measurements at both sides)."""

_ATTRIBUTE = "_specrec_sparse_grad_buffer"


def allow_sparse_grad(weight: torch.nn.Parameter) -> None:
    """Mark `weight` as a table whose lookups may return sparse gradients; its owner must call
    `densify_grad(weight)` once the gradient is accumulated (a post-accumulate-grad hook)."""
    setattr(weight, _ATTRIBUTE, None)


def gather_rows(table: Tensor, ids: Tensor) -> Tensor:
    """`table[ids]`, shape `ids.shape + (D,)`; sparse in the backward for a large marked table.

    `E[ids]`'s backward writes a zeroed `[N+1, D]` tensor per lookup, and a step looks the table
    up two or three times (history, targets, sampled rows): at a million items those fresh pages
    cost more than the model. A table marked with `allow_sparse_grad` and of at least
    `SPARSE_ROWS_MIN` rows is looked up with `F.embedding(..., sparse=True)` while training, and
    its hook sums the sparse gradients into one persistent buffer (`densify_grad`): the optimiser
    sees the dense ∂ℓ/∂E = Σ_lookups Σ_m e_{ids_m} g_mᵀ, equal up to float summation order."""
    if not _sparse_lookup(table):
        return table[ids]
    return F.embedding(ids, table, sparse=True)


def sampled_dot(user: Tensor, table: Tensor, items: Tensor) -> Tensor:
    """s_mj = ⟨u_m, E[items_mj]⟩ for `user [M, D]` and `items [M, J]`, with the gradients
    ∂ℓ/∂u_m = Σ_j g_mj E[items_mj] and ∂ℓ/∂E[i] = Σ_{(m,j): items_mj = i} g_mj u_m, written as one
    matrix-vector product per row and one broadcast product (the einsum's batched outer products
    cost 11% of a sampled-softmax step at a million items). The products are in the table's
    dtype (float32 under bf16 autocast too, as the CE's sums); the scores come in that dtype."""
    return _SampledDot.apply(user, table, items, _sparse_lookup(table))  # grad mode is off inside


class _SampledDot(torch.autograd.Function):
    @staticmethod
    def forward(ctx, user: Tensor, table: Tensor, items: Tensor, sparse: bool) -> Tensor:
        # index_select copies whole rows: 2x faster than `table[items]`'s per-element gather
        gathered = table.index_select(0, items.reshape(-1)).view(*items.shape, table.size(1))
        ctx.user_dtype, ctx.table_shape, ctx.sparse = user.dtype, table.shape, sparse
        user = user.to(table.dtype)
        ctx.save_for_backward(user, gathered, items)
        with torch.autocast(user.device.type, enabled=False):
            return torch.bmm(gathered, user[:, :, None]).squeeze(2)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:
        user, gathered, items = ctx.saved_tensors
        grad, grad_user, grad_table = grad.to(gathered.dtype), None, None
        if ctx.needs_input_grad[0]:
            grad_user = torch.bmm(grad[:, None, :], gathered).squeeze(1).to(ctx.user_dtype)
        if ctx.needs_input_grad[1]:
            rows_grad = (grad[:, :, None] * user[:, None, :]).reshape(-1, user.size(1))
            flat = items.reshape(-1)
            if ctx.sparse:
                grad_table = torch.sparse_coo_tensor(flat[None], rows_grad, ctx.table_shape,
                                                     check_invariants=False)
            else:
                grad_table = rows_grad.new_zeros(ctx.table_shape).index_add_(0, flat, rows_grad)
        return grad_user, grad_table, None, None


def densify_grad(weight: Tensor) -> None:
    """Replace a sparse `weight.grad` by the same gradient in the weight's persistent dense buffer
    (allocated once, zeroed in place each step): optimisers such as fused Adam need it dense."""
    grad = weight.grad
    if grad is None or not grad.is_sparse:
        return
    buffer = getattr(weight, _ATTRIBUTE, None)
    if buffer is None or buffer.shape != weight.shape or buffer.device != weight.device:
        buffer = torch.zeros_like(weight, memory_format=torch.contiguous_format)
        setattr(weight, _ATTRIBUTE, buffer)
    else:
        buffer.zero_()
    buffer.index_add_(0, grad._indices()[0], grad._values())
    weight.grad = buffer


def _sparse_lookup(table: Tensor) -> bool:
    if not (hasattr(table, _ATTRIBUTE) and torch.is_grad_enabled() and table.requires_grad):
        return False
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return False  # DDP's buckets reduce dense gradients
    return table.size(0) >= SPARSE_ROWS_MIN
