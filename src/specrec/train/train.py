"""`specrec train`: dataset (+ transform table) -> run artifact (weights, config, history)."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import polars as pl
import torch
from safetensors.torch import save_file

import specrec.models.backbones  # noqa: F401  (registers backbones)
import specrec.models.embedders  # noqa: F401  (registers item embedders)
from specrec.artifacts import (
    Meta, check_same_items, input_ref, read_meta, stage_fingerprint, up_to_date, write_meta,
)
from specrec.console import log as default_log
from specrec.data.dataset import load_dataset
from specrec.errors import SpecrecError
from specrec.evaluate.metrics import parse_metric
from specrec.models.base import BACKBONES, build_backbone
from specrec.models.embedders import EMBEDDERS
from specrec.models.losses import build_loss
from specrec.models.model import SequentialRecommender
from specrec.train.checkpoint import TrainState, load_state
from specrec.train.loop import Distributed, LoopSettings, Objective, run_epochs, seed_everything
from specrec.train.samples import SAMPLE_MODES, Samples
from specrec.transform.store import TransformTable, read_table

RUN_FILES = ("model.safetensors", "config.json", "history.parquet")


@dataclass
class TrainConfig:
    """Every option that changes a run's result (recorded in config.json and the fingerprint)."""

    backbone: str = "sasrec"
    backbone_options: dict = field(default_factory=dict)
    dim: int = 64
    max_len: int = 50
    loss: str = "ce"
    loss_options: dict = field(default_factory=dict)
    embedder_options: dict = field(default_factory=dict)
    samples: str = "windows"  # matches prefixes' accuracy at ~24× the speed (bench/results)
    window_stride: int | None = None
    window_jitter: bool = True  # windows: move boundaries by a seeded random shift each epoch
    batch_size: int | None = None  # rows per batch; None: 256 prefixes (RecBole), 32 windows
    lr: float = 1e-3
    weight_decay: float = 0.0
    temperature: float | None = None  # cosine scoring ⟨û, ê⟩/τ (HSTU's research code: 0.05)
    epochs: int = 200
    patience: int = 10
    valid_metric: str = "ndcg@10"
    ks: list[int] = field(default_factory=lambda: [10, 20])
    seed: int = 0

    def validate(self) -> None:
        """Check every option and resolve mode-dependent defaults (before fingerprinting)."""
        BACKBONES.get(self.backbone)
        if self.samples not in SAMPLE_MODES:
            raise SpecrecError(f"unknown --samples '{self.samples}'; choose one of {SAMPLE_MODES}")
        if self.batch_size is None:
            # a window carries up to max_len targets: 32 windows ≈ 1,500 targets per step
            self.batch_size = 256 if self.samples == "prefixes" else 32
        for name, value in (("batch size", self.batch_size), ("epochs", self.epochs),
                            ("patience", self.patience), ("dim", self.dim), ("max length", self.max_len)):
            if value < 1:
                raise SpecrecError(f"{name} must be >= 1, not {value}")
        if not self.lr > 0:
            raise SpecrecError(f"learning rate must be > 0, not {self.lr}")
        if self.temperature is not None and not self.temperature > 0:
            raise SpecrecError(
                f"--temperature must be > 0, not {self.temperature} (omit it for dot products)"
            )
        parse_metric(self.valid_metric)
        if any(k < 1 for k in self.ks):
            raise SpecrecError("every K must be >= 1")


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecrecError("--device cuda was asked for, but no CUDA device is available")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise SpecrecError(f"unknown device '{device}'; use auto, cpu or cuda[:N]")
    return torch.device(device)


def build_model(config: TrainConfig, n_items: int, table: TransformTable | None) -> SequentialRecommender:
    """The model a config describes, initialised from `seed` (and the transform table)."""
    seed_everything(config.seed)
    if table is None:
        key = "id"
    else:
        key = table.method if table.fusion == "adapter" else table.fusion
    embedder = EMBEDDERS.get(key)(n_items, config.dim, table, dict(config.embedder_options))
    backbone = build_backbone(config.backbone, n_items, dim=config.dim, max_len=config.max_len,
                              **config.backbone_options)
    return SequentialRecommender(embedder, backbone, temperature=config.temperature)


def train(
    *,
    dataset: Path,
    out: Path,
    table: Path | None = None,
    config: TrainConfig | None = None,
    resume: bool = False,
    force: bool = False,
    device: str = "auto",
    bf16: bool = True,
    threads: int | None = None,
    eval_batch_size: int = 1024,
    log: Callable[[str], None] = default_log,
    on_epoch: Callable[[dict], None] | None = None,
) -> Meta:
    """Train a model and write the run artifact at `out` (skipped when already up to date)."""
    config = config or TrainConfig()
    config.validate()
    if threads:
        torch.set_num_threads(threads)
    out, dataset = Path(out), Path(dataset)
    data = load_dataset(dataset)
    inputs = {"dataset": input_ref(dataset, data.meta)}
    transform = None
    if table is not None:
        transform = read_table(table)
        check_same_items(f"dataset '{dataset}'", data.meta, f"table '{table}'", transform.meta)
        inputs["table"] = input_ref(Path(table), transform.meta)
    resolved = asdict(config)
    fingerprint = stage_fingerprint("run", resolved, inputs)
    if not force and (existing := up_to_date(out, fingerprint)) is not None:
        log(f"{out} is up to date (run {fingerprint[:19]}); skipping (--force to redo)")
        return existing
    device_t = resolve_device(device)
    dist_info = Distributed.from_env(device_t)
    if device_t.type == "cuda" and dist_info.world_size > 1:
        device_t = torch.device("cuda", dist_info.rank % torch.cuda.device_count())
    model = build_model(config, data.n_items, transform).to(device_t)
    loss = build_loss(config.loss, **config.loss_options)
    objective: torch.nn.Module = Objective(model, loss)
    if dist_info.world_size > 1:
        objective = torch.nn.parallel.DistributedDataParallel(objective)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    samples = Samples(data, config.max_len, config.samples, config.window_stride, config.window_jitter)

    work = out.parent / f"{out.name}.partial"
    state = load_state(work, fingerprint) if resume else None
    if state is None:
        if resume:
            log(f"no checkpoint of this run in {work}; starting from scratch")
        if dist_info.is_main:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
        state = TrainState(fingerprint=fingerprint)
    else:
        model.load_state_dict(state.model)
        optimizer.load_state_dict(state.optimizer)
        torch.set_rng_state(state.rng)
        log(f"resuming {out} after epoch {state.epoch}")
    if dist_info.world_size > 1:
        torch.distributed.barrier()

    log(f"training {config.backbone} ({_describe(transform)}, {config.loss}, {config.samples}) on "
        f"{data.n_users} users × {data.n_items} items: {samples.n_targets} targets in {len(samples)} rows")
    settings = LoopSettings(config.epochs, config.patience, config.batch_size, config.valid_metric,
                            list(config.ks), config.seed, eval_batch_size, bf16)
    started = time.perf_counter()
    state = run_epochs(model, objective, optimizer, samples, data, state, settings, device=device_t,
                       dist_info=dist_info, work_dir=work, on_epoch=on_epoch)
    if not dist_info.is_main:  # rank 0 writes the artifact
        return Meta("run", resolved, inputs, data.items_fingerprint, fingerprint)
    return _finish(out, work, state, resolved, inputs, fingerprint, data.items_fingerprint, transform,
                   time.perf_counter() - started, samples)


def _describe(transform: TransformTable | None) -> str:
    return "ID-only" if transform is None else f"{transform.method}, fusion {transform.fusion}"


def _finish(out: Path, work: Path, state: TrainState, resolved: dict, inputs: dict, fingerprint: str,
            items_fp: str, transform: TransformTable | None, seconds: float, samples: Samples) -> Meta:
    """Write best weights, config, history and meta into the work dir, then move it to `out`."""
    if not state.best_model:
        raise SpecrecError("training finished without a single validated epoch")
    save_file({k: v.contiguous() for k, v in state.best_model.items()}, str(work / "model.safetensors"))
    run_config = {**resolved, "table": str(transform.path) if transform else None,
                  "method": transform.method if transform else None,
                  "fusion": transform.fusion if transform else None,
                  "table_params": transform.params if transform else {},
                  "dataset": inputs["dataset"]["path"], "optimizer": "adam",
                  "protocol": read_meta(inputs["dataset"]["path"]).config.get("protocol", "loo")}
    (work / "config.json").write_text(json.dumps(run_config, indent=2, default=str))
    pl.DataFrame(state.history).write_parquet(work / "history.parquet")
    best = {k[len("valid_"):]: v for k, v in state.history[state.best_epoch - 1].items()
            if k.startswith("valid_")}
    train_seconds = sum(row["seconds"] for row in state.history)
    stats = {"best_epoch": state.best_epoch, "best_valid": best, "epochs": state.epoch,
             "train_seconds": train_seconds, "wall_seconds_this_process": seconds,
             "targets_per_epoch": samples.n_targets, "rows_per_epoch": len(samples),
             "targets_per_second": samples.n_targets * state.epoch / max(train_seconds, 1e-9),
             "early_stopped": state.stopped}
    meta = Meta(kind="run", config=resolved, inputs=inputs, items_fingerprint=items_fp,
                fingerprint=fingerprint, stats=stats)
    write_meta(work, meta)
    old = out.parent / f"{out.name}.old"
    if out.exists():
        out.rename(old)
    work.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return meta
