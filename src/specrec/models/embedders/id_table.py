"""Trainable item tables: random ID-only (`id`) or initialised from a transform (`init`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder
from specrec.models.rows import allow_sparse_grad, densify_grad
from specrec.transform.store import TransformTable


class TrainableTable(ItemEmbedder):
    """E ∈ R^{(N+1)×D}, all rows trainable except the padding row 0 (kept at zero).

    The table is the parameter itself, with no copy per step: row 0 is zeroed at init and on
    every load, and its gradient is zeroed once accumulated, so Adam (whose update of a zero row
    with zero gradient and moments is zero, weight decay included) never moves it; should anything
    else move it, the next forward zeroes it before the table is used. The outputs
    and the other rows' gradients are those of E·mask, without its two `[N+1, D]` passes.
    """

    def __init__(self, n_items: int, dim: int, init: Tensor | None = None, std: float = 0.02):
        super().__init__(n_items, dim)
        self.weight = nn.Parameter(torch.empty(n_items + 1, dim))
        if init is None:
            nn.init.normal_(self.weight, 0.0, std)
        else:
            with torch.no_grad():
                self.weight.copy_(init)
        self._zero_padding()
        allow_sparse_grad(self.weight)
        self.weight.register_post_accumulate_grad_hook(_zero_padding_grad)
        self.register_load_state_dict_post_hook(lambda module, _keys: module._zero_padding())

    def _zero_padding(self) -> None:
        with torch.no_grad():
            self.weight[0].zero_()

    def forward(self) -> Tensor:
        # A no-op unless an update bypassed the gradient hook (DDP's buckets). Writing through
        # `.data` needs no host sync (a check of the row would, on CUDA) and bumps no version: the
        # first call of a step runs before any use, so later calls find the row already zero.
        self.weight.data[0].zero_()
        return self.weight


def _zero_padding_grad(weight: Tensor) -> None:
    densify_grad(weight)
    if weight.grad is not None:
        weight.grad[0].zero_()


@EMBEDDERS.register("id")
def build_id(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    return TrainableTable(n_items, dim, std=float(options.get("init_std", 0.02)))


@EMBEDDERS.register("init")
def build_init(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    assert table is not None and table.item_table is not None
    if table.item_table.shape != (n_items + 1, dim):
        raise SpecrecError(
            f"table '{table.path}' is {table.item_table.shape[0]}×{table.item_table.shape[1]}, "
            f"but the model needs {n_items + 1}×{dim}; transform with --dim {dim} or train with "
            f"--dim {table.item_table.shape[1]}"
        )
    return TrainableTable(n_items, dim, init=torch.from_numpy(table.item_table).float())
