"""Report test fixtures: small metrics, run and transform artifacts made with build_artifact."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from specrec.artifacts import build_artifact
from specrec.transform.store import write_table

ITEMS_FP = "sha256:" + "ab" * 32
N_USERS = 60


def metrics_from_ranks(ranks: np.ndarray, ks=(10, 20)) -> dict[str, float]:
    """Written out independently of specrec.report.stats: one target per user."""
    out = {}
    for k in ks:
        hits = [r <= k for r in ranks]
        out[f"recall@{k}"] = float(np.mean(hits))
        out[f"hit@{k}"] = float(np.mean(hits))
        out[f"ndcg@{k}"] = float(np.mean([1 / math.log2(r + 1) if r <= k else 0 for r in ranks]))
        out[f"mrr@{k}"] = float(np.mean([1 / r if r <= k else 0 for r in ranks]))
    return out


def make_metrics(path: Path, *, label: str, seed: int, users: np.ndarray, ranks: np.ndarray,
                 run: dict | None = None, dataset: str = "data/ml-test") -> dict:
    """A metrics artifact whose metrics.json agrees with its ranks.parquet; returns metrics."""
    metrics = metrics_from_ranks(ranks)
    run_block = {"path": str(path) + "-run", "label": label, "backbone": "sasrec", "loss": "ce",
                 "method": None, "fusion": None, "table": None, "params": {}, "seed": seed,
                 "samples": "windows", "dataset": dataset, **(run or {})}
    payload = {"split": "test", "protocol": "loo", "tie_rule": "pessimistic",
               "mask_history": False, "n_users": len(users), "ks": [10, 20],
               "metrics": metrics, "run": run_block}

    def build(tmp: Path) -> dict:
        (tmp / "metrics.json").write_text(json.dumps(payload))
        table = pa.table({"user_idx": pa.array(users, pa.int32()),
                          "rank": pa.array(ranks, pa.int64())})
        pq.write_table(table, tmp / "ranks.parquet")
        return {}

    build_artifact(path, kind="metrics", config={"label": label, "seed": seed}, inputs={},
                   items_fp=ITEMS_FP, build=build)
    return metrics


def make_run(path: Path, *, label: str, seed: int, best_valid: dict, curve: list[float],
             method: str | None = None, table: str | None = None, params: dict | None = None,
             extra: dict | None = None):
    """A run artifact with config.json, history.parquet and best-epoch stats."""
    config = {"label": label, "backbone": "sasrec", "loss": "ce", "method": method,
              "fusion": "init" if method else None, "table": table, "params": params or {},
              "seed": seed, "samples": "windows", "dataset": "data/ml-test", "protocol": "loo",
              "optimizer": {"name": "adam", "lr": 1e-3}, **(extra or {})}
    epochs = np.arange(1, len(curve) + 1)

    def build(tmp: Path) -> dict:
        (tmp / "config.json").write_text(json.dumps(config))
        history = pa.table({"epoch": epochs, "loss": 10.0 / epochs, "seconds": np.ones(len(curve)),
                            "valid_ndcg@10": np.asarray(curve, dtype=np.float64)})
        pq.write_table(history, tmp / "history.parquet")
        return {"best_epoch": int(np.argmax(curve)) + 1, "best_valid": best_valid,
                "epochs": len(curve), "train_seconds": 1.0, "targets_per_second": 100.0}

    return build_artifact(path, kind="run", config=config, inputs={}, items_fp=ITEMS_FP,
                          build=build)


RAW_SPECTRUM = 10.0 * 0.8 ** np.arange(32)


def make_transform(path: Path, *, method: str, params: dict, scalars: dict[str, float]):
    """A transform artifact with spectra before/after and scalar before/after diagnostics."""
    lam = params.get("lambda")
    after = RAW_SPECTRUM / np.sqrt(RAW_SPECTRUM**2 + lam) if lam is not None else np.ones(16)
    inputs = {"embeddings": {"path": "work/emb-minilm", "fingerprint": "sha256:emb",
                             "kind": "embeddings"}}

    def build(tmp: Path) -> dict:
        table = np.zeros((6, 4), dtype=np.float32)
        table[1:] = np.arange(20, dtype=np.float32).reshape(5, 4) / 20
        write_table(tmp, method=method, fusion="init", params=params, items_fp=ITEMS_FP,
                    item_table=table,
                    diagnostics={"spectrum_before": RAW_SPECTRUM, "spectrum_after": after[:16],
                                 **scalars})
        return {}

    return build_artifact(path, kind="transform", config={"method": method, **params},
                          inputs=inputs, items_fp=ITEMS_FP, build=build)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict:
    """Three settings on one dataset, runs, ACE/whitening transforms; the expected raw numbers."""
    root = tmp_path_factory.mktemp("report-inputs")
    rng = np.random.default_rng(7)
    users = np.arange(1, N_USERS + 1)
    diag = lambda cos, rank: {"mean_cosine_before": 0.62, "mean_cosine_after": cos,  # noqa: E731
                              "effective_rank_before": 4.1, "effective_rank_after": rank}
    transforms = {lam: root / f"ace-{lam}" for lam in (0, 50, 5000)}
    for lam, path in transforms.items():
        make_transform(path, method="ace", params={"lambda": lam, "gamma": 0.5},
                       scalars=diag(0.01 + lam / 1e4, 30.0 - lam / 500))
    make_transform(root / "whiten", method="whitenrec", params={"groups": 4},
                   scalars=diag(0.02, 28.0))
    data = {"base": {}, "ace": {}, "whiten": {}}
    paths = []
    for seed in (0, 1, 2):
        ranks = rng.integers(1, 60, size=N_USERS)
        path = root / f"eval-base-{seed}"
        data["base"][seed] = (users, ranks, make_metrics(path, label="sasrec", seed=seed,
                                                         users=users, ranks=ranks))
        paths.append(path)
    ace_run = root / "run-ace-0"
    make_run(ace_run, label="sasrec · ace λ=50", seed=0, best_valid={"ndcg@10": 0.2},
             curve=[0.1, 0.15, 0.2, 0.19], method="ace", table=str(transforms[50]),
             params={"lambda": 50})
    for seed in (0, 1):
        ranks = np.maximum(1, rng.integers(1, 60, size=N_USERS) - 15)
        run = {"method": "ace", "fusion": "init", "params": {"lambda": 50},
               "table": str(transforms[50]), "path": str(ace_run) if seed == 0 else "missing/run"}
        path = root / f"eval-ace-{seed}"
        data["ace"][seed] = (users, ranks, make_metrics(path, label="sasrec · ace λ=50",
                                                        seed=seed, users=users, ranks=ranks,
                                                        run=run))
        paths.append(path)
    # whitening: one seed, the last five users missing and rows shuffled (the join must cope)
    order = rng.permutation(N_USERS - 5)
    w_users, w_ranks = users[:-5][order], rng.integers(1, 40, size=N_USERS - 5)
    path = root / "eval-whiten"
    data["whiten"][0] = (w_users, w_ranks, make_metrics(
        path, label="sasrec · whiten", seed=0, users=w_users, ranks=w_ranks,
        run={"method": "whitenrec", "params": {"groups": 4}}))
    paths.append(path)
    make_run(root / "run-gru", label="gru4rec", seed=3, curve=[0.05, 0.08, 0.07],
             best_valid={"valid_ndcg@10": 0.08, "valid_recall@10": 0.16})
    inputs = [*paths, transforms[0], transforms[5000], root / "whiten", root / "run-gru"]
    return {"root": root, "inputs": inputs, "data": data, "transforms": transforms}


@pytest.fixture
def make():
    """The artifact builders above, for tests that need their own small inputs."""
    return SimpleNamespace(metrics=make_metrics, run=make_run, transform=make_transform)
