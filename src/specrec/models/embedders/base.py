"""The item-embedder contract: build the `[N+1, D]` item table a backbone reads and scores."""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import torch
from torch import Tensor, nn

from specrec.registry import Registry
from specrec.transform.store import TransformTable


class ItemEmbedder(nn.Module):
    """Produces the item table `[N+1, D]` (row 0 = padding, always zeros) used for input and output.

    `aux_loss(targets)` lets adapters add a regulariser to the training loss (None by default);
    the training loop passes `targets`, the batch's positive item ids at its supervised positions
    (1-D, duplicates kept), and an embedder may ignore them. `distill(model, batch, hidden,
    table)` may add a term that needs the model itself (None by default): the loop passes the
    training `Batch`, its hidden states `[B, L, D]` and this step's item table.

    `views = 2` declares a table of two concatenated views of width D/2 each; `build_model` then
    wraps the backbone in `models.dual_view.DualView` (LLM-ESR).
    """

    views: ClassVar[int] = 1

    def __init__(self, n_items: int, dim: int) -> None:
        super().__init__()
        self.n_items = n_items
        self.dim = dim

    def forward(self) -> Tensor:
        raise NotImplementedError

    def aux_loss(self, targets: Tensor | None = None) -> Tensor | None:
        return None

    def distill(self, model: nn.Module, batch: Any, hidden: Tensor,
                table: Tensor) -> Tensor | None:
        return None


Builder = Callable[[int, int, "TransformTable | None", dict], ItemEmbedder]
EMBEDDERS: Registry[Builder] = Registry("item embedder")
"""Keyed by fusion (`id`, `init`, `frozen_plus_id`) or, for `adapter` fusion, by transform method."""


def zero_padding_row(table: Tensor) -> Tensor:
    """The table with row 0 forced to zeros (differentiable)."""
    keep = torch.ones(table.size(0), 1, dtype=table.dtype, device=table.device)
    keep[0] = 0
    return table * keep
