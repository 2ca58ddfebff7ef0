"""The metrics artifact on disk: `metrics.json` (scalars + what was evaluated) and `ranks.parquet`
(each user's 1-based target rank); the writer `evaluate` calls and the reader `report` calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specrec.artifacts import Meta, read_meta
from specrec.errors import SpecrecError
from specrec.runs.store import finite_metrics

METRICS_FILE = "metrics.json"
RANKS_FILE = "ranks.parquet"
CONTEXT_KEYS = ("split", "protocol", "ranking", "tie_rule", "mask_history", "n_users", "ks")
"""`protocol`: the data split (loo, ...); `ranking`: how targets were ranked (sampling.Ranking)."""
GROUP_KEYS = ("thresholds", "item", "user")


def write_metrics(directory: Path, record: dict, users: np.ndarray, ranks: np.ndarray) -> None:
    """Write metrics.json (`record`: metrics, context, run) and ranks.parquet into `directory`."""
    import polars as pl

    (directory / METRICS_FILE).write_text(json.dumps(record, indent=2))
    pl.DataFrame({"user_idx": users, "rank": ranks}).write_parquet(directory / RANKS_FILE)


@dataclass
class Evaluation:
    """One metrics artifact: scalar metrics of one run on one split, plus per-user target ranks."""

    path: Path
    meta: Meta
    run_path: Path  # the evaluated run artifact, as recorded
    run_record: dict  # that run's config.json (`runs.store.RunArtifact.record`) when evaluated
    metrics: dict[str, float]
    context: dict  # split, protocol, ranking, tie_rule, mask_history, n_users, ks
    groups: dict | None = None  # the long-tail groups (`groups.group_metrics`) when evaluated

    def ranks(self) -> tuple[np.ndarray, np.ndarray]:
        """(user_idx sorted ascending, 1-based rank of each user's target) from ranks.parquet."""
        return read_ranks(self.path / RANKS_FILE)


def read_evaluation(path: str | Path) -> Evaluation:
    """Read and validate a metrics artifact's metrics.json."""
    path = Path(path)
    meta = read_meta(path, kind="metrics", required=(METRICS_FILE, RANKS_FILE))
    source = path / METRICS_FILE
    try:
        raw = json.loads(source.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecrecError(f"'{source}' is not valid JSON ({exc}); rerun evaluate --force")
    if not isinstance(raw, dict):
        raise SpecrecError(f"'{source}' must hold a JSON object; rerun evaluate --force")
    metrics = raw.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise SpecrecError(f"'{source}' has no \"metrics\" object; rerun evaluate --force")
    run = raw.get("run")
    if not isinstance(run, dict) or not run.get("path") or not isinstance(run.get("record"), dict):
        raise SpecrecError(f"'{source}' does not record the evaluated run; rerun evaluate --force")
    context = {key: raw.get(key) for key in CONTEXT_KEYS}
    context["ks"] = context["ks"] or []
    context["ranking"] = context["ranking"] or {"protocol": "full"}  # older artifacts: full sort
    if not isinstance(context["ranking"], dict):
        raise SpecrecError(f"'{source}': \"ranking\" must be an object; rerun evaluate --force")
    groups = raw.get("groups")
    if groups is not None and not (isinstance(groups, dict) and set(GROUP_KEYS) <= set(groups)):
        raise SpecrecError(f"'{source}': \"groups\" must hold {', '.join(GROUP_KEYS)}; rerun "
                           "evaluate --groups --force")
    return Evaluation(path, meta, Path(run["path"]), run["record"],
                      finite_metrics(metrics, source), context, groups)


def read_ranks(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(user_idx ascending, rank) from a ranks.parquet; ranks are 1-based integers."""
    import pyarrow.parquet as pq

    if not path.is_file():
        raise SpecrecError(f"'{path}' is missing; paired tests need it (rerun evaluate --force)")
    try:
        table = pq.read_table(path, columns=["user_idx", "rank"])
    except Exception as exc:  # pyarrow raises several types for bad files and missing columns
        reason = " ".join(str(exc).split())[:200]
        raise SpecrecError(f"cannot read user_idx, rank from '{path}' ({reason})")
    users = table.column("user_idx").to_numpy().astype(np.int64)
    ranks = table.column("rank").to_numpy().astype(np.float64)
    if len(np.unique(users)) != len(users) or not np.all(ranks >= 1):
        raise SpecrecError(f"'{path}' needs one row per user and ranks >= 1; rerun evaluate")
    order = np.argsort(users, kind="stable")
    return users[order], ranks[order]
