"""Selection on validation: best mean over seeds, ties to the first listed, bad scores refused."""

from __future__ import annotations

import math

import pytest

from specrec.errors import SpecrecError
from specrec.selection import best_config, mean_score


def test_best_mean_over_seeds_wins_not_the_best_single_seed():
    scores = {"lr=1e-3": [0.30, 0.10, 0.11], "lr=1e-4": [0.20, 0.19, 0.21]}
    assert best_config(scores) == "lr=1e-4"  # 0.20 mean beats 0.17 despite the 0.30 seed
    assert mean_score(scores["lr=1e-3"]) == pytest.approx(0.17)


def test_a_tie_goes_to_the_first_listed_configuration():
    # binary fractions, so both means are exactly 0.5
    assert best_config({"a": [0.25, 0.75], "b": [0.5, 0.5], "c": [0.125]}) == "a"
    assert best_config({"b": [0.5, 0.5], "a": [0.25, 0.75]}) == "b"


@pytest.mark.parametrize("scores", [{}, {"a": []}, {"a": [math.nan]}, {"a": [0.1, math.inf]}])
def test_nothing_or_non_finite_scores_are_refused(scores):
    with pytest.raises(SpecrecError):
        best_config(scores)
