"""Split protocols: loo, user-split (8:1:1, seeded) and temporal (cutoffs), label by label."""

from __future__ import annotations

import numpy as np
import pytest

from specrec.data.splits import Events, SplitOptions, check_split_options, split_events
from specrec.errors import SpecrecError

T, V, X, C = 0, 1, 2, 3  # train, valid, test, context codes of dataset.SPLITS


def events_of(timestamps_per_user: list[list[int]]) -> Events:
    user = np.concatenate([[u + 1] * len(ts) for u, ts in enumerate(timestamps_per_user)])
    position = np.concatenate([np.arange(len(ts)) for ts in timestamps_per_user])
    timestamp = np.concatenate([ts for ts in timestamps_per_user]).astype(np.int64)
    return Events(user.astype(np.int64), position, timestamp, len(timestamps_per_user))


def test_loo_labels_last_two_and_short_users_train():
    events = events_of([[1, 2, 3, 4], [5, 6, 7], [8, 9], [10]])
    result = split_events("loo", events, SplitOptions())
    assert result.codes.tolist() == [T, T, V, X, T, V, X, T, T, T]
    assert result.counts() == {"train": 6, "valid": 2, "test": 2, "context": 0}
    assert result.info == {"users_without_targets": 2}


def test_user_split_is_8_1_1_seeded_and_uses_context():
    events = events_of([[0, 1, 2]] * 100)
    result = split_events("user-split", events, SplitOptions(seed=3, user_order="random"))
    assert result.info == {"train_users": 80, "valid_users": 10, "test_users": 10,
                           "user_order": "random"}
    rows = [tuple(row) for row in result.codes.reshape(100, 3).tolist()]
    assert sorted(set(rows)) == [(T, T, T), (C, C, V), (C, C, X)]
    assert (rows.count((T, T, T)), rows.count((C, C, V)), rows.count((C, C, X))) == (80, 10, 10)
    assert result.counts() == {"train": 240, "valid": 10, "test": 10, "context": 40}
    same = split_events("user-split", events, SplitOptions(seed=3, user_order="random")).codes
    other = split_events("user-split", events, SplitOptions(seed=4, user_order="random")).codes
    assert np.array_equal(result.codes, same) and not np.array_equal(result.codes, other)


def test_user_split_orders_users_by_their_last_event_ties_by_user_index():
    rng = np.random.default_rng(5)
    histories = []
    for _ in range(40):  # last timestamps drawn from 6 values: many ties at the cut points
        last = int(rng.integers(0, 6)) * 100
        histories.append(sorted(int(t) for t in rng.integers(0, last + 1, rng.integers(1, 5))) +
                         [last])
    events = events_of(histories)
    result = split_events("user-split", events, SplitOptions())  # the default order: time
    # independently: users 1..40 by (last timestamp, user), oldest 32 train, 4 valid, 4 test
    order = sorted(range(1, 41), key=lambda u: (histories[u - 1][-1], u))
    group = {u: T for u in order[:32]} | {u: V for u in order[32:36]} | {u: X for u in order[36:]}
    lasts = sorted(h[-1] for h in histories)
    assert lasts[31] == lasts[32] or lasts[35] == lasts[36]  # a tie sits on a cut
    start = 0
    for user, history in enumerate(histories, start=1):
        codes = result.codes[start : start + len(history)].tolist()
        start += len(history)
        if group[user] == T:
            assert codes == [T] * len(history)
        else:
            target = group[user] if len(history) >= 2 else C
            assert codes == [C] * (len(history) - 1) + [target]
    assert result.info == {"train_users": 32, "valid_users": 4, "test_users": 4,
                           "user_order": "time"}
    assert not np.array_equal(result.codes, split_events(
        "user-split", events, SplitOptions(user_order="random")).codes)


def test_user_split_single_event_user_is_never_a_target():
    events = events_of([[7]] * 10)
    result = split_events("user-split", events, SplitOptions(seed=0))
    assert result.counts() == {"train": 8, "valid": 0, "test": 0, "context": 2}


def test_temporal_cutoffs_in_seconds():
    events = events_of(
        [
            [10, 20, 30, 40, 50, 60],  # train, train, valid(30), context(40), test(50), context
            [10, 55, 56],  # train, test, context: no event in [30, 50)
            [35, 36, 70],  # 35 is position 0 (context), so 36 is the valid target, 70 test
            [1, 2],  # all train
        ]
    )
    result = split_events("temporal", events, SplitOptions(valid_cutoff=30, test_cutoff=50))
    assert result.codes.tolist() == [T, T, V, C, X, C, T, X, C, C, V, X, T, T]
    assert result.info == {"valid_cutoff_s": 30, "test_cutoff_s": 50}


def test_temporal_default_quantiles():
    events = events_of([list(range(0, 100))])
    result = split_events("temporal", events, SplitOptions())
    assert result.info == {"valid_cutoff_s": 80, "test_cutoff_s": 90}  # ceil of 79.2 and 89.1
    assert result.codes[:80].tolist() == [T] * 80
    assert result.codes[80] == V and result.codes[90] == X
    assert result.counts() == {"train": 80, "valid": 1, "test": 1, "context": 18}


def test_temporal_cutoffs_out_of_order_is_an_error():
    with pytest.raises(SpecrecError, match="valid cutoff"):
        split_events(
            "temporal", events_of([[1, 2, 3]]), SplitOptions(valid_cutoff=0.9, test_cutoff=0.1)
        )


@pytest.mark.parametrize(
    "protocol, options, message",
    [
        ("bogus", SplitOptions(), "unknown protocol 'bogus'"),
        ("loo", SplitOptions(valid_cutoff=0.5), "only to --protocol temporal"),
        ("temporal", SplitOptions(test_cutoff=-1.0), "quantile"),
        ("temporal", SplitOptions(test_cutoff=float("nan")), "quantile"),
        ("user-split", SplitOptions(seed=-2), "--seed"),
        ("user-split", SplitOptions(user_order="newest"), "unknown --user-order 'newest'"),
    ],
)
def test_impossible_split_options(protocol, options, message):
    with pytest.raises(SpecrecError, match=message):
        check_split_options(protocol, options)
