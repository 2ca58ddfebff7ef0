"""Sparse row lookups of large item tables: the dense gradient, one persistent buffer, no leaks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from specrec.models import rows
from specrec.models.base import build_backbone
from specrec.models.embedders.id_table import TrainableTable
from specrec.models.losses import build_loss
from specrec.models.model import SequentialRecommender
from specrec.train.loop import Objective
from specrec.train.samples import Batch


def _loss(table: torch.Tensor, user: torch.Tensor) -> torch.Tensor:
    history = torch.tensor([[3, 7, 7, 0], [1, 2, 0, 0]])
    sampled = torch.tensor([[9, 9, 4], [7, 11, 0]])
    first = (rows.gather_rows(table, history).sum(1) * user).sum()
    second = torch.einsum("md,mjd->mj", user, rows.gather_rows(table, sampled)).logsumexp(1).sum()
    return first + second


def test_a_large_tables_lookups_sum_to_the_dense_gradient_in_one_persistent_buffer(monkeypatch):
    torch.manual_seed(0)
    sparse, dense = TrainableTable(12, 3), TrainableTable(12, 3)
    dense.weight.data.copy_(sparse.weight.data)
    sparse.weight.data, dense.weight.data = sparse.weight.data.double(), dense.weight.data.double()
    user = torch.randn(2, 3, dtype=torch.float64)
    _loss(dense(), user).backward()
    monkeypatch.setattr(rows, "SPARSE_ROWS_MIN", 13)  # 13 rows: the ID table of 12 items
    buffers = []
    for _ in range(2):
        sparse.weight.grad = None  # as zero_grad(set_to_none=True)
        looked_up = rows.gather_rows(sparse(), torch.tensor([1, 2]))
        assert looked_up.grad_fn.name() == "_GatheredRowsBackward"
        _loss(sparse(), user).backward()
        assert not sparse.weight.grad.is_sparse
        buffers.append(sparse.weight.grad.data_ptr())
        # float64 sums of at most three terms per row, in another order: within a few ulps
        torch.testing.assert_close(sparse.weight.grad, dense.weight.grad, rtol=1e-14, atol=1e-15)
        assert torch.equal(sparse.weight.grad[0], torch.zeros(3, dtype=torch.float64))
        assert torch.equal(sparse.weight.grad[5], torch.zeros(3, dtype=torch.float64))  # unused row
    assert buffers[0] == buffers[1]  # zeroed in place, not allocated per step


def _mixed_loss(table: torch.Tensor, user: torch.Tensor) -> torch.Tensor:
    """History rows gathered, sampled rows scored by `sampled_dot`, whose backward computes the
    user's and the table's gradients in one node (so a user-only pass runs it too)."""
    history = torch.tensor([[3, 7, 7, 0], [1, 2, 0, 0]])
    sampled = torch.tensor([[9, 9, 4], [7, 11, 0]])
    first = (rows.gather_rows(table, history).sum(1) * user).sum()
    return first + rows.sampled_dot(user, table, sampled).logsumexp(1).sum()


def _twin_tables(monkeypatch):
    """A float64 table looked up sparsely (13 rows: above the patched minimum), and an unmarked
    copy of its weight, which every lookup treats densely."""
    torch.manual_seed(1)
    sparse = TrainableTable(12, 3)
    sparse.weight.data = sparse.weight.data.double()
    dense = torch.nn.Parameter(sparse.weight.detach().clone())
    monkeypatch.setattr(rows, "SPARSE_ROWS_MIN", 13)
    return sparse, dense


def _assert_same_gradient(sparse: TrainableTable, dense: torch.Tensor) -> None:
    """The sparse table's gradient is its dense twin's, except on the padding row (kept at 0)."""
    assert sparse.weight.grad is getattr(sparse.weight, rows._ATTRIBUTE).tensor
    assert float(dense.grad[0].abs().max()) > 0 and float(sparse.weight.grad[0].abs().max()) == 0
    # float64 sums of at most six terms per row, in another order: within a few ulps
    torch.testing.assert_close(sparse.weight.grad[1:], dense.grad[1:], rtol=1e-14, atol=1e-15)


def test_gradients_accumulated_over_backward_passes_are_summed(monkeypatch):
    sparse, dense = _twin_tables(monkeypatch)
    for user in torch.randn(2, 2, 3, dtype=torch.float64):  # no zero_grad between the passes
        _mixed_loss(sparse(), user).backward()
        _mixed_loss(dense, user).backward()
    _assert_same_gradient(sparse, dense)


def test_each_step_starts_from_zero_when_gradients_are_reset_after_the_forward(monkeypatch):
    sparse, dense = _twin_tables(monkeypatch)
    for user in torch.randn(3, 2, 3, dtype=torch.float64):  # the training loop's order
        losses = _mixed_loss(sparse(), user), _mixed_loss(dense, user)
        sparse.weight.grad = dense.grad = None  # zero_grad(set_to_none=True)
        for loss in losses:
            loss.backward()
        _assert_same_gradient(sparse, dense)


def test_another_lookups_sparse_gradient_lands_in_a_clean_buffer(monkeypatch):
    sparse, dense = _twin_tables(monkeypatch)
    user = torch.randn(2, 3, dtype=torch.float64)
    _mixed_loss(sparse(), user).backward()  # the buffer now holds this step's rows
    sparse.weight.grad = None  # the next step: only a sparse gradient of its own arrives
    ids = torch.tensor([[4, 4, 8], [1, 0, 2]])
    (F.embedding(ids, sparse(), sparse=True).sum(1) * user).sum().backward()
    (F.embedding(ids, dense).sum(1) * user).sum().backward()
    _assert_same_gradient(sparse, dense)


def test_gradients_of_other_inputs_only_leave_the_tables_gradient_alone(monkeypatch):
    sparse, dense = _twin_tables(monkeypatch)
    user = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    _mixed_loss(sparse(), user).backward()  # an accumulated gradient ...
    _mixed_loss(dense, user).backward()
    torch.autograd.grad(_mixed_loss(sparse(), user), [user])  # ... a user-only pass leaves alone
    _assert_same_gradient(sparse, dense)
    sparse.weight.grad = dense.grad = None
    torch.autograd.grad(_mixed_loss(sparse(), user), [user])  # rows written, never committed ...
    _mixed_loss(sparse(), 2 * user).backward()  # ... and not leaked into the next step's gradient
    _mixed_loss(dense, 2 * user).backward()
    _assert_same_gradient(sparse, dense)


def test_small_tables_unmarked_tensors_and_inference_use_plain_indexing(monkeypatch):
    ids = torch.tensor([[1, 2], [2, 0]])
    table = TrainableTable(6, 2)
    assert rows.gather_rows(table(), ids).grad_fn.name() == "IndexBackward0"  # under the minimum
    monkeypatch.setattr(rows, "SPARSE_ROWS_MIN", 1)
    plain = torch.nn.Parameter(torch.randn(7, 2))
    assert rows.gather_rows(plain, ids).grad_fn.name() == "IndexBackward0"  # not marked
    with torch.no_grad():
        looked_up = rows.gather_rows(table(), ids)
    assert looked_up.grad_fn is None and torch.equal(looked_up, table()[ids])
    assert torch.equal(rows.gather_rows(table(), ids), table()[ids])  # same forward values


def _objective(loss: str, **options) -> Objective:
    torch.manual_seed(3)
    backbone = build_backbone("sasrec", 300, dim=8, n_heads=2, n_layers=1, max_len=6,
                              inner_size=16, hidden_dropout=0.0, attn_dropout=0.0)
    model = SequentialRecommender(TrainableTable(300, 8), backbone).double()
    return Objective(model, build_loss(loss, **options))


@pytest.mark.parametrize("loss, options", [
    ("sampled-softmax", {"negatives": 2}), ("bce", {"negatives": 2}), ("gbce", {"negatives": 2}),
    ("infonce", {"negatives": 2}), ("ce", {}), ("ce", {"chunk": 64}),
])
def test_training_gradients_are_the_same_with_sparse_lookups(monkeypatch, loss, options):
    """Every parameter's gradient of a real objective (history, targets and sampled negatives all
    looked up through a 301-row table, above 64 rows per sampled item: the gathered path)."""
    seq = torch.tensor([[5, 17, 290, 3, 0, 0], [44, 44, 8, 250, 120, 9]])
    batch = Batch(seq=seq, lengths=torch.tensor([4, 6]), targets=torch.roll(seq, -1, 1) * (seq > 0),
                  timestamps=torch.zeros(2, 7))
    grads = []
    for minimum in (rows.SPARSE_ROWS_MIN, 301):
        monkeypatch.setattr(rows, "SPARSE_ROWS_MIN", minimum)
        objective = _objective(loss, **options)
        objective(batch, torch.Generator().manual_seed(0)).backward()
        grads.append({name: p.grad.clone() for name, p in objective.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-12, atol=1e-14, msg=name)
    weight = objective.model.embedder.weight
    if loss != "ce":  # the sparse gradients were summed in the buffer (CE's product is dense)
        assert getattr(weight, rows._ATTRIBUTE).tensor is weight.grad


@pytest.mark.parametrize("sparse_minimum", [10**9, 1])
def test_sampled_dot_has_the_einsums_values_and_gradients(monkeypatch, sparse_minimum):
    monkeypatch.setattr(rows, "SPARSE_ROWS_MIN", sparse_minimum)
    torch.manual_seed(4)
    embedder = TrainableTable(20, 5)
    embedder.weight.data = embedder.weight.data.double()
    user = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    items = torch.tensor([[4, 4, 19], [1, 7, 20], [20, 2, 4]])  # repeats across and within rows
    weights = torch.randn(3, 3, dtype=torch.float64)
    reference = torch.einsum("md,mjd->mj", user, embedder()[items])
    scores = rows.sampled_dot(user, embedder(), items)
    torch.testing.assert_close(scores, reference, rtol=1e-14, atol=1e-15)
    (reference * weights).sum().backward()
    expected = embedder.weight.grad.clone(), user.grad.clone()
    embedder.weight.grad = user.grad = None
    (scores * weights).sum().backward()
    assert not embedder.weight.grad.is_sparse
    # which branch ran: the sparse one sums into the persistent buffer, the dense one has none
    buffer = getattr(embedder.weight, rows._ATTRIBUTE).tensor
    assert (buffer is embedder.weight.grad) if sparse_minimum == 1 else (buffer is None)
    torch.testing.assert_close(embedder.weight.grad, expected[0], rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(user.grad, expected[1], rtol=1e-14, atol=1e-15)


def test_sampled_dot_is_float32_under_bf16_autocast():
    table = torch.randn(9, 4, requires_grad=True)
    user = torch.randn(2, 4, requires_grad=True)
    items = torch.tensor([[1, 2], [8, 8]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        scores = rows.sampled_dot(user.bfloat16(), table, items)
    assert scores.dtype == torch.float32
    expected = torch.einsum("md,mjd->mj", user.bfloat16().float(), table[items])
    torch.testing.assert_close(scores, expected)
    scores.sum().backward()
    assert user.grad.dtype == torch.float32 and table.grad.dtype == torch.float32
