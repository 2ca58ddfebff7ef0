"""The trainable ID table: the parameter itself, its padding row 0 zero through training and loads."""

from __future__ import annotations

import torch

from specrec.models.embedders.base import zero_padding_row
from specrec.models.embedders.id_table import TrainableTable


def _step_loss(table: torch.Tensor, ids: torch.Tensor, user: torch.Tensor) -> torch.Tensor:
    return (table[ids] @ user).logsumexp(0) + table.pow(2).sum() * 0.1


def test_padding_row_stays_zero_under_adam_with_weight_decay():
    torch.manual_seed(0)
    embedder = TrainableTable(n_items=9, dim=4)
    assert torch.equal(embedder()[0], torch.zeros(4))
    optimizer = torch.optim.Adam(embedder.parameters(), lr=0.1, weight_decay=0.5, fused=True)
    ids = torch.tensor([0, 0, 3, 5, 0, 9])  # padding looked up too: it must not learn
    for _ in range(5):
        optimizer.zero_grad()
        _step_loss(embedder(), ids, torch.randn(4)).backward()
        assert torch.equal(embedder.weight.grad[0], torch.zeros(4))
        optimizer.step()
    assert torch.equal(embedder.weight[0].detach(), torch.zeros(4))
    assert embedder.weight[1:].detach().abs().sum() > 0


def test_outputs_and_gradients_equal_the_masked_table():
    torch.manual_seed(1)
    embedder = TrainableTable(n_items=6, dim=3)
    masked = torch.nn.Parameter(torch.randn(7, 3))
    with torch.no_grad():
        embedder.weight[1:] = masked[1:]
    ids, user = torch.tensor([0, 2, 2, 6]), torch.randn(3)
    _step_loss(embedder(), ids, user).backward()
    _step_loss(zero_padding_row(masked), ids, user).backward()
    assert torch.equal(embedder(), zero_padding_row(masked))
    assert torch.equal(embedder.weight.grad[1:], masked.grad[1:])


def test_loading_weights_with_a_nonzero_padding_row_zeroes_it():
    source = {"weight": torch.ones(5, 2)}  # as a run saved before the table was kept zero
    embedder = TrainableTable(n_items=4, dim=2)
    embedder.load_state_dict(source)
    assert torch.equal(embedder()[0], torch.zeros(2))
    assert torch.equal(embedder()[1:], torch.ones(4, 2))


def test_an_init_table_is_copied_with_row_zero_cleared():
    init = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    embedder = TrainableTable(n_items=3, dim=3, init=init)
    assert torch.equal(embedder()[0], torch.zeros(3)) and torch.equal(embedder()[1:], init[1:])
    assert init[0].abs().sum() > 0  # the caller's tensor is untouched


def test_a_padding_row_moved_outside_the_hook_is_zeroed_before_use():
    embedder = TrainableTable(n_items=4, dim=2)
    with torch.no_grad():
        embedder.weight[0] = 3.0  # as an all-reduced DDP bucket could leave it
    table = embedder()
    assert torch.equal(table[0], torch.zeros(2))
    table.sum().backward()  # zeroing happened before the graph: backward still works
    assert torch.equal(embedder.weight.grad[0], torch.zeros(2))
