"""Seeded synthetic raw MovieLens files at scale: ML-20M's shape, or a catalogue of a million items.

Writes `ratings.csv` (`userId,movieId,rating,timestamp`, sorted by user and time) and `movies.csv`
(`movieId,title,genres`) that `specrec preprocess movielens DIR` reads like the real ML-20M.

    .venv/bin/python bench/scale_data.py ml20m work/bench-scale/raw-ml20m
    .venv/bin/python bench/scale_data.py million work/bench-scale/raw-million

Item popularity is a power law, p(rank r) ∝ r^(−alpha), over a seeded permutation of the ids
(so popularity is unrelated to the id), with a floor of `min_item` events per item; user lengths
are `min_user` plus a log-normal with ML-20M's median and mean, rescaled to the exact total.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

GENRES = ("Action", "Comedy", "Drama", "Thriller", "Romance", "Sci-Fi", "Horror", "Documentary")


@dataclass(frozen=True)
class Shape:
    users: int
    items: int
    interactions: int
    min_user: int  # every user has at least this many events
    min_item: int  # every item has at least this many events
    alpha: float = 0.8  # power-law exponent of item popularity
    median_extra: float = 48.0  # log-normal part of a user's length beyond min_user: median, mean
    mean_extra: float = 124.0


SHAPES = {  # ML-20M: 138,493 users (>= 20 ratings each), 26,744 rated movies, 20,000,263 ratings
    "ml20m": Shape(users=138_493, items=26_744, interactions=20_000_263, min_user=20, min_item=5),
    "million": Shape(users=10_000, items=1_000_000, interactions=1_500_000, min_user=5, min_item=1,
                     median_extra=60.0, mean_extra=145.0),
}


def scaled(shape: Shape, factor: float) -> Shape:
    """`shape` with `factor` times the users, items and events (a quick smoke run of the bench)."""
    return replace(shape, users=max(1, round(shape.users * factor)),
                   items=max(1, round(shape.items * factor)),
                   interactions=max(1, round(shape.interactions * factor)))


def user_lengths(shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """Per-user event counts: min_user + log-normal extra, summing to exactly `interactions`."""
    sigma = np.sqrt(2 * np.log(shape.mean_extra / shape.median_extra))
    extra = rng.lognormal(np.log(shape.median_extra), sigma, shape.users)
    budget = shape.interactions - shape.min_user * shape.users
    if budget < 0:
        raise ValueError(f"{shape.interactions} interactions cannot give {shape.users} users "
                         f"{shape.min_user} each")
    extra = np.floor(extra * budget / extra.sum()).astype(np.int64)
    short = budget - int(extra.sum())  # the flooring's remainder: one more event for the longest
    extra[np.argsort(-extra, kind="stable")[:short]] += 1
    return shape.min_user + extra


def item_events(shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """Item ids 1..N of every event in random order: `min_item` of each, the rest by power law."""
    floor = np.repeat(np.arange(1, shape.items + 1), shape.min_item)
    rest = shape.interactions - len(floor)
    if rest < 0:
        raise ValueError(f"{shape.interactions} interactions cannot give {shape.items} items "
                         f"{shape.min_item} each")
    popularity = np.arange(1, shape.items + 1, dtype=np.float64) ** -shape.alpha
    by_rank = rng.permutation(shape.items) + 1  # the id of the r-th most popular item
    drawn = by_rank[rng.choice(shape.items, size=rest, p=popularity / popularity.sum())]
    events = np.concatenate([floor, drawn]).astype(np.int32)
    rng.shuffle(events)
    return events


def write_raw(name: str, out: Path, seed: int = 0, factor: float = 1.0) -> dict:
    """Write `ratings.csv` and `movies.csv` of shape `name` (`factor` times its size) into `out`;
    returns the counts."""
    shape = scaled(SHAPES[name], factor)
    rng = np.random.default_rng(seed)
    lengths = user_lengths(shape, rng)
    items = item_events(shape, rng)
    users = np.repeat(np.arange(1, shape.users + 1, dtype=np.int32), lengths)
    first = np.repeat(rng.integers(789_652_009, 1_400_000_000, shape.users), lengths)
    step = rng.integers(1, 86_400, shape.interactions)  # strictly increasing within each user
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    cumulative = np.cumsum(step)
    timestamps = first + cumulative - np.concatenate([[0], cumulative])[starts]
    ratings = rng.integers(1, 11, shape.interactions) / 2
    out.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"userId": users, "movieId": items, "rating": ratings,
                  "timestamp": timestamps.astype(np.int64)}).write_csv(out / "ratings.csv")
    ids = np.arange(1, shape.items + 1)
    years = rng.integers(1920, 2016, shape.items)
    genres = ["|".join(GENRES[j] for j in np.flatnonzero(row)) or "(no genres listed)"
              for row in rng.random((shape.items, len(GENRES))) < 0.25]
    pl.DataFrame({"movieId": ids, "title": [f"Synthetic Movie {i} ({y})" for i, y in zip(ids, years)],
                  "genres": genres}).write_csv(out / "movies.csv")
    return {"users": shape.users, "items": shape.items, "interactions": shape.interactions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="size factor (smoke runs)")
    args = parser.parse_args()
    counts = write_raw(args.shape, args.out, args.seed, args.scale)
    print(f"{args.out}: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
