"""MoRec adapter, item = GELU(Linear(d→k)(s·E)); also the frozen-input helpers of every adapter."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder, zero_padding_row
from specrec.transform.store import TransformTable


def adapter_settings(table: TransformTable | None, options: dict, defaults: dict) -> dict:
    """Each setting: the embedder option, else the transform's stored parameter, else the default.

    Unknown embedder options are refused, so a typo never silently trains the default model.
    """
    method = table.method if table is not None else "?"
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise SpecrecError(
            f"item embedder '{method}' has no option(s) {unknown}; "
            f"its options are {sorted(defaults)}"
        )
    params = table.params if table is not None else {}
    settings = {}
    for key, default in defaults.items():
        value = options.get(key, params.get(key, default))
        settings[key] = default if value is None and default is not None else value
    return settings


def frozen_basis(table: TransformTable | None, name: str, n_items: int) -> Tensor:
    """`basis/<name>` of an adapter transform as float32, checked: one row per item + padding."""
    if table is None:
        raise SpecrecError("this item embedder needs a transform table; pass --table")
    array = table.basis.get(name)
    if array is None:
        raise SpecrecError(
            f"transform '{table.path}' has no basis/{name}; "
            f"rerun `specrec transform {table.method} --force`"
        )
    if array.ndim != 2 or array.shape[0] != n_items + 1:
        raise SpecrecError(
            f"basis/{name} of '{table.path}' has shape {array.shape}, expected {n_items + 1} rows "
            f"(items 1..{n_items} + padding); transform the same dataset's embeddings"
        )
    values = np.asarray(array, dtype=np.float32)
    if not np.isfinite(values).all():
        raise SpecrecError(
            f"basis/{name} of '{table.path}' has NaN or Inf; rerun the transform with --force"
        )
    return torch.from_numpy(values.copy())


def positive_int(value: object, name: str, method: str, minimum: int = 1) -> int:
    """`value` as an int >= `minimum`, or a SpecrecError naming the option."""
    whole = isinstance(value, (int, float)) and not isinstance(value, bool) and int(value) == value
    if not whole or value < minimum:
        raise SpecrecError(
            f"{method}: option {name} must be an integer >= {minimum}, not {value!r}"
        )
    return int(value)


def real_option(value: object, name: str, method: str, *, low: float = 0.0, strict: bool = False,
                below: float | None = None) -> float:
    """`value` as a float >= `low` (> when `strict`, < `below` if given), or a SpecrecError."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    valid = number and (value > low if strict else value >= low)
    if not valid or (below is not None and not value < below):
        bound = f"{'>' if strict else '>='} {low:g}"
        bound += f" and < {below:g}" if below is not None else ""
        raise SpecrecError(f"{method}: option {name} must be a number {bound}, not {value!r}")
    return float(value)


class FeatureAdapter(ItemEmbedder):
    """E_item = f(X): a trainable head f over frozen per-item features X ∈ R^{(N+1)×d}; row 0 = 0.

    X is a non-persistent buffer (it lives in the transform artifact, not in the run's weights),
    so gradients reach only f.
    """

    def __init__(self, features: Tensor, dim: int, head: nn.Module) -> None:
        super().__init__(features.shape[0] - 1, dim)
        self.register_buffer("features", features, persistent=False)
        self.head = head

    def forward(self) -> Tensor:
        return zero_padding_row(self.head(self.features))


class MoRec(FeatureAdapter):
    """E_item = GELU(X W + b), X = s·E (s = `scale`, 40 as in AlphaFuse's MoRec baseline)."""

    def __init__(self, features: Tensor, dim: int) -> None:
        super().__init__(features, dim, nn.Sequential(nn.Linear(features.shape[1], dim), nn.GELU()))


@EMBEDDERS.register("morec")
def build(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    adapter_settings(table, options, {})
    return MoRec(frozen_basis(table, "features", n_items), dim)
