"""Long-tail groups (LLMEmb, LLM-ESR): metrics of the targets by item popularity (tail / head) and
by the length of the user's history (short / long).

As in LLMEmb's code (`utils/utils.py` `metric_pop_report`, `metric_len_report`), with its
thresholds ts_item and ts_user:

    head  ⇔ count(target item) >= head_item_min (ts_item),   tail  otherwise;
    long  ⇔ |history| >= long_user_min (ts_user),            short otherwise;

|history| = the user's events before the target (every split). count is `train` (the item's
events labelled train) or `sequences` (the users whose whole sequence holds the item, as
LLMEmb's `get_item_pop` counts: train + valid + test, once per user).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specrec.data.dataset import SequenceData
from specrec.errors import SpecrecError
from specrec.evaluate.metrics import summarize

ITEM_COUNTS = ("train", "sequences")
HEAD_ITEM_MIN = 4  # ts_item of LLMEmb's Amazon Beauty scripts (Yelp 13, Fashion 4)
LONG_USER_MIN = 9  # ts_user of LLMEmb's Amazon Beauty scripts (Yelp 12, Fashion 3)
SOURCE = "liuqidong07/LLMEmb utils/utils.py metric_pop_report, metric_len_report"


@dataclass(frozen=True)
class GroupThresholds:
    """Where tail meets head (item counts) and short meets long (history lengths)."""

    head_item_min: int = HEAD_ITEM_MIN
    long_user_min: int = LONG_USER_MIN
    item_counts: str = "train"

    def check(self) -> None:
        if self.item_counts not in ITEM_COUNTS:
            raise SpecrecError(f"unknown --item-counts '{self.item_counts}'; choose one of "
                               f"{', '.join(ITEM_COUNTS)}")
        for option, value in (("--head-item-min", self.head_item_min),
                              ("--long-user-min", self.long_user_min)):
            if value < 1:
                raise SpecrecError(f"{option} must be >= 1, not {value}")

    def record(self) -> dict:
        return {"head_item_min": self.head_item_min, "long_user_min": self.long_user_min,
                "item_counts": self.item_counts, "source": SOURCE}


def item_counts(data: SequenceData, how: str) -> np.ndarray:
    """`[N+1]` per item: train events (`train`) or users whose sequence holds it (`sequences`)."""
    if how == "train":
        return data.popularity("train")
    width = data.n_items + 1
    owners = np.repeat(np.arange(len(data.lengths), dtype=np.int64), data.lengths)
    pairs = np.unique(owners * width + data.items)
    return np.bincount(pairs % width, minlength=width).astype(np.int64)


def history_lengths(data: SequenceData, events: np.ndarray) -> np.ndarray:
    """The number of the user's events before each event."""
    return np.asarray(events, dtype=np.int64) - data.offsets[data.user_of(events)]


def group_metrics(data: SequenceData, events: np.ndarray, ranks: np.ndarray, ks: list[int],
                  thresholds: GroupThresholds) -> dict:
    """metrics.json's `groups`: the thresholds, then per group its rule, n_users and metrics."""
    counts = item_counts(data, thresholds.item_counts)[data.items[events]]
    lengths = history_lengths(data, events)
    name, head, long = thresholds.item_counts, thresholds.head_item_min, thresholds.long_user_min
    return {
        "thresholds": thresholds.record(),
        "item": {"tail": _group(ranks, counts < head, ks, f"{name} count < {head}"),
                 "head": _group(ranks, counts >= head, ks, f"{name} count >= {head}")},
        "user": {"short": _group(ranks, lengths < long, ks, f"history < {long} items"),
                 "long": _group(ranks, lengths >= long, ks, f"history >= {long} items")},
    }


def _group(ranks: np.ndarray, members: np.ndarray, ks: list[int], rule: str) -> dict:
    """A group's rule, size and mean metrics (none for an empty group)."""
    inside = np.asarray(ranks)[members]
    return {"rule": rule, "n_users": int(len(inside)),
            "metrics": summarize(inside, ks) if len(inside) else {}}
