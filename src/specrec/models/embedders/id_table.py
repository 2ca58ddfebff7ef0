"""Trainable item tables: random ID-only (`id`) or initialised from a transform (`init`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder, zero_padding_row
from specrec.transform.store import TransformTable


class TrainableTable(ItemEmbedder):
    """E ∈ R^{(N+1)×D}, all rows trainable except the padding row 0 (kept at zero)."""

    def __init__(self, n_items: int, dim: int, init: Tensor | None = None, std: float = 0.02):
        super().__init__(n_items, dim)
        self.weight = nn.Parameter(torch.empty(n_items + 1, dim))
        if init is None:
            nn.init.normal_(self.weight, 0.0, std)
        else:
            with torch.no_grad():
                self.weight.copy_(init)

    def forward(self) -> Tensor:
        return zero_padding_row(self.weight)


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
