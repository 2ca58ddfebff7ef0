"""Interaction filters: rating threshold (keep rating >= t) and iterative user/item k-core."""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from specrec.errors import SpecrecError


@dataclass
class KCoreResult:
    """The filtered interactions, the passes that removed rows, and the rows removed in each."""

    interactions: pl.DataFrame
    passes: int
    removed_per_pass: list[int]


def check_k(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecrecError(f"--{name} must be a whole number >= 0 (0 disables it), got {value!r}")
    return value


def apply_rating_threshold(interactions: pl.DataFrame, threshold: float | None) -> pl.DataFrame:
    """Keep events with rating >= threshold; None keeps everything."""
    if threshold is None:
        return interactions
    if not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise SpecrecError(f"--rating-threshold must be a finite number, got {threshold!r}")
    if "rating" not in interactions.columns:
        raise SpecrecError(
            "--rating-threshold needs ratings, but this source has no rating column "
            "(map one with --column rating=NAME, or drop the threshold)"
        )
    return interactions.filter(pl.col("rating") >= threshold)


def k_core(interactions: pl.DataFrame, *, min_user: int, min_item: int) -> KCoreResult:
    """Iterative k-core: drop events of users with < min_user and items with < min_item events.

    Each pass counts events per user and per item on the current data and removes both kinds at
    once (as RecBole does); it repeats until a pass removes nothing, so every remaining user has
    >= min_user events and every remaining item >= min_item. File order is preserved.
    """
    check_k("min-user", min_user)
    check_k("min-item", min_item)
    removed: list[int] = []
    frame = interactions
    while True:
        keep = (pl.len().over("user_id") >= min_user) & (pl.len().over("item_id") >= min_item)
        kept = frame.filter(keep)
        if kept.height == frame.height:
            break
        removed.append(frame.height - kept.height)
        frame = kept
    return KCoreResult(interactions=frame, passes=len(removed), removed_per_pass=removed)
