"""Ranking metrics from 1-based target ranks (one target per user): Recall/HR, NDCG, MRR @ K."""

from __future__ import annotations

import numpy as np

from specrec.errors import SpecrecError
from specrec.registry import Registry

METRICS: Registry = Registry("metric")


@METRICS.register("recall")
def recall(ranks: np.ndarray, k: int) -> np.ndarray:
    """Recall@K = |{target} ∩ top-K| / |{target}| = 1[rank <= K] with one target per user."""
    return (ranks <= k).astype(np.float64)


@METRICS.register("hit")
def hit(ranks: np.ndarray, k: int) -> np.ndarray:
    """HR@K = 1[rank <= K]."""
    return (ranks <= k).astype(np.float64)


@METRICS.register("ndcg")
def ndcg(ranks: np.ndarray, k: int) -> np.ndarray:
    """NDCG@K = 1[rank <= K] / log2(rank + 1) (the ideal DCG of one relevant item is 1)."""
    return np.where(ranks <= k, 1.0 / np.log2(ranks.astype(np.float64) + 1.0), 0.0)


@METRICS.register("mrr")
def mrr(ranks: np.ndarray, k: int) -> np.ndarray:
    """MRR@K = 1[rank <= K] / rank."""
    return np.where(ranks <= k, 1.0 / ranks.astype(np.float64), 0.0)


def parse_metric(name: str) -> tuple[str, int]:
    """'ndcg@10' -> ('ndcg', 10)."""
    base, _, k = name.partition("@")
    if base not in METRICS or not k.isdigit() or int(k) < 1:
        raise SpecrecError(
            f"bad metric '{name}'; use NAME@K with NAME in {METRICS.names()} and K >= 1"
        )
    return METRICS.canonical(base), int(k)


def per_user(ranks: np.ndarray, name: str) -> np.ndarray:
    base, k = parse_metric(name)
    return METRICS.get(base)(np.asarray(ranks), k)


def summarize(ranks: np.ndarray, ks: tuple[int, ...] | list[int]) -> dict[str, float]:
    """Mean of every metric at every K, e.g. {'recall@10': ..., 'ndcg@10': ..., ...}."""
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        raise SpecrecError("no evaluation targets: the split is empty")
    return {
        f"{name}@{k}": float(METRICS.get(name)(ranks, k).mean())
        for k in ks
        for name in METRICS.names()
    }
