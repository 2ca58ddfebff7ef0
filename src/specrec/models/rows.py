"""Row lookups E[ids] of large trainable item tables, whose gradients touch only the rows used."""

from __future__ import annotations

import torch
from torch import Tensor

SPARSE_ROWS_MIN = 2**15
"""Tables of at least this many rows are looked up sparsely: a property of the table, not of the
batch, so a dataset's runs round the same way at every step (ML-100K and ML-20M's 26,745 rows
stay dense; bench/results/scale.md has the measurements at both sides)."""

_ATTRIBUTE = "_specrec_sparse_grad_buffer"


class _GradBuffer:
    """A marked table's dense gradient buffer: whether it holds rows (`dirty`), and whether they
    include rows of a backward pass whose gradient is not yet `weight.grad` (`pending`)."""

    def __init__(self) -> None:
        self.tensor: Tensor | None = None
        self.dirty = False
        self.pending = False


def allow_sparse_grad(weight: torch.nn.Parameter) -> None:
    """Mark `weight` as a table whose lookups may write their gradients straight into a dense
    buffer; its owner must call `densify_grad(weight)` once the gradient is accumulated (a
    post-accumulate-grad hook), which makes that buffer `weight.grad`."""
    setattr(weight, _ATTRIBUTE, _GradBuffer())


def gather_rows(table: Tensor, ids: Tensor) -> Tensor:
    """`table[ids]`, shape `ids.shape + (D,)`; for a large marked table, its backward adds the
    rows' gradients straight into the table's gradient buffer.

    `E[ids]`'s backward writes a zeroed `[N+1, D]` tensor per lookup, and a step looks the table
    up two or three times (history, targets, sampled rows): at a million items those fresh pages
    cost more than the model. Sparse gradients instead would be concatenated by autograd, lookup
    after lookup, before anything sums them. So a table marked with `allow_sparse_grad` and of at
    least `SPARSE_ROWS_MIN` rows is looked up with `index_select` while training, and its
    backward adds Σ_m e_{ids_m} g_mᵀ into one buffer that lives as long as the table (zeroed in
    place by a backward pass's first write), which `densify_grad` makes the gradient: the
    optimiser sees the dense ∂ℓ/∂E, equal up to float summation order. Rows written by a pass
    that never takes the table's gradient (`torch.autograd.grad` of other inputs) are dropped by
    the next lookup's forward."""
    if not _sparse_lookup(table):
        return table[ids]
    return _GatheredRows.apply(table, ids)


class _GatheredRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table: Tensor, ids: Tensor) -> Tensor:
        ctx.table = table
        ctx.save_for_backward(ids)
        _prepare_buffer(table)
        return table.index_select(0, ids.reshape(-1)).view(*ids.shape, table.size(1))

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (ids,) = ctx.saved_tensors
        return _add_rows(ctx.table, ids.reshape(-1), grad.reshape(-1, grad.size(-1))), None


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
        ctx.table = table if sparse else None
        if sparse:
            _prepare_buffer(table)
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
                grad_table = _add_rows(ctx.table, flat, rows_grad)
            else:
                grad_table = rows_grad.new_zeros(ctx.table_shape).index_add_(0, flat, rows_grad)
        return grad_user, grad_table, None, None


def densify_grad(weight: Tensor) -> None:
    """Make `weight.grad` the dense gradient its lookups wrote into the weight's buffer (plus any
    gradient autograd accumulated besides): optimisers such as fused Adam need it dense."""
    state, grad = getattr(weight, _ATTRIBUTE, None), weight.grad
    if state is None or grad is None or state.tensor is None or grad is state.tensor:
        return
    buffer = state.tensor
    if grad.is_sparse:  # the empty gradients of `_add_rows`, or another lookup's sparse rows
        if grad._nnz():
            if state.dirty and not state.pending:  # rows of an earlier step: not this gradient
                buffer.zero_()
            buffer.index_add_(0, grad._indices()[0], grad._values())
            state.dirty = True
        weight.grad = buffer
    elif state.pending:  # a dense use of the table besides its lookups: add theirs to it
        grad += buffer
    state.pending = False


def _prepare_buffer(weight: Tensor) -> None:
    """Allocate the weight's buffer, or drop rows of a pass whose gradient was never taken."""
    state = getattr(weight, _ATTRIBUTE)
    buffer = state.tensor
    if buffer is None or buffer.shape != weight.shape or buffer.dtype != weight.dtype \
            or buffer.device != weight.device:
        state.tensor = torch.zeros_like(weight, memory_format=torch.contiguous_format)
        state.dirty = state.pending = False
    elif state.pending:
        buffer.zero_()
        state.dirty = state.pending = False


def _add_rows(weight: Tensor, ids: Tensor, rows_grad: Tensor) -> Tensor:
    """Add rows_grad[k] to row ids[k] of the weight's gradient, returning what autograd should
    accumulate: an empty sparse gradient after writing into the buffer (zeroed first by a pass's
    first write), or, while the buffer already is `weight.grad` (gradients accumulated over
    passes), the rows as a sparse gradient, which autograd adds only if the pass takes it."""
    state = getattr(weight, _ATTRIBUTE)
    if weight.grad is not None and weight.grad is state.tensor:
        return torch.sparse_coo_tensor(ids[None], rows_grad, weight.shape, check_invariants=False)
    if not state.pending:
        if state.dirty:
            state.tensor.zero_()
        state.pending = True
    state.tensor.index_add_(0, ids, rows_grad)
    state.dirty = True
    return torch.sparse_coo_tensor(ids.new_empty(1, 0), rows_grad.new_empty(0, weight.size(1)),
                                   weight.shape, check_invariants=False)


def _sparse_lookup(table: Tensor) -> bool:
    if not (hasattr(table, _ATTRIBUTE) and torch.is_grad_enabled() and table.requires_grad):
        return False
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return False  # DDP's buckets reduce dense gradients
    return table.size(0) >= SPARSE_ROWS_MIN
