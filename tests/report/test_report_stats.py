"""Unit tests of report statistics: per-user metrics, seed aggregation, paired tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from specrec.errors import SpecrecError
from specrec.report.stats import (
    mean_over_seeds,
    paired_test,
    parse_metric,
    per_user_metric,
    relative_change,
    summarize,
)


def test_summarize_is_mean_and_sample_std():
    summary = summarize([0.1, 0.2, 0.3, 0.6])
    assert summary.mean == pytest.approx(0.3, abs=1e-15)
    # sample std: sqrt(((-.2)² + (-.1)² + 0² + .3²) / 3) = sqrt(0.14 / 3)
    assert summary.std == pytest.approx(math.sqrt(0.14 / 3), abs=1e-15)
    assert summary.n == 4
    single = summarize([0.25])
    assert (single.mean, single.n) == (0.25, 1) and math.isnan(single.std)


def test_per_user_metrics_from_ranks():
    ranks = np.array([1, 3, 10, 11, 50])
    np.testing.assert_allclose(per_user_metric(ranks, "hit@10"), [1, 1, 1, 0, 0])
    np.testing.assert_allclose(per_user_metric(ranks, "recall@20"), [1, 1, 1, 1, 0])
    np.testing.assert_allclose(per_user_metric(ranks, "ndcg@10"),
                               [1.0, 0.5, 1 / math.log2(11), 0, 0], rtol=1e-15)
    np.testing.assert_allclose(per_user_metric(ranks, "MRR@10"), [1.0, 1 / 3, 0.1, 0, 0])


def test_metric_names_are_checked():
    assert parse_metric(" NDCG@20 ") == ("ndcg", 20)
    for bad in ("ndcg", "ndcg@0", "ndcg@k", "@10"):
        with pytest.raises(SpecrecError, match="NAME@K"):
            parse_metric(bad)
    with pytest.raises(SpecrecError, match="cannot be computed per user"):
        per_user_metric(np.array([1]), "coverage@10")


def test_mean_over_seeds_keeps_common_users():
    seed0 = (np.array([1, 2, 3, 4]), np.array([0.1, 0.2, 0.3, 0.4]))
    seed1 = (np.array([2, 3, 4, 5]), np.array([0.4, 0.5, 0.6, 0.7]))
    users, values = mean_over_seeds([seed0, seed1])
    np.testing.assert_array_equal(users, [2, 3, 4])
    np.testing.assert_allclose(values, [0.3, 0.4, 0.5], rtol=1e-15)


def test_paired_test_joins_on_users_and_matches_scipy():
    rng = np.random.default_rng(3)
    users = np.arange(1, 41)
    row_values, base_values = rng.random(40), rng.random(40)
    # the baseline lacks users 1-5; the row is given in the same order (sorted users)
    test = paired_test((users, row_values), (users[5:], base_values[5:]))
    x, y = row_values[5:], base_values[5:]
    assert test.n_users == 35
    assert test.p_wilcoxon == scipy_stats.wilcoxon(x, y).pvalue
    assert test.p_ttest == scipy_stats.ttest_rel(x, y).pvalue
    assert 0 < test.p_wilcoxon < 1 and 0 < test.p_ttest < 1


def test_paired_test_is_nan_when_undefined():
    same = (np.arange(1, 6), np.full(5, 0.5))
    identical = paired_test(same, same)
    assert identical.n_users == 5 and math.isnan(identical.p_wilcoxon)
    assert math.isnan(identical.p_ttest)
    disjoint = paired_test((np.array([1]), np.array([1.0])), (np.array([2]), np.array([0.0])))
    assert disjoint.n_users == 0 and math.isnan(disjoint.p_ttest)


def test_relative_change_in_percent():
    assert relative_change(0.0433, 0.0255) == pytest.approx(69.8039215686, rel=1e-9)
    assert relative_change(0.09, 0.1) == pytest.approx(-10.0)
    assert math.isnan(relative_change(0.1, 0.0))
