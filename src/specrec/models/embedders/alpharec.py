"""AlphaRec adapter: item = Linear(m·d→k)(LeakyReLU(Linear(d→m·d)(s·E))), E frozen."""

from __future__ import annotations

from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder
from specrec.models.embedders.morec import FeatureAdapter, adapter_settings, frozen_basis
from specrec.transform.methods.alpharec import AUTO, default_ratio, parse_ratio
from specrec.transform.store import TransformTable


class AlphaRec(FeatureAdapter):
    """E_item = LeakyReLU(X W₁ + b₁) W₂ + b₂,  W₁ ∈ R^{d×m·d}, W₂ ∈ R^{m·d×k}  (no ID table)."""

    def __init__(self, features: Tensor, dim: int, ratio: float) -> None:
        width = max(1, round(ratio * features.shape[1]))
        head = nn.Sequential(
            nn.Linear(features.shape[1], width), nn.LeakyReLU(), nn.Linear(width, dim)
        )
        super().__init__(features, dim, head)
        self.ratio = ratio


@EMBEDDERS.register("alpharec")
def build(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    features = frozen_basis(table, "features", n_items)
    settings = adapter_settings(table, options, {"ratio": AUTO})
    try:
        ratio = parse_ratio(settings["ratio"])
    except (TypeError, ValueError):
        raise SpecrecError(
            f"alpharec: ratio must be a number > 0 or auto, not {settings['ratio']!r}"
        ) from None
    return AlphaRec(features, dim, default_ratio(features.shape[1]) if ratio == AUTO else ratio)
