"""The loss contract: user vectors and target ids against the item table -> a scalar loss."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import Tensor

from specrec.errors import SpecrecError
from specrec.models.rows import sampled_dot
from specrec.registry import Registry


@dataclass
class LossConfig:
    """Options of a loss; each loss subclasses it."""


class Loss:
    """`loss(user [M, D], targets [M] in 1..N, table [N+1, D], bias [N+1] | None) -> scalar`.

    The mean is over the M supervised positions; row 0 (padding) is never a class or negative.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[LossConfig]] = LossConfig

    def __init__(self, config: LossConfig) -> None:
        self.config = config

    def __call__(
        self, user: Tensor, targets: Tensor, table: Tensor, bias: Tensor | None, generator: torch.Generator
    ) -> Tensor:
        raise NotImplementedError


LOSSES: Registry[type[Loss]] = Registry("loss")


def build_loss(name: str, **options: Any) -> Loss:
    cls = LOSSES.get(name)
    known = {f.name for f in fields(cls.Config)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise SpecrecError(f"loss '{name}' has no option(s) {unknown}; its options are {sorted(known)}")
    config = cls.Config(**options)
    for key in ("negatives",):
        if hasattr(config, key) and getattr(config, key) < 1:
            raise SpecrecError(f"loss '{name}': {key} must be >= 1")
    if getattr(config, "tau", 1.0) <= 0:
        raise SpecrecError(f"loss '{name}': tau must be > 0")
    return cls(config)


def uniform_negatives(
    targets: Tensor, n_items: int, k: int, generator: torch.Generator, exclude_target: bool
) -> Tensor:
    """`[M, k]` item ids drawn uniformly from 1..N with replacement (optionally != target)."""
    negatives = torch.randint(1, n_items + 1, (targets.size(0), k), generator=generator)
    negatives = negatives.to(targets.device)
    if exclude_target and n_items > 1:
        hits = negatives == targets[:, None]
        while hits.any():
            redraw = torch.randint(1, n_items + 1, (int(hits.sum()),), generator=generator)
            negatives[hits] = redraw.to(targets.device)
            hits = negatives == targets[:, None]
    return negatives


DENSE_ROWS_PER_SAMPLE = 64
"""Score sampled items through the whole table when it has at most this many rows per sampled
item: one `[M, N+1]` matmul, forward and backward, then costs less than gathering `M·J` rows of D
and scattering their gradient back (measured at M = 300, D = 128, J = 65 on one core: 6× faster
at N = 1,349, 3× at N = 4,000, slower from N ≈ 12,000)."""


def dense_scoring(n_rows: int, n_sampled: int) -> bool:
    """Whether `scores_of` scores a table of `n_rows` through one matmul for `n_sampled` items."""
    return n_rows <= DENSE_ROWS_PER_SAMPLE * n_sampled


def scores_of(user: Tensor, items: Tensor, table: Tensor, bias: Tensor | None) -> Tensor:
    """⟨u_m, e_items[m, j]⟩ (+ bias) for `items [M, J]` -> `[M, J]`: (U Eᵀ) gathered at `items`
    for a small table (`dense_scoring`), else products with the gathered rows (`sampled_dot`)."""
    if dense_scoring(table.size(0), items.size(1)):
        scores = (user @ table.T).gather(1, items)
    else:
        scores = sampled_dot(user, table, items)
    return scores if bias is None else scores + bias[items]
