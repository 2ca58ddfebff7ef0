"""Split protocols: label every event train|valid|test|context once, at preprocess time.

- `loo`: per user, last event = test, second last = valid, the rest train (< 3 events: all train).
- `user-split`: users ordered by the time of their last event (ties by user index; `user_order
  = "random"`: shuffled with `seed`), split 8:1:1, oldest first; a train user's events are all
  train; a valid/test user's last event is its valid/test target and the earlier events context.
- `temporal`: global cutoffs c1 <= c2; events before c1 are train; per user the first event in
  [c1, c2) is valid, the first event >= c2 is test, other events from c1 on are context.
A valid/test target always has at least one earlier event, so no target has an empty history:
in `user-split` a valid/test user with a single event has no target (its event is context); in
`temporal` a user's very first event is never the window's target (the next event in the window is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from specrec.data.dataset import SPLIT_CODE, SPLITS
from specrec.errors import SpecrecError
from specrec.registry import Registry

TRAIN, VALID, TEST, CONTEXT = (SPLIT_CODE[name] for name in ("train", "valid", "test", "context"))
USER_SPLIT_SHARES = (0.8, 0.1, 0.1)
DEFAULT_CUTOFFS = (0.8, 0.9)
USER_ORDERS = ("time", "random")


@dataclass(frozen=True)
class Events:
    """Events sorted by (user, position): `user` in 1..n_users, `position` 0-based per user."""

    user: np.ndarray
    position: np.ndarray
    timestamp: np.ndarray
    n_users: int

    @property
    def length(self) -> np.ndarray:
        """Each event's user's sequence length."""
        return np.bincount(self.user, minlength=self.n_users + 1)[self.user]


@dataclass(frozen=True)
class SplitOptions:
    seed: int = 0
    valid_cutoff: float | None = None
    test_cutoff: float | None = None
    user_order: str = "time"  # user-split only


@dataclass
class SplitResult:
    """int8 codes of `dataset.SPLITS` per event, and protocol facts for the stats."""

    codes: np.ndarray
    info: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        tally = np.bincount(self.codes, minlength=len(SPLITS))
        return {name: int(tally[code]) for name, code in SPLIT_CODE.items()}


PROTOCOLS: Registry[Callable[[Events, SplitOptions], SplitResult]] = Registry("protocol")


@PROTOCOLS.register("loo")
def leave_one_out(events: Events, options: SplitOptions) -> SplitResult:
    """Last event test, second last valid, earlier events train; users with < 3 events all train."""
    length = events.length
    full = length >= 3
    codes = np.full(len(events.user), TRAIN, dtype=np.int8)
    codes[full & (events.position == length - 1)] = TEST
    codes[full & (events.position == length - 2)] = VALID
    short_users = int(
        np.count_nonzero(np.bincount(events.user, minlength=events.n_users + 1)[1:] < 3)
    )
    return SplitResult(codes, {"users_without_targets": short_users})


def users_by_last_event(events: Events) -> np.ndarray:
    """Users 1..n ordered by the timestamp of their last event, ties by user index."""
    last = np.full(events.n_users + 1, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, events.user, events.timestamp.astype(np.int64))
    users = np.arange(1, events.n_users + 1)
    return users[np.lexsort((users, last[1:]))]


@PROTOCOLS.register("user-split")
def user_split(events: Events, options: SplitOptions) -> SplitResult:
    """Users ordered by their last event's time (or shuffled, default_rng(seed)), cut 8:1:1 with
    the oldest in train and the newest in test; valid/test users' last events are targets."""
    n_users = events.n_users
    n_valid = int(round(n_users * USER_SPLIT_SHARES[1]))
    n_test = int(round(n_users * USER_SPLIT_SHARES[2]))
    if options.user_order == "time":
        order = users_by_last_event(events)
    else:
        order = np.random.default_rng(options.seed).permutation(np.arange(1, n_users + 1))
    group = np.full(n_users + 1, TRAIN, dtype=np.int8)
    group[order[n_users - n_valid - n_test : n_users - n_test]] = VALID
    group[order[n_users - n_test :]] = TEST
    user_group = group[events.user]
    is_target = (events.position == events.length - 1) & (events.position >= 1)
    codes = np.where(user_group == TRAIN, TRAIN, np.where(is_target, user_group, CONTEXT))
    info = {"train_users": n_users - n_valid - n_test, "valid_users": n_valid, "test_users": n_test,
            "user_order": options.user_order}
    return SplitResult(codes.astype(np.int8), info)


def resolve_cutoff(value: float | None, default: float, timestamps: np.ndarray) -> int:
    """A quantile in [0, 1] of all timestamps (rounded up to a second), or absolute seconds > 1."""
    value = default if value is None else value
    if value <= 1:
        return int(math.ceil(np.quantile(timestamps, value)))
    return int(value)


def _first_in_window(events: Events, window: np.ndarray) -> np.ndarray:
    """Each user's first event inside `window` that has an earlier event (a user's window events
    are contiguous because positions follow time)."""
    eligible = window & (events.position >= 1)
    previous_in = np.zeros_like(eligible)
    previous_in[1:] = eligible[:-1] & (events.user[1:] == events.user[:-1])
    return eligible & ~previous_in


@PROTOCOLS.register("temporal")
def temporal(events: Events, options: SplitOptions) -> SplitResult:
    """Global time cutoffs: before c1 train, first event in [c1, c2) valid, first >= c2 test."""
    c1 = resolve_cutoff(options.valid_cutoff, DEFAULT_CUTOFFS[0], events.timestamp)
    c2 = resolve_cutoff(options.test_cutoff, DEFAULT_CUTOFFS[1], events.timestamp)
    if c1 > c2:
        raise SpecrecError(
            f"valid cutoff ({c1} s) is after test cutoff ({c2} s); "
            "give --valid-cutoff <= --test-cutoff"
        )
    ts = events.timestamp
    codes = np.full(len(ts), CONTEXT, dtype=np.int8)
    codes[ts < c1] = TRAIN
    codes[_first_in_window(events, (ts >= c1) & (ts < c2))] = VALID
    codes[_first_in_window(events, ts >= c2)] = TEST
    return SplitResult(codes, {"valid_cutoff_s": c1, "test_cutoff_s": c2})


def check_split_options(protocol: str, options: SplitOptions) -> str:
    """The canonical protocol name; raises SpecrecError for options that cannot apply."""
    name = PROTOCOLS.canonical(protocol)
    if options.user_order not in USER_ORDERS:
        raise SpecrecError(f"unknown --user-order '{options.user_order}'; choose one of: "
                           f"{', '.join(USER_ORDERS)}")
    if isinstance(options.seed, bool) or not isinstance(options.seed, int) or options.seed < 0:
        raise SpecrecError(f"--seed must be a whole number >= 0, got {options.seed!r}")
    for flag, value in (
        ("valid-cutoff", options.valid_cutoff),
        ("test-cutoff", options.test_cutoff),
    ):
        if value is None:
            continue
        if name != "temporal":
            raise SpecrecError(f"--{flag} applies only to --protocol temporal (got {name})")
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise SpecrecError(
                f"--{flag} must be a quantile in [0, 1] or seconds since 1970 (> 1), got {value!r}"
            )
    return name


def protocol_label(config: dict) -> str:
    """A dataset's protocol as tables show it: `user-split` says how users were ordered."""
    protocol = str(config.get("protocol", "loo"))
    if protocol == "user-split":
        return f"user-split ({config.get('user_order', 'random')} order)"
    return protocol


def split_events(protocol: str, events: Events, options: SplitOptions) -> SplitResult:
    """Run a protocol by name."""
    return PROTOCOLS.get(protocol)(events, options)
