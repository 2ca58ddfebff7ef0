"""`specrec train`: dataset (+ transform table) -> run artifact (weights, config, history)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

import torch

from specrec import devices
from specrec.artifacts import Meta, OutputClaim, check_same_items, claim_output, input_ref, read_meta
from specrec.console import log as default_log
from specrec.data.dataset import SequenceData, load_dataset
from specrec.data.splits import protocol_label
from specrec.errors import SpecrecError
from specrec.heap import reuse_freed_memory
from specrec.models.losses import build_loss
from specrec.precision import resolve_precision
from specrec.runs.config import RUN_INPUT_OPTIONS, TrainConfig
from specrec.runs.model import build_model
from specrec.runs.store import CHECKPOINT_FILE, read_run, write_run
from specrec.train.checkpoint import TrainState, load_state
from specrec.train.loop import LoopSettings, Objective, run_epochs
from specrec.train.samples import Samples
from specrec.transform.store import TransformTable, read_table


def train(
    *,
    dataset: Path,
    out: Path,
    table: Path | None = None,
    config: TrainConfig | None = None,
    resume: bool = False,
    force: bool = False,
    device: str = "auto",
    threads: int | None = None,
    eval_batch_size: int = 1024,
    log: Callable[[str], None] = default_log,
    on_epoch: Callable[[dict], None] | None = None,
) -> Meta:
    """Train a model and write the run artifact at `out` (skipped when already up to date).

    Like `threads`, one setting here is the whole process's: glibc keeps freed memory for reuse
    (`heap.reuse_freed_memory`; `SPECREC_SYSTEM_MALLOC=1` leaves the allocator alone)."""
    config = config or TrainConfig()
    config.validate()
    devices.check_device_name(device)
    reuse_freed_memory()
    if threads:
        torch.set_num_threads(threads)
    out, dataset = Path(out), Path(dataset)
    data = load_dataset(dataset)
    config.valid_ranking().check_split(data, "valid", "--valid-negatives")
    inputs = {"dataset": input_ref(dataset, data.meta)}
    transform = None
    if table is not None:
        transform = read_table(table)
        check_same_items(f"dataset '{dataset}'", data.meta, f"table '{table}'", transform.meta)
        _check_same_users(transform, dataset, data)
        inputs["table"] = input_ref(Path(table), transform.meta)
    for option in RUN_INPUT_OPTIONS:  # a teacher run is an input: retraining it makes us stale
        if (path := config.embedder_options.get(option)) is not None:
            other = read_run(path)
            check_same_items(f"dataset '{dataset}'", data.meta, f"{option} run '{path}'", other.meta)
            inputs[option] = input_ref(Path(str(path)), other.meta)
    resolved = config.record()
    found = devices.ranks()
    with claim_output(out, kind="run", config=resolved, inputs=inputs, force=force,
                      log=log if found.is_main else None, lock=found.is_main) as claim:
        if claim.existing is not None:
            return claim.existing
        device_t = devices.resolve_device(device, found.local_rank)
        precision = resolve_precision(config.precision, device_t)
        with devices.process_group(found, device_t):
            return _train(claim, config, data, transform, found, device_t, resume=resume,
                          precision=precision, eval_batch_size=eval_batch_size, log=log, on_epoch=on_epoch)


FUSED_ADAM_DEVICES = ("cpu", "cuda")


def adam(model: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.Adam:
    """Adam over the model's parameters; the fused kernel (one pass over each parameter) where the
    device has one: at a million items × 64 it steps about 5× faster than the default on one core,
    the same update up to float32 rounding."""
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                            fused=device.type in FUSED_ADAM_DEVICES)


def _train(claim: OutputClaim, config: TrainConfig, data: SequenceData,
           transform: TransformTable | None, found: devices.Ranks, device_t: torch.device, *,
           resume: bool, precision: str, eval_batch_size: int, log: Callable[[str], None],
           on_epoch: Callable[[dict], None] | None) -> Meta:
    """Train (resuming from `<out>.partial` when asked), then rank 0 writes the artifact."""
    out, fingerprint = claim.out, claim.fingerprint
    model = build_model(config, data.n_items, transform).to(device_t)
    loss = build_loss(config.loss, **config.loss_options)
    objective: torch.nn.Module = Objective(model, loss)
    if found.distributed:
        objective = torch.nn.parallel.DistributedDataParallel(objective)
    optimizer = adam(model, config, device_t)
    samples = Samples(data, config.max_len, config.samples, config.window_stride, config.window_jitter)

    work = out.parent / f"{out.name}.partial"
    state = load_state(work, fingerprint) if resume else None
    if state is None:
        if resume:
            log(f"no checkpoint of this run in {work}; starting from scratch")
        if found.is_main:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
        state = TrainState(fingerprint=fingerprint)
    else:
        model.load_state_dict(state.model)
        optimizer.load_state_dict(state.optimizer)
        torch.set_rng_state(state.rng)
        log(f"resuming {out} after epoch {state.epoch}")
    devices.barrier(found)

    log(f"training {config.backbone} ({_describe(transform)}, {config.loss}, {config.samples}) on "
        f"{data.n_users} users × {data.n_items} items: {samples.n_targets} targets in {len(samples)} rows")
    settings = LoopSettings(config.epochs, config.patience, config.batch_size, config.valid_metric,
                            list(config.ks), config.seed, eval_batch_size, precision,
                            config.valid_ranking())
    started = time.perf_counter()
    state = run_epochs(model, objective, optimizer, samples, data, state, settings, device=device_t,
                       dist_info=found, work_dir=work, on_epoch=on_epoch)
    if not found.is_main:  # rank 0 writes the artifact
        return Meta("run", claim.config, claim.inputs, data.items_fingerprint, fingerprint)
    if not state.best_model:
        raise SpecrecError("training finished without a single validated epoch")
    model.load_state_dict(state.best_model)
    with torch.no_grad():
        item_table = model.item_table().detach().float().cpu().numpy()
    seconds = time.perf_counter() - started
    meta = claim.write(
        lambda tmp: _write(tmp, work, state, claim, transform, item_table, seconds, samples,
                           precision),
        data.items_fingerprint,
    )
    shutil.rmtree(work, ignore_errors=True)
    return meta


def _check_same_users(transform: TransformTable, dataset: Path, data: SequenceData) -> None:
    """A table with per-user arrays (`basis/user_*`, e.g. llmesr) fits only its own dataset."""
    if not any(name.startswith("user_") for name in transform.basis):
        return
    source = transform.meta.inputs.get("dataset") or {}
    if source.get("fingerprint") != data.meta.fingerprint:
        raise SpecrecError(
            f"table '{transform.path}' holds the users of dataset '{source.get('path')}', not of "
            f"'{dataset}'; rerun the transform with --dataset {dataset}"
        )


def _describe(transform: TransformTable | None) -> str:
    return "ID-only" if transform is None else f"{transform.method}, fusion {transform.fusion}"


def _write(tmp: Path, work: Path, state: TrainState, claim: OutputClaim, transform: TransformTable | None,
           item_table, seconds: float, samples: Samples, precision: str) -> dict:
    """Write the run files (best weights, config, history, item table); return the stats."""
    inputs = claim.inputs
    record = {**claim.config, "table": str(transform.path) if transform else None,
              "method": transform.method if transform else None,
              "fusion": transform.fusion if transform else None,
              "table_params": transform.params if transform else {},
              "encoder": transform.meta.stats.get("encoder") if transform else None,
              "dataset": inputs["dataset"]["path"], "optimizer": "adam",
              "protocol": protocol_label(read_meta(inputs["dataset"]["path"]).config)}
    write_run(tmp, weights=state.best_model, record=record, history=state.history,
              item_table=item_table, checkpoint=work / CHECKPOINT_FILE)
    best = {k[len("valid_"):]: v for k, v in state.history[state.best_epoch - 1].items()
            if k.startswith("valid_")}
    train_seconds = sum(row["seconds"] for row in state.history)
    return {"best_epoch": state.best_epoch, "best_valid": best, "epochs": state.epoch,
            "train_seconds": train_seconds, "wall_seconds_this_process": seconds,
            "targets_per_epoch": samples.n_targets, "rows_per_epoch": len(samples),
            "targets_per_second": samples.n_targets * state.epoch / max(train_seconds, 1e-9),
            "early_stopped": state.stopped, "precision": precision}
