"""Sampled-ranking negatives against brute force: never the user's items, distinct, seeded,
independent of batching, and distributed as successive sampling ∝ weights (binomial bounds)."""

import bisect
import itertools
import math

import numpy as np
import pytest

import specrec.evaluate.sampling as sampling
from specrec.data.dataset import load_dataset
from specrec.errors import SpecrecError
from specrec.evaluate.sampling import (
    KEY_COUNTERS,
    SAMPLERS,
    Ranking,
    check_negatives,
    hashed_uniforms,
    sample_negatives,
    split_negatives,
)
from specrec.testing.synthetic import write_sequences

N_ITEMS = 40
Z = 5.5  # ≤ 4e-8 two-sided normal tail per count; ≤ 1e-6 for all the counts of a test


def _sequences(seed: int = 0) -> list[list[int]]:
    """30 users with 3..20 events (repeats allowed) and two who had nearly every item."""
    rng = np.random.default_rng(seed)
    users = [list(map(int, rng.integers(1, N_ITEMS + 1, size=rng.integers(3, 21))))
             for _ in range(30)]
    users.append(list(range(1, N_ITEMS - 2)) + [2, 5])  # 37 distinct items: 3 left
    users.append(list(range(3, N_ITEMS + 1)))  # 38 distinct: 2 left
    return users


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    sequences = _sequences()
    path = tmp_path_factory.mktemp("sampling") / "data"
    write_sequences(path, sequences, n_items=N_ITEMS)
    return load_dataset(path), sequences


def _train_counts(sequences: list[list[int]]) -> np.ndarray:
    """Training events per item, counted by hand: loo leaves the last two events out."""
    counts = np.zeros(N_ITEMS + 1)
    for sequence in sequences:
        for item in sequence[:-2]:
            counts[item] += 1
    return counts


def _brute_force(weights, history: set[int], stream: int, n: int, seed: int
                 ) -> tuple[list[int], bool]:
    """The rule of the module doc, one draw at a time: the first n distinct allowed items of
    the stream's draws, else (after 8n + 256 draws) the n smallest keys −ln(u') / w; and
    whether the keys were used."""
    cdf = list(itertools.accumulate(weights))
    allowed = {i for i in range(1, len(weights)) if weights[i] > 0 and i not in history}
    found: list[int] = []
    for t in range(8 * n + 256):
        u = hashed_uniforms(seed, np.array([stream]), np.array([t]))[0, 0]
        item = bisect.bisect_right(cdf, min(u * cdf[-1], math.nextafter(cdf[-1], 0.0)))
        if item in allowed and item not in found:
            found.append(item)
            if len(found) == n:
                return found, False
    keys = {i: -math.log(hashed_uniforms(seed, np.array([stream]),
                                         np.array([KEY_COUNTERS + i]))[0, 0]) / weights[i]
            for i in allowed}
    return sorted(allowed, key=keys.get)[:n], True


@pytest.mark.parametrize("sampler", ["uniform", "popularity"])
def test_negatives_equal_a_one_draw_at_a_time_brute_force(world, sampler):
    data, sequences = world
    weights = SAMPLERS.get(sampler)(data)
    events = data.targets("test")
    users = data.user_of(events)
    negatives = split_negatives(data, "test", 2, sampler, seed=7)
    for row, (user, event) in enumerate(zip(users, events)):
        history = set(sequences[user - 1])
        assert len(set(negatives[row])) == 2 and not history & set(negatives[row])
        assert list(negatives[row]) == _brute_force(weights, history, int(event), 2, 7)[0]


def test_users_with_as_many_items_left_as_negatives_get_all_of_them(world):
    data, sequences = world
    weights = SAMPLERS.get("uniform")(data)
    user = len(sequences)  # 38 distinct items of 40
    allowed = sorted(set(range(1, N_ITEMS + 1)) - set(sequences[user - 1]))
    drawn = sample_negatives(data, weights, np.full(50, user), np.arange(50), 2, seed=0)
    assert allowed == [1, 2] and all(sorted(row) == allowed for row in drawn)


def test_seeded_and_independent_of_batching(world, monkeypatch):
    data, _ = world
    negatives = split_negatives(data, "test", 2, "uniform", seed=1)
    assert np.array_equal(negatives, split_negatives(data, "test", 2, "uniform", seed=1))
    assert not np.array_equal(negatives, split_negatives(data, "test", 2, "uniform", seed=2))
    events = data.targets("test")
    order = np.random.default_rng(0).permutation(len(events))
    weights = SAMPLERS.get("uniform")(data)
    shuffled = sample_negatives(data, weights, data.user_of(events)[order], events[order], 2, 1)
    assert np.array_equal(shuffled, negatives[order])
    monkeypatch.setattr(sampling, "HASH_BUDGET", 1)  # one target per chunk
    assert np.array_equal(split_negatives(data, "test", 2, "uniform", seed=1), negatives)


def test_popularity_weights_are_training_event_counts(world):
    data, sequences = world
    assert np.array_equal(SAMPLERS.get("popularity")(data), _train_counts(sequences))
    assert SAMPLERS.get("uniform")(data).tolist() == [0.0] + [1.0] * N_ITEMS


def test_hashed_uniforms_are_uniform_on_the_open_interval():
    u = hashed_uniforms(3, np.arange(100), np.arange(1000))
    assert u.min() > 0 and u.max() < 1
    m = u.size
    assert abs(u.mean() - 0.5) < Z * math.sqrt(1 / 12 / m)
    for edge in (0.1, 0.25, 0.5, 0.9):  # empirical CDF: binomial counts
        assert abs((u < edge).sum() - m * edge) < Z * math.sqrt(m * edge * (1 - edge))
    assert np.array_equal(u, hashed_uniforms(3, np.arange(100), np.arange(1000)))


def _subset_frequencies(data, weights, user: int, n: int, draws: int) -> dict:
    negatives = sample_negatives(data, weights, np.full(draws, user), np.arange(draws), n, 11)
    assert all(len(set(row)) == n for row in negatives)
    counts: dict = {}
    for row in negatives:
        counts[frozenset(row.tolist())] = counts.get(frozenset(row.tolist()), 0) + 1
    return counts


def _successive(weights, allowed: list[int], subset: tuple) -> float:
    """P(the n items drawn one after another ∝ weight without replacement are `subset`)."""
    total = sum(weights[i] for i in allowed)
    probability = 0.0
    for order in itertools.permutations(subset):
        p, left = 1.0, total
        for item in order:
            p *= weights[item] / left
            left -= weights[item]
        probability += p
    return probability


def _assert_binomial(counts: dict, probabilities: dict, draws: int) -> None:
    assert set(counts) <= set(probabilities)
    for subset, p in probabilities.items():
        sd = math.sqrt(draws * p * (1 - p))
        assert abs(counts.get(subset, 0) - draws * p) <= Z * sd, (sorted(subset), p)


@pytest.fixture(scope="module")
def skewed(tmp_path_factory):
    """Items 1..8. The sampled user (1) had items 1, 2, 3; item 1 fills 400 users' training
    events, items 4..8 have 1..5 training events: draws reach an allowed item rarely, so many
    rows take the key fallback and many the first draws."""
    sequences = [[1, 2, 3, 1, 2]]
    sequences += [[1] * 6 for _ in range(400)]
    sequences += [[item] * count + [1, 1] for count, item in enumerate(range(4, 9), start=1)]
    path = tmp_path_factory.mktemp("skewed") / "data"
    write_sequences(path, sequences, n_items=8)
    return load_dataset(path)


@pytest.mark.parametrize("n", [1, 2])
def test_popularity_frequencies_match_successive_sampling(skewed, n):
    weights = SAMPLERS.get("popularity")(skewed)
    assert weights[4:].tolist() == [1, 2, 3, 4, 5] and weights[1] == 400 * 4 + 1
    allowed, draws = [4, 5, 6, 7, 8], 20000
    expected = {frozenset(s): _successive(weights, allowed, s)
                for s in itertools.combinations(allowed, n)}
    _assert_binomial(_subset_frequencies(skewed, weights, 1, n, draws), expected, draws)


def test_draws_and_key_fallback_both_equal_the_brute_force(skewed):
    weights = SAMPLERS.get("popularity")(skewed)
    drawn = sample_negatives(skewed, weights, np.ones(300, dtype=np.int64), np.arange(300), 2, 5)
    fallbacks = 0
    for stream in range(300):
        expected, fallback = _brute_force(weights, {1, 2, 3}, stream, 2, 5)
        assert list(drawn[stream]) == expected
        fallbacks += fallback
    assert 0 < fallbacks < 300  # both paths were taken


def test_uniform_frequencies_are_equal_over_subsets(skewed):
    weights = SAMPLERS.get("uniform")(skewed)
    allowed, draws = [4, 5, 6, 7, 8], 20000
    expected = {frozenset(s): 1 / 10 for s in itertools.combinations(allowed, 2)}
    _assert_binomial(_subset_frequencies(skewed, weights, 1, 2, draws), expected, draws)


def test_too_many_negatives_names_the_largest_valid_value(world):
    data, sequences = world
    events = data.targets("valid")
    fewest = min(N_ITEMS - len(set(sequences[u - 1])) for u in data.user_of(events))
    assert fewest == 2
    check_negatives(data, "valid", fewest, "uniform")
    with pytest.raises(SpecrecError, match="use --valid-negatives 2 or fewer") as info:
        check_negatives(data, "valid", 3, "uniform", option="--valid-negatives")
    assert "\n" not in str(info.value) and f"user {len(sequences)}" in str(info.value)
    popular = SAMPLERS.get("popularity")(data)
    fewest = min(sum(1 for i in range(1, N_ITEMS + 1)
                     if popular[i] > 0 and i not in set(sequences[u - 1]))
                 for u in data.user_of(events))
    with pytest.raises(SpecrecError, match=f"use --negatives {fewest} or fewer"):
        check_negatives(data, "valid", fewest + 1, "popularity")


@pytest.mark.parametrize("ranking, message", [
    (Ranking("sorted"), "unknown --protocol 'sorted'"),
    (Ranking("sampled", sampler="zipf"), "unknown negative sampler 'zipf'"),
    (Ranking("sampled", negatives=0), "--negatives must be >= 1"),
    (Ranking("sampled", seed=-1), "--sample-seed must be >= 0"),
])
def test_bad_rankings_are_refused(ranking, message):
    with pytest.raises(SpecrecError, match=message):
        ranking.check()


def test_ranking_records_and_labels():
    sampled = Ranking("sampled", 100, "popularity", 3)
    assert sampled.record() == {"protocol": "sampled", "negatives": 100,
                                "sampler": "popularity", "seed": 3}
    assert Ranking.from_record(sampled.record()) == sampled
    assert sampled.label() == "sampled-100, popularity"
    assert Ranking().record() == {"protocol": "full"} and Ranking().label() == ""
    assert Ranking.from_record(None) == Ranking()
    assert sampling.labelled("hit@10", sampled.label()) == "hit@10 (sampled-100, popularity)"
    assert sampling.labelled("hit@10", "") == "hit@10"
