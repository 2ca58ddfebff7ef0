"""Sampled ranking: per target, N distinct negatives from the items outside the user's sequence.

LLMEmb / LLM-ESR rank each target against 100 negatives that the user never interacted with. Here
the N negatives are drawn without replacement, one after another with probability

    P(i | drawn so far) = w_i / Σ_{j allowed, not drawn} w_j,

w = 1 per item (`uniform`) or its training events (`popularity`); allowed = weight > 0 and not in
the user's whole sequence (every split). Each target has its own stream of draws: the t-th draw is
the item at u_t · Σw on the cumulative weights, u_t a hash of (seed, the target's event index, t)
(the t-th output of SplitMix64). The negatives are the first N distinct allowed items of that
stream, which is the rule above exactly. A target still short after 8N + 256 draws (its allowed
items hold little weight) takes Efraimidis & Spirakis' keys instead, the same distribution:

    k_i = −ln(u'_i) / w_i  (∞ if not allowed),   negatives = the N items of smallest key,

with u' from hash counters 2^62 + i, independent of the draws. Either way a target's negatives
depend on the seed and the data alone: not on batch size, batch order or the other targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from specrec.data.dataset import SequenceData
from specrec.errors import SpecrecError
from specrec.registry import Registry

RANKING_PROTOCOLS = ("full", "sampled")
HASH_BUDGET = 1 << 22  # hashes held at a time: targets per chunk = HASH_BUDGET // width (>= 1)
KEY_COUNTERS = 1 << 62  # the key fallback's hash counters start here, far beyond every draw
_WORD = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)

SAMPLERS: Registry[Callable[[SequenceData], np.ndarray]] = Registry("negative sampler")


@SAMPLERS.register("uniform")
def uniform_weights(data: SequenceData) -> np.ndarray:
    """Weight 1 for every item 1..N, 0 for the padding row."""
    weights = np.ones(data.n_items + 1, dtype=np.float64)
    weights[0] = 0.0
    return weights


@SAMPLERS.register("popularity")
def popularity_weights(data: SequenceData) -> np.ndarray:
    """Each item's number of events labelled `train` (repeats counted; valid, test and context
    events are not): an item with no training event is never drawn."""
    return data.popularity("train").astype(np.float64)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, a bijection of uint64 (arithmetic wraps modulo 2^64)."""
    x = (x ^ (x >> np.uint64(30))) * _MIX_1
    x = (x ^ (x >> np.uint64(27))) * _MIX_2
    return x ^ (x >> np.uint64(31))


def hashed_uniforms(seed: int, streams: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """`u [B, M]` in (0, 1) with 53 random bits: output `counters[m] + 1` of SplitMix64 started
    at state `mix(seed + (streams[b] + 1) · γ)`, γ the 64-bit golden ratio."""
    with np.errstate(over="ignore"):
        seed_word = np.full(1, seed & _WORD, dtype=np.uint64)
        states = _mix(seed_word + (np.asarray(streams, dtype=np.uint64) + np.uint64(1)) * _GOLDEN)
        steps = (np.asarray(counters, dtype=np.uint64) + np.uint64(1)) * _GOLDEN
        bits = _mix(states[:, None] + steps[None, :])
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def user_item_codes(data: SequenceData) -> np.ndarray:
    """Sorted distinct `user · (N + 1) + item` over every event: who ever had which item."""
    owners = np.repeat(np.arange(len(data.lengths), dtype=np.int64), data.lengths)
    return np.unique(owners * (data.n_items + 1) + data.items)


def sample_negatives(data: SequenceData, weights: np.ndarray, users: np.ndarray,
                     streams: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`[B, n]` distinct negatives for `users [B]` ∝ `weights [N+1]` (see the module doc), row b
    from the stream `streams[b]`; every user must have n allowed items (`check_negatives`)."""
    users = np.asarray(users, dtype=np.int64)
    streams = np.asarray(streams, dtype=np.int64)
    codes, cdf = user_item_codes(data), np.cumsum(weights)
    negatives = np.empty((len(users), n), dtype=np.int64)
    todo = np.arange(len(users))
    for draws in (2 * n + 32, 8 * n + 256):  # the second pass redoes the first's draws and more
        complete = np.zeros(len(todo), dtype=bool)
        step = max(1, HASH_BUDGET // draws)
        for begin in range(0, len(todo), step):
            rows = todo[begin : begin + step]
            found, done = _first_distinct(cdf, codes, data.n_items + 1, users[rows],
                                          streams[rows], n, draws, seed)
            negatives[rows[done]] = found
            complete[begin : begin + step] = done
        todo = todo[~complete]
    step = max(1, HASH_BUDGET // len(weights))
    for begin in range(0, len(todo), step):
        rows = todo[begin : begin + step]
        negatives[rows] = _smallest_keys(weights, sequence_mask(data, users[rows]),
                                         streams[rows], n, seed)
    return negatives


def _first_distinct(cdf: np.ndarray, codes: np.ndarray, width: int, users: np.ndarray,
                    streams: np.ndarray, n: int, draws: int, seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The first n distinct allowed items among each row's first `draws` draws, for the rows
    that have them (`done`), in draw order."""
    total = cdf[-1]
    target = np.minimum(hashed_uniforms(seed, streams, np.arange(draws)) * total,
                        np.nextafter(total, 0.0))
    items = np.searchsorted(cdf, target, side="right")  # P(item i) = w_i / Σw; never w_i = 0
    wanted = users[:, None] * width + items
    at = np.minimum(np.searchsorted(codes, wanted), len(codes) - 1)
    order = np.argsort(items, axis=1, kind="stable")  # equal items keep their draw order
    ordered = np.take_along_axis(items, order, axis=1)
    first_sorted = np.ones(ordered.shape, dtype=bool)
    first_sorted[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    first = np.empty_like(first_sorted)
    np.put_along_axis(first, order, first_sorted, axis=1)
    keep = first & (codes[at] != wanted)
    done = keep.sum(axis=1) >= n
    keep &= np.cumsum(keep, axis=1) <= n
    return items[done][keep[done]].reshape(-1, n).astype(np.int64), done


def _smallest_keys(weights: np.ndarray, excluded: np.ndarray, streams: np.ndarray, n: int,
                   seed: int) -> np.ndarray:
    """The n allowed items of smallest key k_i = −ln(u'_i) / w_i per row (`excluded [B, N+1]`
    marks the user's items), in increasing key order."""
    u = hashed_uniforms(seed, streams, KEY_COUNTERS + np.arange(len(weights)))
    with np.errstate(divide="ignore"):
        keys = -np.log(u) / weights[None, :]
    keys[excluded | (weights <= 0)[None, :]] = np.inf
    picked = np.argpartition(keys, n - 1, axis=1)[:, :n]
    order = np.argsort(np.take_along_axis(keys, picked, axis=1), axis=1, kind="stable")
    return np.take_along_axis(picked, order, axis=1).astype(np.int64)


def sequence_mask(data: SequenceData, users: np.ndarray) -> np.ndarray:
    """`[B, N+1]` bool: True at every item of each user's whole sequence (any split) and at 0."""
    users = np.asarray(users, dtype=np.int64)
    starts = data.offsets[users]
    lengths = data.offsets[users + 1] - starts
    rows = np.repeat(np.arange(len(users)), lengths)
    events = np.repeat(starts + lengths - np.cumsum(lengths), lengths) + np.arange(lengths.sum())
    mask = np.zeros((len(users), data.n_items + 1), dtype=bool)
    mask[rows, data.items[events]] = True
    mask[:, 0] = True
    return mask


def allowed_counts(data: SequenceData, weights: np.ndarray) -> np.ndarray:
    """Per user (index = user_idx, 0 unused): items of positive weight outside their sequence."""
    width = data.n_items + 1
    pairs = user_item_codes(data)
    positive = weights[pairs % width] > 0
    inside = np.bincount(pairs[positive] // width, minlength=len(data.lengths))
    return int(np.count_nonzero(weights > 0)) - inside


def check_negatives(data: SequenceData, split: str, n: int, sampler: str,
                    option: str = "--negatives") -> None:
    """Refuse more negatives than some target's user can have, naming the largest valid n."""
    events = data.targets(split)
    if not len(events):
        return
    users = data.user_of(events)
    allowed = allowed_counts(data, SAMPLERS.get(sampler)(data))[users]
    largest = int(allowed.min())
    if n > largest:
        user = int(users[int(np.argmin(allowed))])
        fix = (f"use {option} {largest} or fewer" if largest else
               "no sampled ranking is possible here; use the full protocol")
        raise SpecrecError(f"{option} {n} is more than the {largest} items the {sampler} sampler "
                           f"can draw for user {user} on the {split} split (items of positive "
                           f"weight outside the user's sequence); {fix}")


def split_negatives(data: SequenceData, split: str, n: int, sampler: str, seed: int, *,
                    option: str = "--negatives") -> np.ndarray:
    """`[T, n]` negatives of the targets `data.targets(split)`, in that order, each target's from
    the stream of its event index; too many negatives is an error (`check_negatives`)."""
    check_negatives(data, split, n, sampler, option)
    events = data.targets(split)
    return sample_negatives(data, SAMPLERS.get(sampler)(data), data.user_of(events), events, n,
                            seed)


@dataclass(frozen=True)
class Ranking:
    """How targets are ranked: among all items (`full`), or among themselves and `negatives`
    items drawn by `sampler` with `seed` (`sampled`; the other fields mean nothing for `full`)."""

    protocol: str = "full"
    negatives: int = 100
    sampler: str = "uniform"
    seed: int = 0

    @property
    def sampled(self) -> bool:
        return self.protocol == "sampled"

    def check(self, prefix: str = "--") -> None:
        """Refuse unknown protocols and samplers, n < 1 and seeds < 0 (each field alone, as plans
        check options); `prefix` starts the option names (`--`, `--valid-`)."""
        if self.protocol not in RANKING_PROTOCOLS:
            raise SpecrecError(f"unknown {prefix}protocol '{self.protocol}'; choose one of "
                               f"{', '.join(RANKING_PROTOCOLS)}")
        SAMPLERS.canonical(self.sampler)
        if self.negatives < 1:
            raise SpecrecError(f"{prefix}negatives must be >= 1, not {self.negatives}")
        if self.seed < 0:
            raise SpecrecError(f"{prefix}sample-seed must be >= 0, not {self.seed}")

    def record(self) -> dict:
        """`{"protocol": "full"}`, or every field when sampled (what metrics.json records)."""
        if not self.sampled:
            return {"protocol": "full"}
        return {"protocol": "sampled", "negatives": self.negatives, "sampler": self.sampler,
                "seed": self.seed}

    @classmethod
    def from_record(cls, record: dict | None) -> "Ranking":
        """The ranking a record describes; no record (older artifacts) is the full sort."""
        if not record or record.get("protocol", "full") == "full":
            return cls()
        return cls("sampled", int(record.get("negatives", 100)),
                   str(record.get("sampler", "uniform")), int(record.get("seed", 0)))

    def label(self) -> str:
        """What metric labels add: "" for the full sort, else e.g. `sampled-100, uniform`."""
        return f"sampled-{self.negatives}, {self.sampler}" if self.sampled else ""

    def check_split(self, data: SequenceData, split: str, option: str = "--negatives") -> None:
        """Refuse more negatives than some target of `split` can have (`check_negatives`)."""
        if self.sampled:
            check_negatives(data, split, self.negatives, self.sampler, option)

    def negatives_for(self, data: SequenceData, split: str,
                      option: str = "--negatives") -> np.ndarray | None:
        """The negatives of `split`'s targets (`split_negatives`); None for the full sort."""
        if not self.sampled:
            return None
        return split_negatives(data, split, self.negatives, self.sampler, self.seed,
                               option=option)


def labelled(metric: str, ranking: str) -> str:
    """`hit@10` with ranking `sampled-100, uniform` -> `hit@10 (sampled-100, uniform)`."""
    return f"{metric} ({ranking})" if ranking else metric
