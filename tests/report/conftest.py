"""Report inputs made by the real stages on tiny data (one session-wide world, a few seconds)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from specrec.testing.pipeline import (
    evaluation_with_ranks,
    quiet,
    run_with_valid,
    tiny_dataset,
    tiny_embeddings,
    tiny_evaluation,
    tiny_run,
)
from specrec.transform.transform import transform

N_USERS, N_ITEMS = 60, 30


@contextmanager
def one_thread():
    """Tiny models train fastest on one torch thread, above all on a busy machine; the thread
    count is restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_tables(root: Path) -> dict[str, Path]:
    """ACE with λ auto on two encoders, an ACE λ sweep, whitenrec and PCA."""
    minilm = tiny_embeddings(root / "emb-minilm", n_items=N_ITEMS, encoder="minilm")
    e5 = tiny_embeddings(root / "emb-e5", n_items=N_ITEMS, encoder="e5", seed=1)
    tables = {"ace-auto": root / "ace-auto", "ace-auto-e5": root / "ace-auto-e5",
              "whitenrec": root / "whitenrec", "pca": root / "pca"}
    auto = {"lambda": "auto"}
    transform(method="ace", embeddings=minilm, out=tables["ace-auto"], dim=8, params=auto,
              log=quiet)
    transform(method="ace", embeddings=e5, out=tables["ace-auto-e5"], dim=8, params=auto,
              log=quiet)
    transform(method="ace", embeddings=minilm, out=root / "ace", dim=8,
              params={"lambda": "10,50,100"}, log=quiet)
    for lam in (10, 50, 100):
        tables[f"ace-{lam}"] = root / "ace" / f"lambda-{lam}"
    transform(method="whitenrec", embeddings=minilm, out=tables["whitenrec"], dim=8, log=quiet)
    transform(method="pca", embeddings=minilm, out=tables["pca"], dim=8, log=quiet)
    return tables


def make_runs(root: Path, data: Path, tables: dict[str, Path]) -> dict[str, Path]:
    """Runs keyed by what sets them apart from `id-s0` (ID-only SASRec, seed 0)."""
    runs = {f"id-s{seed}": tiny_run(root / f"id-s{seed}", data, seed=seed) for seed in (0, 1, 2)}
    runs["id-s0-again"] = tiny_run(root / "id-s0-again", data, seed=0)
    runs["id-dim16"] = tiny_run(root / "id-dim16", data, dim=16)
    runs["id-lr01"] = tiny_run(root / "id-lr01", data, lr=0.01)
    runs["gru-s3"] = tiny_run(root / "gru-s3", data, backbone="gru4rec", seed=3)
    for name in ("ace-auto", "ace-auto-e5", "ace-10", "ace-100", "whitenrec", "pca"):
        runs[name] = tiny_run(root / f"run-{name}", data, table=tables[name])
    for seed in (0, 1):
        runs[f"ace-50-s{seed}"] = tiny_run(root / f"ace-50-s{seed}", data, table=tables["ace-50"],
                                           seed=seed)
    return runs


def make_scenario(root: Path, runs: dict[str, Path]) -> dict:
    """Evaluations with chosen per-user ranks: the baseline (3 seeds), ACE λ=50 (2 seeds, the
    second run deleted afterwards) and whitenrec (1 seed, 5 users missing, rows shuffled)."""
    rng = np.random.default_rng(7)
    users = np.arange(1, N_USERS + 1)
    data: dict[str, dict] = {"base": {}, "ace": {}, "whiten": {}}
    paths = []
    for seed in (0, 1, 2):
        ranks = rng.integers(1, N_ITEMS + 1, size=N_USERS)
        path = root / f"eval-base-{seed}"
        metrics = evaluation_with_ranks(path, runs[f"id-s{seed}"], users, ranks)
        data["base"][seed] = (users, ranks, metrics)
        paths.append(path)
    for seed in (0, 1):
        ranks = np.maximum(1, rng.integers(1, N_ITEMS + 1, size=N_USERS) - 8)
        path = root / f"eval-ace-{seed}"
        metrics = evaluation_with_ranks(path, runs[f"ace-50-s{seed}"], users, ranks)
        data["ace"][seed] = (users, ranks, metrics)
        paths.append(path)
    shutil.rmtree(runs.pop("ace-50-s1"))  # a metrics artifact whose run is gone still reports
    order = rng.permutation(N_USERS - 5)
    w_users, w_ranks = users[:-5][order], rng.integers(1, 25, size=N_USERS - 5)
    path = root / "eval-whiten"
    data["whiten"][0] = (w_users, w_ranks,
                         evaluation_with_ranks(path, runs["whitenrec"], w_users, w_ranks))
    paths.append(path)
    return {"evaluations": paths, "data": data}


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> SimpleNamespace:
    """One dataset, its tables, runs, real evaluations (`evals`) and the chosen-rank scenario."""
    root = tmp_path_factory.mktemp("report-world")
    dataset = tiny_dataset(root / "ml-test", n_users=N_USERS, n_items=N_ITEMS)
    tables = make_tables(root)
    with one_thread():
        runs = make_runs(root, dataset, tables)
        scenario = make_scenario(root, runs)
        evals = {name: tiny_evaluation(root / f"eval-{name}", run) for name, run in runs.items()
                 if name not in ("gru-s3", "id-s1", "id-s2")}
    inputs = [*scenario["evaluations"], tables["ace-10"], tables["ace-100"], runs["gru-s3"]]
    return SimpleNamespace(root=root, dataset=dataset, tables=tables, runs=runs, evals=evals,
                           inputs=inputs, **scenario)


RANKS = {  # per-user test ranks (60 users) by how good a configuration's test metrics are
    "great": lambda rng: np.ones(N_USERS, dtype=np.int64),
    "good": lambda rng: rng.integers(1, 4, size=N_USERS),
    "mid": lambda rng: rng.integers(1, 20, size=N_USERS),
    "poor": lambda rng: rng.integers(5, N_ITEMS + 1, size=N_USERS),
}
# (dataset, backbone, method, table, {changes}, planted validation ndcg@10, test ranks, seeds)
GRID = [
    ("ml-test", "sasrec", "id", None, {}, 0.30, "mid", (0, 1)),
    ("ml-test", "sasrec", "id", None, {"lr": 0.01}, 0.20, "good", (0, 1)),
    ("ml-test", "sasrec", "pca", "pca", {}, 0.25, "poor", (0, 1)),
    ("ml-test", "sasrec", "ace", "lambda-0", {}, 0.10, "poor", (0, 1)),
    ("ml-test", "sasrec", "ace", "lambda-10", {}, 0.20, "mid", (0, 1)),
    ("ml-test", "sasrec", "ace", "lambda-50", {}, 0.40, "good", (0, 1)),
    ("ml-test", "sasrec", "ace", "lambda-100", {}, 0.05, "great", (0, 1)),  # test best, valid worst
    ("ml-test", "sasrec", "ace", "e5-10", {}, 0.30, "mid", (0,)),
    ("ml-test", "gru4rec", "id", None, {}, 0.20, "mid", (0,)),
    ("ml-test", "gru4rec", "ace", "lambda-50", {}, 0.30, "good", (0,)),
    ("ml-other", "sasrec", "id", None, {}, 0.20, "poor", (0,)),
    ("ml-other", "sasrec", "pca", "pca", {}, 0.20, "good", (0,)),
    ("ml-other", "sasrec", "ace", "lambda-50", {}, 0.30, "near-pca", (0,)),
]


def make_selection(root: Path, world) -> dict:
    """A grid of real runs with planted validation scores and evaluations with chosen ranks:
    ACE λ ∈ {0, 10, 50, 100} (λ=100 best on test, worst on validation), ID-only at two learning
    rates, PCA, ACE on a second encoder, a second backbone and a second dataset."""
    transform(method="ace", embeddings=world.root / "emb-minilm", out=root / "sweep", dim=8,
              params={"lambda": "0,10,50,100"}, log=quiet)
    transform(method="ace", embeddings=world.root / "emb-e5", out=root / "ace-e5", dim=8,
              params={"lambda": 10}, log=quiet)
    tables = {f"lambda-{lam}": root / "sweep" / f"lambda-{lam}" for lam in (0, 10, 50, 100)}
    tables.update({"e5-10": root / "ace-e5", "pca": world.tables["pca"]})
    datasets = {"ml-test": world.dataset,
                "ml-other": tiny_dataset(root / "ml-other", n_users=N_USERS, n_items=N_ITEMS,
                                         seed=5)}
    rng = np.random.default_rng(11)
    users = np.arange(1, N_USERS + 1)
    evaluations, grid, pca_other = [], [], None
    for number, (dataset, backbone, method, table, changes, valid, quality, seeds) in enumerate(
            GRID):
        grid.append({"row": GRID[number], "seeds": []})
        for seed in seeds:
            name = f"{number:02d}-{dataset}-{backbone}-{method}-{table}-s{seed}"
            run = run_with_valid(root / f"run-{name}", datasets[dataset],
                                 {"ndcg@10": valid + 0.01 * seed}, backbone=backbone,
                                 table=tables.get(table), seed=seed, **changes)
            if quality == "near-pca":  # ACE a little better than PCA for some users, worse for some
                ranks = pca_other.copy()
                ranks[:12] = np.maximum(1, ranks[:12] - 1)
                ranks[12:20] += 1
            else:
                ranks = RANKS[quality](rng)
            if (dataset, method) == ("ml-other", "pca"):
                pca_other = ranks
            metrics = evaluation_with_ranks(root / f"eval-{name}", run, users, ranks)
            evaluations.append(root / f"eval-{name}")
            grid[-1]["seeds"].append({"valid": valid + 0.01 * seed, "ranks": ranks,
                                      "metrics": metrics})
    return {"evaluations": evaluations, "grid": grid, "tables": tables}


@pytest.fixture(scope="session")
def selection(world, tmp_path_factory) -> SimpleNamespace:
    """The planted grid (`make_selection`: per GRID row what was planted for each seed) and
    `report(..., select=True)` of it."""
    from specrec.report import report

    root = tmp_path_factory.mktemp("selection")
    with one_thread():
        made = make_selection(root, world)
        out = root / "report"
        meta = report(inputs=made["evaluations"], out=out, select=True, title="Selection")
    return SimpleNamespace(root=root, out=out, meta=meta, **made)
