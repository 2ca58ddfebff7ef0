"""WhitenRec adapter (AlphaFuse's baseline): item = GELU(Linear(r→k)(Z)), Z = whitened E, frozen."""

from __future__ import annotations

from torch import Tensor, nn

from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder
from specrec.models.embedders.morec import FeatureAdapter, adapter_settings, frozen_basis
from specrec.transform.store import TransformTable


class WhitenRec(FeatureAdapter):
    """E_item = GELU(Z W + b),  Z = (E − 1μᵀ) P_r (Λ_r + ε λ₁ I)^{-1/2}  (frozen; no ID table)."""

    def __init__(self, whitened: Tensor, dim: int) -> None:
        super().__init__(whitened, dim, nn.Sequential(nn.Linear(whitened.shape[1], dim), nn.GELU()))


@EMBEDDERS.register("whitenrec")
def build(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    adapter_settings(table, options, {})
    return WhitenRec(frozen_basis(table, "features", n_items), dim)
