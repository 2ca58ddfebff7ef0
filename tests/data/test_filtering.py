"""Rating threshold and iterative k-core on hand-checked cases."""

from __future__ import annotations

import polars as pl
import pytest

from raw_samples import SAMPLE
from specrec.data.filtering import apply_rating_threshold, k_core
from specrec.errors import SpecrecError


def frame(rows):
    return pl.DataFrame(rows, schema=["user_id", "item_id", "rating", "timestamp"], orient="row")


def test_kcore_needs_three_passes_on_the_chain():
    result = k_core(frame(SAMPLE), min_user=2, min_item=2)
    assert result.passes == 3 and result.removed_per_pass == [1, 1, 1]
    assert result.interactions.rows() == frame(SAMPLE[:6]).rows()  # file order kept


def test_one_pass_is_not_enough():
    """After one pass a user drops below k; only iterating removes them."""
    rows = frame(SAMPLE)
    once = rows.filter((pl.len().over("user_id") >= 2) & (pl.len().over("item_id") >= 2))
    assert once.height == 8 and once["item_id"].value_counts().filter(pl.col("count") < 2).height
    assert k_core(rows, min_user=2, min_item=2).interactions.height == 6


def test_kcore_zero_disables_and_result_is_a_fixed_point():
    rows = frame(SAMPLE)
    assert k_core(rows, min_user=0, min_item=0).interactions.height == 9
    assert k_core(rows, min_user=0, min_item=0).passes == 0
    items_only = k_core(rows, min_user=0, min_item=3)  # only i3 (3 events) survives
    assert items_only.interactions["item_id"].unique().to_list() == ["i3"]
    users_only = k_core(rows, min_user=3, min_item=0)
    assert sorted(users_only.interactions["user_id"].unique().to_list()) == ["u1", "u2"]
    again = k_core(users_only.interactions, min_user=3, min_item=0)
    assert again.passes == 0


def test_kcore_can_remove_everything():
    assert k_core(frame(SAMPLE), min_user=4, min_item=1).interactions.height == 0


def test_rating_threshold_keeps_at_least_t():
    kept = apply_rating_threshold(frame(SAMPLE), 4.0)
    assert kept["rating"].to_list() == [5.0, 4.0, 4.0, 5.0, 4.0]
    assert apply_rating_threshold(frame(SAMPLE), None).height == 9


def test_rating_threshold_without_ratings_is_an_error():
    with pytest.raises(SpecrecError, match="no rating column"):
        apply_rating_threshold(frame(SAMPLE).drop("rating"), 4.0)


@pytest.mark.parametrize("k", [-1, 2.5, True])
def test_impossible_k_is_an_error(k):
    with pytest.raises(SpecrecError, match="min-user"):
        k_core(frame(SAMPLE), min_user=k, min_item=2)
