"""The run artifact on disk: file names, the writer `train` calls, the readers everyone else calls.

A run holds `model.safetensors` (best weights), `config.json` (the resolved `TrainConfig` plus the
table and dataset it was trained on), `history.parquet` (one row per epoch),
`item_table.safetensors` (the best model's final item table `[N+1, D]`, row 0 = padding) and
`checkpoint.pt` (the last epoch's whole training state; `train.checkpoint` reads and writes it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specrec.artifacts import Meta, check_same_items, read_meta
from specrec.errors import SpecrecError
from specrec.runs.config import TrainConfig

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.parquet"
ITEM_TABLE_FILE = "item_table.safetensors"
CHECKPOINT_FILE = "checkpoint.pt"
RUN_FILES = (WEIGHTS_FILE, CONFIG_FILE, HISTORY_FILE, ITEM_TABLE_FILE)


def write_run(directory: Path, *, weights: dict, record: dict, history: list[dict],
              item_table: np.ndarray, checkpoint: Path) -> None:
    """Write the run files into an artifact directory under construction (meta.json comes last);
    the training checkpoint at `checkpoint` is moved in."""
    import polars as pl
    from safetensors.numpy import save_file as save_numpy
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in weights.items()}, str(directory / WEIGHTS_FILE))
    (directory / CONFIG_FILE).write_text(json.dumps(record, indent=2, default=str))
    pl.DataFrame(history).write_parquet(directory / HISTORY_FILE)
    save_numpy({"item_table": np.ascontiguousarray(item_table, dtype=np.float32)},
               str(directory / ITEM_TABLE_FILE))
    checkpoint.replace(directory / CHECKPOINT_FILE)


@dataclass
class RunArtifact:
    """A run as the later stages see it: meta, recorded config, best validation metrics."""

    path: Path
    meta: Meta
    record: dict  # config.json: the TrainConfig fields plus table, method, dataset, protocol, ...

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_record(self.record)

    @property
    def dataset(self) -> Path:
        return Path(self.record["dataset"])

    @property
    def table(self) -> Path | None:
        return Path(self.record["table"]) if self.record.get("table") else None

    @property
    def best_valid(self) -> dict[str, float]:
        """Validation metrics of the best epoch (names lower case, e.g. `ndcg@10`)."""
        best = self.meta.stats.get("best_valid") or {}
        if not isinstance(best, dict):
            raise SpecrecError(f"'{self.path}/meta.json': stats.best_valid must be an object; "
                               "rerun train --force")
        return finite_metrics({k.removeprefix("valid_"): v for k, v in best.items()},
                              self.path / "meta.json")

    def history(self) -> dict[str, np.ndarray]:
        """Per-epoch columns of history.parquet (`epoch`, `loss`, `valid_*`, ...)."""
        import pyarrow.parquet as pq

        path = self.path / HISTORY_FILE
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for bad files
            raise SpecrecError(f"cannot read '{path}' ({_one_line(exc)}); rerun train --force")
        if "epoch" not in table.column_names:
            raise SpecrecError(f"'{path}' has no epoch column; rerun train --force")
        return {name: table.column(name).to_numpy() for name in table.column_names}

    def weights(self) -> dict:
        """The best model's state dict (torch tensors on the CPU)."""
        from safetensors.torch import load_file

        try:
            return load_file(str(self.path / WEIGHTS_FILE))
        except Exception as exc:  # safetensors raises its own error type for damaged files
            raise SpecrecError(f"cannot read '{self.path / WEIGHTS_FILE}' ({_one_line(exc)}); "
                               "rerun train --force")


def read_run(path: str | Path) -> RunArtifact:
    """Read and validate a run artifact (meta.json, every run file, config.json)."""
    path = Path(path)
    meta = read_meta(path, kind="run", required=RUN_FILES)
    try:
        record = json.loads((path / CONFIG_FILE).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecrecError(f"'{path / CONFIG_FILE}' is not valid JSON ({exc}); rerun train --force")
    if not isinstance(record, dict) or "backbone" not in record or "dataset" not in record:
        raise SpecrecError(f"'{path / CONFIG_FILE}' is not a run config; rerun train --force")
    return RunArtifact(path, meta, record)


def read_item_table(path: str | Path, *, like: Meta | None = None) -> np.ndarray:
    """The final item table `[N+1, D]` float32 of the run at `path` (no model is rebuilt).

    With `like`, the run's items must be those of that artifact.
    """
    from safetensors.numpy import load_file

    run = read_run(path)
    if like is not None:
        check_same_items(f"run '{path}'", run.meta, "this run's dataset", like)
    try:
        table = load_file(str(run.path / ITEM_TABLE_FILE))["item_table"]
    except Exception as exc:
        raise SpecrecError(f"cannot read the item table of run '{path}' ({_one_line(exc)}); "
                           "rerun train --force")
    if table.ndim != 2 or not np.isfinite(table).all():
        raise SpecrecError(f"run '{path}': its item table is not a finite 2-D array; retrain it")
    return table


def finite_metrics(metrics: dict, source: Path) -> dict[str, float]:
    """Metric name (lower case) -> float, refusing anything that is not a finite number."""
    out = {}
    for name, value in metrics.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise SpecrecError(f"'{source}': metric '{name}' is {value!r}, not a finite number")
        out[str(name).lower()] = float(value)
    return out


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
