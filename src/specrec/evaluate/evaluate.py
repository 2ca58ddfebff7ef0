"""`specrec evaluate`: a run artifact -> metrics.json + per-user ranks.parquet on a split."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Callable

import polars as pl
import torch
from safetensors.torch import load_file

from specrec.artifacts import Meta, build_artifact, check_same_items, input_ref, read_meta
from specrec.console import log as default_log
from specrec.data.dataset import load_dataset
from specrec.errors import SpecrecError
from specrec.evaluate.metrics import summarize
from specrec.evaluate.protocol import rank_split
from specrec.evaluate.ranking import TIE_RULE
from specrec.models.model import SequentialRecommender
from specrec.train.train import RUN_FILES, TrainConfig, build_model, resolve_device
from specrec.transform.store import read_table


def load_run(run: Path, device: torch.device | None = None) -> tuple[SequentialRecommender, dict, Meta]:
    """Rebuild a trained model from its run artifact (config.json + model.safetensors)."""
    meta = read_meta(run, kind="run", required=RUN_FILES)
    run_config = json.loads((run / "config.json").read_text())
    config = TrainConfig(**{f.name: run_config[f.name] for f in fields(TrainConfig) if f.name in run_config})
    data = load_dataset(run_config["dataset"])
    table = read_table(run_config["table"]) if run_config.get("table") else None
    model = build_model(config, data.n_items, table)
    try:
        model.load_state_dict(load_file(str(run / "model.safetensors")))
    except (RuntimeError, OSError) as exc:
        raise SpecrecError(f"run '{run}': weights do not fit its config ({str(exc)[:120]}); retrain")
    return model.to(device or torch.device("cpu")).eval(), run_config, meta


def label_of(run_config: dict) -> str:
    """A short human label, e.g. 'sasrec · ace λ=50' or 'gru4rec · ID-only'."""
    method = run_config.get("method")
    if not method:
        return f"{run_config['backbone']} · ID-only"
    params = run_config.get("table_params") or {}
    lam = params.get("lambda")
    extra = f" λ={lam:g}" if isinstance(lam, (int, float)) else ""
    variant = params.get("variant")
    extra += f" ({variant})" if variant else ""
    return f"{run_config['backbone']} · {method}{extra}"


def evaluate(
    *,
    run: Path,
    out: Path,
    split: str = "test",
    ks: list[int] | None = None,
    mask_history: bool = False,
    batch_size: int = 1024,
    device: str = "auto",
    force: bool = False,
    log: Callable[[str], None] = default_log,
) -> Meta:
    """Full-sort evaluation of `run` on `split`; writes the metrics artifact at `out`."""
    ks = sorted(set(ks or [10, 20]))
    if split not in ("valid", "test"):
        raise SpecrecError(f"--split must be valid or test, not '{split}'")
    if any(k < 1 for k in ks):
        raise SpecrecError("every K must be >= 1")
    run = Path(run)
    run_meta = read_meta(run, kind="run", required=RUN_FILES)
    run_config = json.loads((run / "config.json").read_text())
    data_meta = read_meta(run_config["dataset"], kind="dataset")
    check_same_items(f"run '{run}'", run_meta, f"dataset '{run_config['dataset']}'", data_meta)
    config = {"split": split, "ks": ks, "mask_history": mask_history, "tie_rule": TIE_RULE}

    def build(tmp: Path) -> dict:
        device_t = resolve_device(device)
        model, _, _ = load_run(run, device_t)
        data = load_dataset(run_config["dataset"])
        users, ranks = rank_split(model, data, split, batch_size=batch_size,
                                  mask_history=mask_history, device=device_t)
        metrics = summarize(ranks, ks)
        record = {"split": split, "protocol": run_config.get("protocol", "loo"), "tie_rule": TIE_RULE,
                  "mask_history": mask_history, "n_users": int(len(users)), "ks": ks,
                  "metrics": metrics,
                  "run": {"path": str(run), "label": label_of(run_config),
                          "backbone": run_config["backbone"], "loss": run_config["loss"],
                          "method": run_config.get("method"), "fusion": run_config.get("fusion"),
                          "table": run_config.get("table"), "params": run_config.get("table_params", {}),
                          "seed": run_config["seed"], "samples": run_config["samples"],
                          "dataset": run_config["dataset"]}}
        (tmp / "metrics.json").write_text(json.dumps(record, indent=2))
        pl.DataFrame({"user_idx": users, "rank": ranks}).write_parquet(tmp / "ranks.parquet")
        return {"metrics": metrics, "n_users": int(len(users))}

    return build_artifact(out, kind="metrics", config=config, inputs={"run": input_ref(run, run_meta)},
                          items_fp=run_meta.items_fingerprint, build=build, force=force, log=log)
