"""AlphaFuse fusion: a frozen semantic table plus a trainable ID table on its last `null_dim` dims."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder, zero_padding_row
from specrec.transform.store import TransformTable


class FrozenPlusId(ItemEmbedder):
    """E_item = E_frozen + [0_{N×(k−d_n)}, E_ID]  (cover: [E_frozen[:, :k−d_n], E_ID]).

    E_frozen (standardised principal components) is a buffer; only E_ID ∈ R^{(N+1)×d_n} trains.
    """

    def __init__(self, frozen: Tensor, null_dim: int, cover: bool, id_init: str) -> None:
        n_rows, dim = frozen.shape
        super().__init__(n_rows - 1, dim)
        if not 0 < null_dim <= dim:
            raise SpecrecError(f"null_dim {null_dim} must be in 1..{dim}")
        self.register_buffer("frozen", frozen.clone())
        self.null_dim = null_dim
        self.cover = cover
        self.id = nn.Parameter(torch.zeros(n_rows, null_dim))
        if id_init == "normal":
            nn.init.normal_(self.id, 0.0, 1.0)
        elif id_init != "zeros":
            raise SpecrecError(f"id_init must be zeros or normal, not '{id_init}'")

    def forward(self) -> Tensor:
        semantic = self.frozen[:, : self.dim - self.null_dim]
        tail = self.id if self.cover else self.frozen[:, self.dim - self.null_dim :] + self.id
        return zero_padding_row(torch.cat([semantic, tail], dim=1))


@EMBEDDERS.register("frozen_plus_id")
def build(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    assert table is not None and table.frozen is not None
    if table.frozen.shape != (n_items + 1, dim):
        raise SpecrecError(
            f"frozen table '{table.path}' is {table.frozen.shape}, the model needs "
            f"{(n_items + 1, dim)}; transform with --dim {dim}"
        )
    params = table.params
    return FrozenPlusId(
        torch.from_numpy(table.frozen).float(),
        null_dim=int(options.get("null_dim", params.get("null_dim", 64))),
        cover=bool(options.get("cover", params.get("cover", False))),
        id_init=str(options.get("id_init", params.get("id_init", "zeros"))),
    )
