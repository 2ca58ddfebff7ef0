"""WhitenRec+ (and WhitenRec as its paper trains it): whitened views -> shared MLP -> attention."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.dropout import Dropout
from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder, zero_padding_row
from specrec.models.embedders.morec import adapter_settings, frozen_basis, real_option
from specrec.transform.store import TransformTable

VIEWS = ("both", "full", "group")
DEFAULTS = {"views": "both", "dropout": 0.2, "init_std": 0.01}


def projector(width: int, dim: int, dropout: float, std: float) -> nn.Sequential:
    """RecBole's MLPLayers([d, k, k]) as DWSRec's `white_linear`: (Dropout → Linear → ReLU) × 2,
    weights N(0, std²), biases 0."""
    layers: list[nn.Module] = []
    for size_in, size_out in ((width, dim), (dim, dim)):
        linear = nn.Linear(size_in, size_out)
        nn.init.normal_(linear.weight, 0.0, std)
        nn.init.zeros_(linear.bias)
        layers += [Dropout(dropout), linear, nn.ReLU()]
    return nn.Sequential(*layers)


class WhitenRecPlus(ItemEmbedder):
    """t_v = P(X_v) for the frozen views v ∈ {full, group} through one shared projector P;
    s_v(i) = ⟨W t_v(i), a⟩,  β(i) = softmax_v s_v(i),  E_item(i) = Σ_v β_v(i) t_v(i).

    `views=full`: E_item = P(X_full), WhitenRec as its paper trains it (no ID table either way);
    `views=group`: the relaxed view alone. Score with cosine / τ (train --temperature 0.07).
    """

    def __init__(self, views: list[Tensor], dim: int, dropout: float = 0.2,
                 init_std: float = 0.01) -> None:
        super().__init__(views[0].shape[0] - 1, dim)
        for index, view in enumerate(views):
            self.register_buffer(f"view{index}", view, persistent=False)
        self.count = len(views)
        self.projector = projector(views[0].shape[1], dim, dropout, init_std)
        self.gate = nn.Linear(dim, dim, bias=False) if self.count > 1 else None
        self.query = nn.Parameter(torch.randn(dim) * init_std) if self.count > 1 else None

    def forward(self) -> Tensor:
        tables = [self.projector(getattr(self, f"view{i}")) for i in range(self.count)]
        if self.count == 1:
            return zero_padding_row(tables[0])
        stacked = torch.stack(tables, dim=1)  # [N+1, V, k]
        weights = torch.softmax(self.gate(stacked) @ self.query, dim=1)  # [N+1, V]
        return zero_padding_row((weights[..., None] * stacked).sum(dim=1))


@EMBEDDERS.register("whitenrec-plus")
def build(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    settings = adapter_settings(table, options, DEFAULTS)
    views = str(settings["views"])
    if views not in VIEWS:
        raise SpecrecError(f"whitenrec-plus: views must be one of {VIEWS}, not {views!r}")
    names = ["full", "group"] if views == "both" else [views]
    dropout = real_option(settings["dropout"], "dropout", "whitenrec-plus", below=1.0)
    std = real_option(settings["init_std"], "init_std", "whitenrec-plus", strict=True)
    return WhitenRecPlus([frozen_basis(table, name, n_items) for name in names], dim, dropout, std)
