"""Per-user metrics from target ranks, mean ± std over seeds, and paired significance tests."""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass

import numpy as np

from specrec.errors import SpecrecError

RANK_METRICS = ("hit", "recall", "ndcg", "mrr")
_METRIC_NAME = re.compile(r"^([a-z_]+)@(\d+)$")
UserValues = tuple[np.ndarray, np.ndarray]
"""(user_idx ascending, one value per user)."""


def parse_metric(name: str) -> tuple[str, int]:
    """`"NDCG@10"` -> `("ndcg", 10)`; anything not NAME@K is a user error."""
    match = _METRIC_NAME.match(name.strip().lower())
    if not match or int(match.group(2)) < 1:
        raise SpecrecError(f"metric '{name}' is not NAME@K with K >= 1 (e.g. ndcg@10)")
    return match.group(1), int(match.group(2))


def per_user_metric(ranks: np.ndarray, metric: str) -> np.ndarray:
    """One target per user with 1-based rank r, cut-off K (all zero when r > K):

    hit@K = recall@K = 1[r <= K];  ndcg@K = 1[r <= K] / log2(r + 1);  mrr@K = 1[r <= K] / r.
    """
    name, k = parse_metric(metric)
    ranks = np.asarray(ranks, dtype=np.float64)
    inside = ranks <= k
    if name in ("hit", "recall"):
        values = np.ones_like(ranks)
    elif name == "ndcg":
        values = 1.0 / np.log2(ranks + 1.0)
    elif name == "mrr":
        values = 1.0 / ranks
    else:
        raise SpecrecError(
            f"'{metric}' cannot be computed per user from ranks; use one of "
            f"{', '.join(m + '@K' for m in RANK_METRICS)}"
        )
    return np.where(inside, values, 0.0)


@dataclass(frozen=True)
class Summary:
    """mean, sample standard deviation (ddof = 1; NaN when n = 1) and count of one metric."""

    mean: float
    std: float
    n: int


def summarize(values: list[float]) -> Summary:
    """mean = Σx/n, std = sqrt(Σ(x - mean)² / (n - 1))."""
    array = np.asarray(values, dtype=np.float64)
    std = float(np.std(array, ddof=1)) if len(array) > 1 else math.nan
    return Summary(float(np.mean(array)), std, len(array))


def mean_over_seeds(per_seed: list[UserValues]) -> UserValues:
    """Average per-user values over seeds, keeping the users every seed evaluated.

    Each entry is (user_idx ascending, value); returns (common users, mean value per user).
    """
    users = per_seed[0][0]
    for other_users, _ in per_seed[1:]:
        users = np.intersect1d(users, other_users)
    stacked = [values[np.searchsorted(u, users)] for u, values in per_seed]
    return users, np.mean(stacked, axis=0)


@dataclass(frozen=True)
class PairedTest:
    """Two-sided paired tests of a row against the baseline over the users both evaluated."""

    n_users: int
    p_wilcoxon: float
    p_ttest: float


def paired_test(row: UserValues, base: UserValues) -> PairedTest:
    """Join (users, values) pairs on user_idx; scipy's Wilcoxon signed-rank and paired t-test.

    A p-value is NaN where the test is undefined (fewer than 2 users, all differences zero).
    """
    from scipy import stats

    users, row_at, base_at = np.intersect1d(row[0], base[0], return_indices=True)
    x, y = row[1][row_at], base[1][base_at]
    if len(users) < 2:
        return PairedTest(len(users), math.nan, math.nan)
    return PairedTest(len(users), _pvalue(stats.wilcoxon, x, y), _pvalue(stats.ttest_rel, x, y))


def _pvalue(test, x: np.ndarray, y: np.ndarray) -> float:
    if np.all(x == y):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(test(x, y).pvalue)
        except ValueError:
            return math.nan


def relative_change(value: float, baseline: float) -> float:
    """Relative improvement in %: 100 · (value - baseline) / baseline (NaN if baseline = 0)."""
    return 100.0 * (value - baseline) / baseline if baseline else math.nan


SIGNIFICANCE = 0.05
ONE_TAILED_TEST = ("one-tailed paired t-test on per-user values (scipy.stats.ttest_rel(best, "
                   'other, alternative="greater"); per-user values averaged over seeds, users '
                   f"evaluated by both), p < {SIGNIFICANCE} against every other row")


def one_tailed_ttest(best: UserValues, other: UserValues) -> float:
    """p of H1: mean(best − other) > 0, paired on the users both evaluated:

        d_u = x_u − y_u,  t = mean(d) / (sd(d) / sqrt(n)),  p = P(T_{n−1} ≥ t)

    (scipy.stats.ttest_rel(x, y, alternative="greater")); NaN when undefined (n < 2 or d ≡ 0).
    """
    from scipy import stats

    _, best_at, other_at = np.intersect1d(best[0], other[0], return_indices=True)
    x, y = best[1][best_at], other[1][other_at]
    if len(x) < 2 or np.all(x == y):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.ttest_rel(x, y, alternative="greater").pvalue)


def beats_all(best: UserValues, others: list[UserValues]) -> tuple[list[float], bool]:
    """The one-tailed p of `best` against each of `others`, and whether p < 0.05 for every one
    of them (the star; never with no others, never when any p is undefined)."""
    pvalues = [one_tailed_ttest(best, other) for other in others]
    return pvalues, bool(pvalues) and all(p < SIGNIFICANCE for p in pvalues)
