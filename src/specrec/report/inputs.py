"""Read the artifacts a report combines (metrics, runs, transforms), validated before any output."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specrec.artifacts import Meta, read_meta
from specrec.console import log
from specrec.errors import SpecrecError

REPORTABLE = ("metrics", "run", "transform")
METRICS_FILE = "metrics.json"
RANKS_FILE = "ranks.parquet"
RUN_CONFIG_FILE = "config.json"
HISTORY_FILE = "history.parquet"


@dataclass
class Evaluation:
    """One metrics artifact: scalar metrics of one run on one split, plus per-user target ranks."""

    path: Path
    meta: Meta
    run: dict
    metrics: dict[str, float]
    context: dict  # split, protocol, tie_rule, mask_history, n_users, ks

    def ranks(self) -> tuple[np.ndarray, np.ndarray]:
        """(user_idx sorted ascending, 1-based rank of each user's target) from ranks.parquet."""
        return read_ranks(self.path / RANKS_FILE)


@dataclass
class Run:
    """One run artifact: its configuration, best validation metrics and per-epoch history."""

    path: Path
    meta: Meta
    run: dict
    best_valid: dict[str, float]
    history: dict[str, np.ndarray] | None  # column -> values, one per epoch
    referenced: bool = False  # found through a metrics artifact, not named on the command line


@dataclass
class Transform:
    """One transform artifact: method, parameters, spectra and scalar diagnostics."""

    path: Path
    meta: Meta
    method: str
    fusion: str
    params: dict
    spectra: dict[str, np.ndarray] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)


@dataclass
class Inputs:
    """Everything a report reads, in command-line order (referenced artifacts after)."""

    evaluations: list[Evaluation] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    transforms: list[Transform] = field(default_factory=list)

    def all(self) -> list[Evaluation | Run | Transform]:
        return [*self.evaluations, *self.runs, *self.transforms]


def load_inputs(paths: list[Path]) -> Inputs:
    """Load every named artifact by its kind, then the runs and transforms they point to."""
    loaded = Inputs()
    seen: set[Path] = set()
    for path in map(Path, paths):
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        kind = read_meta(path).kind
        if kind == "metrics":
            loaded.evaluations.append(read_evaluation(path))
        elif kind == "run":
            loaded.runs.append(read_run(path))
        elif kind == "transform":
            loaded.transforms.append(read_transform(path))
        else:
            raise SpecrecError(
                f"'{path}' is an artifact of kind '{kind}'; report reads "
                f"{', '.join(REPORTABLE)} artifacts"
            )
    _add_referenced(loaded, seen)
    return loaded


def _add_referenced(loaded: Inputs, seen: set[Path]) -> None:
    """Runs named in metrics artifacts and transforms named in runs, where those paths exist."""
    for evaluation in list(loaded.evaluations):
        run_path = evaluation.run.get("path")
        if run_path and Path(run_path).is_dir() and Path(run_path).resolve() not in seen:
            seen.add(Path(run_path).resolve())
            run = _try(read_run, Path(run_path))
            if run is not None:
                run.referenced = True
                loaded.runs.append(run)
    for record in [*loaded.evaluations, *loaded.runs]:
        table = record.run.get("table")
        if table and Path(table).is_dir() and Path(table).resolve() not in seen:
            seen.add(Path(table).resolve())
            transform = _try(read_transform, Path(table))
            if transform is not None:
                loaded.transforms.append(transform)


def _try(reader, path: Path):
    """A referenced artifact is optional: report it and go on when it cannot be read."""
    try:
        return reader(path)
    except SpecrecError as exc:
        log(f"[yellow]skipping referenced artifact[/yellow] '{path}': {exc}")
        return None


def read_evaluation(path: Path) -> Evaluation:
    """Read and validate a metrics artifact's metrics.json."""
    meta = read_meta(path, kind="metrics", required=(METRICS_FILE,))
    raw = _read_json(path / METRICS_FILE, stage="evaluate")
    metrics = raw.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise SpecrecError(
            f"'{path / METRICS_FILE}' has no \"metrics\" object; rerun evaluate --force"
        )
    run = raw.get("run") or {}
    if not isinstance(run, dict):
        raise SpecrecError(f"'{path / METRICS_FILE}': \"run\" must be an object; rerun evaluate")
    context = {k: raw.get(k) for k in ("split", "protocol", "tie_rule", "mask_history", "n_users")}
    context["ks"] = raw.get("ks") or []
    return Evaluation(path, meta, run, _finite_metrics(metrics, path / METRICS_FILE), context)


def read_run(path: Path) -> Run:
    """Read a run artifact: config.json (or meta config), best validation metrics, history."""
    meta = read_meta(path, kind="run")
    config_path = path / RUN_CONFIG_FILE
    config = _read_json(config_path, stage="train") if config_path.is_file() else dict(meta.config)
    run = dict(config.get("run", config)) if isinstance(config.get("run"), dict) else dict(config)
    run.setdefault("path", str(path))
    best = meta.stats.get("best_valid") or {}
    if not isinstance(best, dict):
        raise SpecrecError(f"'{path}/meta.json': stats.best_valid must be an object; rerun train")
    best = {k.removeprefix("valid_"): v for k, v in best.items()}
    history = read_history(path / HISTORY_FILE) if (path / HISTORY_FILE).is_file() else None
    return Run(path, meta, run, _finite_metrics(best, path / "meta.json"), history)


def read_transform(path: Path) -> Transform:
    """Read a transform artifact's attributes and its `/diagnostics` spectra and scalars."""
    from specrec.transform.store import read_diagnostics, read_table

    table = read_table(path)
    try:
        diagnostics = read_diagnostics(path)
    except OSError as exc:
        raise SpecrecError(f"cannot read diagnostics of '{path}' ({exc}); rerun transform --force")
    diagnostics = {_before_after_name(name): value for name, value in diagnostics.items()}
    arrays = {n: v for n, v in diagnostics.items() if np.ndim(v) >= 1}
    # singular values are what the plots draw; other spectra only when none are stored
    keep = [n for n in arrays if "singular" in n] or [n for n in arrays if "spectrum" in n]
    spectra = {name: np.asarray(arrays[name], dtype=np.float64).ravel() for name in keep}
    scalars = {name: float(v) for name, v in diagnostics.items() if np.ndim(v) == 0}
    return Transform(path, table.meta, table.method, table.fusion, table.params, spectra, scalars)


def _before_after_name(name: str) -> str:
    """`input_X` -> `X_before`, `output_X` -> `X_after` (the transform stage's naming)."""
    for prefix, suffix in (("input_", "_before"), ("output_", "_after")):
        if name.startswith(prefix):
            return name[len(prefix):] + suffix
    return name


def read_ranks(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(user_idx ascending, rank) from a ranks.parquet; ranks are 1-based integers."""
    import pyarrow.parquet as pq

    if not path.is_file():
        raise SpecrecError(f"'{path}' is missing; paired tests need it (rerun evaluate --force)")
    try:
        table = pq.read_table(path, columns=["user_idx", "rank"])
    except Exception as exc:  # pyarrow raises several types for bad files and missing columns
        raise SpecrecError(f"cannot read user_idx, rank from '{path}' ({_one_line(exc)})")
    users = table.column("user_idx").to_numpy().astype(np.int64)
    ranks = table.column("rank").to_numpy().astype(np.float64)
    if len(np.unique(users)) != len(users) or not np.all(ranks >= 1):
        raise SpecrecError(f"'{path}' needs one row per user and ranks >= 1; rerun evaluate")
    order = np.argsort(users, kind="stable")
    return users[order], ranks[order]


def read_history(path: Path) -> dict[str, np.ndarray]:
    """Per-epoch columns of a run's history.parquet (must hold `epoch`)."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise SpecrecError(f"cannot read '{path}' ({_one_line(exc)}); rerun train --force")
    if "epoch" not in table.column_names:
        raise SpecrecError(f"'{path}' has no epoch column; rerun train --force")
    return {name: table.column(name).to_numpy() for name in table.column_names}


def _read_json(path: Path, *, stage: str) -> dict:
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SpecrecError(
            f"'{path}' is not valid JSON ({exc.msg}, line {exc.lineno}); rerun {stage} --force"
        )
    except OSError as exc:
        raise SpecrecError(f"cannot read '{path}' ({exc.strerror}); rerun {stage} --force")
    if not isinstance(raw, dict):
        raise SpecrecError(f"'{path}' must hold a JSON object; rerun {stage} --force")
    return raw


def _finite_metrics(metrics: dict, source: Path) -> dict[str, float]:
    out = {}
    for name, value in metrics.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise SpecrecError(f"'{source}': metric '{name}' is {value!r}, not a finite number")
        out[str(name).lower()] = float(value)
    return out


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
