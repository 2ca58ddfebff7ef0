"""Tiny real pipelines for tests: datasets, tables, runs and evaluations written by their stages."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from specrec.artifacts import build_artifact, read_meta
from specrec.evaluate.evaluate import evaluate
from specrec.evaluate.metrics import summarize
from specrec.evaluate.store import METRICS_FILE, write_metrics
from specrec.runs.config import TrainConfig
from specrec.runs.store import CHECKPOINT_FILE, read_item_table, read_run, write_run
from specrec.testing.synthetic import (
    anisotropic,
    markov_sequences,
    write_embeddings,
    write_sequences,
)
from specrec.train.train import train

TINY_BACKBONES = {  # one small layer each: a run trains in a fraction of a second on a CPU
    "sasrec": {"n_layers": 1, "n_heads": 1, "inner_size": 16},
    "gru4rec": {"hidden_size": 16},
}


def quiet(message: str) -> None:
    """A stage log that prints nothing."""


def tiny_config(backbone: str = "sasrec", **changes) -> TrainConfig:
    """A two-epoch TrainConfig of width 8 over windows of 6 items; `changes` override fields."""
    options = {"backbone": backbone, "dim": 8, "max_len": 6, "epochs": 2,
               "backbone_options": dict(TINY_BACKBONES.get(backbone, {}))}
    return TrainConfig(**{**options, **changes})


def tiny_dataset(out: Path, *, n_users: int = 40, n_items: int = 30, length: int = 8,
                 seed: int = 0) -> Path:
    """A `loo` dataset artifact of Markov-like sequences (item j is usually followed by j+1)."""
    write_sequences(out, markov_sequences(n_users, n_items, length, seed=seed), n_items=n_items)
    return Path(out)


def tiny_embeddings(out: Path, *, n_items: int = 30, dim: int = 16, encoder: str = "synthetic",
                    seed: int = 0) -> Path:
    """An embeddings artifact of anisotropic rows for the items of `tiny_dataset`, recorded as
    made by `encoder` (what transforms and runs report as their encoder)."""
    matrix = anisotropic(n_items, dim, seed=seed)
    digest = hashlib.sha256(np.ascontiguousarray(matrix).tobytes()).hexdigest()
    write_embeddings(out, matrix, config={"encoder": encoder, "model": encoder, "digest": digest},
                     encoder=encoder, model=encoder)
    return Path(out)


def tiny_run(out: Path, dataset: Path, *, table: Path | None = None, backbone: str = "sasrec",
             **changes) -> Path:
    """A run artifact trained by `train` on the CPU with `tiny_config(backbone, **changes)`."""
    train(dataset=dataset, out=out, table=table, config=tiny_config(backbone, **changes),
          device="cpu", log=quiet)
    return Path(out)


def run_with_valid(out: Path, dataset: Path, valid: dict[str, float], *,
                   table: Path | None = None, backbone: str = "sasrec", **changes) -> Path:
    """A run trained like `tiny_run`, then rewritten by the run writer with the given best-epoch
    validation metrics (for tests of selection on validation).

    `write_run` writes the trained run's weights, record, item table and checkpoint again; the
    best epoch's `valid_<name>` columns of the history hold `valid`, no other epoch exceeds them
    (so the best epoch stays the best), and `stats.best_valid` says the same. The record is
    unchanged; the fingerprint records the planted values.
    """
    out = Path(out)
    tiny_run(out, dataset, table=table, backbone=backbone, **changes)
    run = read_run(out)
    best_epoch = run.meta.stats["best_epoch"]
    columns = run.history()
    rows = [{name: values[i].item() for name, values in columns.items()}
            for i in range(len(columns["epoch"]))]
    for row in rows:
        for name, value in valid.items():
            column = f"valid_{name}"
            kept = min(row.get(column, value), value)
            row[column] = value if row["epoch"] == best_epoch else kept
    stats = {**run.meta.stats, "best_valid": {**run.meta.stats["best_valid"], **valid}}
    weights, item_table = run.weights(), read_item_table(out)
    checkpoint = out.parent / f".{out.name}.{CHECKPOINT_FILE}"
    checkpoint.write_bytes((out / CHECKPOINT_FILE).read_bytes())
    digest = hashlib.sha256(json.dumps(valid, sort_keys=True).encode()).hexdigest()

    def build(tmp: Path) -> dict:
        write_run(tmp, weights=weights, record=run.record, history=rows, item_table=item_table,
                  checkpoint=checkpoint)
        return stats

    build_artifact(out, kind="run", config={**run.meta.config, "given_valid": digest},
                   inputs=run.meta.inputs, items_fp=run.meta.items_fingerprint, build=build,
                   force=True)
    return out


def tiny_evaluation(out: Path, run: Path, *, split: str = "test",
                    ks: tuple[int, ...] = (10, 20)) -> Path:
    """A metrics artifact written by `evaluate` (full sort on the CPU)."""
    evaluate(run=run, out=out, split=split, ks=list(ks), device="cpu", log=quiet)
    return Path(out)


def evaluation_with_ranks(out: Path, run: Path, users: np.ndarray, ranks: np.ndarray, *,
                          ks: tuple[int, ...] = (10, 20)) -> dict[str, float]:
    """A metrics artifact of `run` laid out exactly as `evaluate` writes it, holding the given
    per-user target ranks instead of the model's (for tests of exact statistics).

    `evaluate` writes the artifact first; metrics.json keeps everything it recorded except the
    metrics and the user count, which come from `ranks`. Returns those metrics.
    """
    tiny_evaluation(out, run, ks=ks)
    meta = read_meta(out, kind="metrics")
    record = json.loads((Path(out) / METRICS_FILE).read_text())
    users = np.asarray(users, dtype=np.int64)
    ranks = np.asarray(ranks, dtype=np.int64)
    metrics = summarize(ranks, list(ks))
    record.update(metrics=metrics, n_users=len(users))
    digest = hashlib.sha256(users.tobytes() + ranks.tobytes()).hexdigest()

    def build(tmp: Path) -> dict:
        write_metrics(tmp, record, users, ranks)
        return {"metrics": metrics, "n_users": len(users)}

    build_artifact(out, kind="metrics", config={**meta.config, "given_ranks": digest},
                   inputs=meta.inputs, items_fp=meta.items_fingerprint, build=build,
                   protect=[Path(run)], force=True)
    return metrics
