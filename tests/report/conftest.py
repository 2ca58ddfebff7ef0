"""Report inputs made by the real stages on tiny data (one session-wide world, a few seconds)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from specrec.testing.pipeline import (
    evaluation_with_ranks,
    quiet,
    tiny_dataset,
    tiny_embeddings,
    tiny_evaluation,
    tiny_run,
)
from specrec.transform.transform import transform

N_USERS, N_ITEMS = 60, 30


def make_tables(root: Path) -> dict[str, Path]:
    """ACE by default (λ auto) on two encoders, an ACE λ sweep, whitenrec and PCA."""
    minilm = tiny_embeddings(root / "emb-minilm", n_items=N_ITEMS, encoder="minilm")
    e5 = tiny_embeddings(root / "emb-e5", n_items=N_ITEMS, encoder="e5", seed=1)
    tables = {"ace-auto": root / "ace-auto", "ace-auto-e5": root / "ace-auto-e5",
              "whitenrec": root / "whitenrec", "pca": root / "pca"}
    transform(method="ace", embeddings=minilm, out=tables["ace-auto"], dim=8, log=quiet)
    transform(method="ace", embeddings=e5, out=tables["ace-auto-e5"], dim=8, log=quiet)
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
    runs = make_runs(root, dataset, tables)
    scenario = make_scenario(root, runs)
    evals = {name: tiny_evaluation(root / f"eval-{name}", run) for name, run in runs.items()
             if name not in ("gru-s3", "id-s1", "id-s2")}
    inputs = [*scenario["evaluations"], tables["ace-10"], tables["ace-100"], runs["gru-s3"]]
    return SimpleNamespace(root=root, dataset=dataset, tables=tables, runs=runs, evals=evals,
                           inputs=inputs, **scenario)
