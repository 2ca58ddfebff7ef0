"""Interaction filters: rating threshold, items without text, then a count filter (FILTERS)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import polars as pl

from specrec.data.text import TextRecipe
from specrec.errors import SpecrecError
from specrec.registry import Registry

DEFAULT_FILTER = "k-core"
DEFAULT_MIN_USER_AFTER = 3  # LLMEmb's filter_minmum


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


def keep_items_with_text(interactions: pl.DataFrame, metadata: pl.DataFrame,
                         recipe: TextRecipe) -> tuple[pl.DataFrame, dict]:
    """The events of the items whose text reads at least one present field (an item without a
    metadata row has none), and the counts of items and events removed (file order kept)."""
    metadata = metadata.with_columns(pl.col("item_id").cast(pl.String))
    described = metadata.filter(recipe.has_text(metadata))["item_id"].to_list()
    kept = interactions.filter(pl.col("item_id").is_in(described))
    removed_items = interactions["item_id"].n_unique() - kept["item_id"].n_unique()
    return kept, {
        "dropped_items_without_text": removed_items,
        "dropped_interactions_without_text": interactions.height - kept.height,
    }


@dataclass(frozen=True)
class FilterOptions:
    """Thresholds of the count filters; `min_user_after` is the one-pass filter's second step."""

    min_user: int
    min_item: int
    min_user_after: int | None = None


@dataclass
class FilterResult:
    """The kept interactions (file order) and the filter's counts for the dataset's stats."""

    interactions: pl.DataFrame
    info: dict = field(default_factory=dict)


FILTERS: Registry[Callable[[pl.DataFrame, FilterOptions], FilterResult]] = Registry("filter")


@FILTERS.register("k-core")
def iterative_k_core(interactions: pl.DataFrame, options: FilterOptions) -> FilterResult:
    """`k_core` until a fixed point (the default, as RecBole)."""
    core = k_core(interactions, min_user=options.min_user, min_item=options.min_item)
    info = {"filtering_passes": core.passes, "removed_per_pass": core.removed_per_pass}
    return FilterResult(core.interactions, info)


@FILTERS.register("one-pass", "llmemb")
def one_pass(interactions: pl.DataFrame, options: FilterOptions) -> FilterResult:
    """LLMEmb's `filter_common` then `filter_minmum`, each applied once (not iterated):

    1. keep an event iff its user has >= min_user and its item >= min_item events, both counted
       on the input (so items and users may fall below their threshold afterwards);
    2. drop the users left with fewer than `min_user_after` events (items are not recounted).
    """
    counted = interactions.filter(
        (pl.len().over("user_id") >= options.min_user)
        & (pl.len().over("item_id") >= options.min_item)
    )
    min_user_after = options.min_user_after
    if min_user_after is None:
        min_user_after = DEFAULT_MIN_USER_AFTER
    kept = counted.filter(pl.len().over("user_id") >= min_user_after)
    info = {
        "removed_by_counts": interactions.height - counted.height,
        "removed_by_min_user_after": counted.height - kept.height,
    }
    return FilterResult(kept, info)


def check_filter(name: str, min_user_after: int | None) -> str:
    """The filter's registered name; `min_user_after` is refused where it does not apply."""
    canonical = FILTERS.canonical(name)
    if min_user_after is not None:
        if canonical != "one-pass":
            raise SpecrecError(
                "--min-user-after is the second step of --filter one-pass; "
                f"drop it or add --filter one-pass (the filter is {canonical})"
            )
        check_k("min-user-after", min_user_after)
    return canonical
