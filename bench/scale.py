"""`make bench-scale`: preprocess, training and full-sort evaluation at ML-20M's shape and a million items.

Each measured stage runs in its own process (peak RSS from `wait4`, one thread); training times a
fixed number of optimizer steps; every figure is printed beside its bound, the slower of two: the
FLOPs of the work (counted by `torch.utils.flop_counter`, less the streamed CE's recomputed
logits) at the matmul rate the process measured, and the bytes a step must move at least (Adam's
pass over every parameter, the sampled rows) at the copy bandwidth the parent measured.

    .venv/bin/python bench/scale.py all --work work/bench-scale --report bench/results/scale.md
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

HERE = Path(__file__).resolve().parent
SPECREC = [sys.executable, "-m", "specrec"]


def matmul_rate(dtype: torch.dtype, size: int = 1024, repeat: int = 20) -> float:
    """Best FLOP/s of a `size`² matmul in `dtype` on this process's threads."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def copy_bandwidth(megabytes: int = 512, repeat: int = 5) -> float:
    """Best bytes/s (read + write) of copying a `megabytes` float32 array, far beyond any cache."""
    source = torch.ones(megabytes * 2**20 // 4)
    target = torch.empty_like(source)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        target.copy_(source)
        best = min(best, time.perf_counter() - started)
    return 2 * source.numel() * 4 / best


ADAM_PASSES = 7  # fused Adam reads the parameter, its gradient and both moments; writes three


def least_bytes_per_step(model, loss, targets: int) -> int:
    """Bytes a training step moves at the least: Adam's passes over every float32 parameter, and
    for a loss that gathers its sampled rows, reading them and adding their gradients back."""
    from specrec.models.losses.base import dense_scoring

    params = sum(p.numel() * p.element_size() for p in model.parameters())
    moved = ADAM_PASSES * params
    sampled = getattr(loss.config, "negatives", 0)
    table = model.item_table()
    if sampled and not dense_scoring(table.size(0), sampled + 1):
        moved += 3 * targets * (sampled + 1) * table.size(1) * table.element_size()
    return moved


def flop_counter() -> FlopCounterMode:
    """torch's FLOP counter, plus the in-place `addmm_` it leaves out (the streamed CE's backward)."""
    return FlopCounterMode(display=False, custom_mapping={torch.ops.aten.addmm_: _addmm_flops})


def _addmm_flops(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def recomputed_flops(config, targets: int, n_items: int) -> int:
    """FLOPs the streamed CE spends recomputing its logits in the backward pass, [u, 1, −c] ·
    [w, b, 1] for every target and item: executed, but not the model's FLOPs (none when the CE
    keeps its rows' softmax, `kept_rows`, or takes the whole logits)."""
    from specrec.models.losses.ce import BLOCK_ITEMS, kept_rows

    chunk = config.loss_options.get("chunk")
    if config.loss != "ce" or (chunk is None and kept_rows(n_items, torch.device("cpu"))):
        return 0
    if (chunk or BLOCK_ITEMS) >= n_items:
        return 0
    return 2 * targets * (config.dim + 2) * n_items


def train_child(args) -> dict:
    """Time `--steps` optimizer steps (after `--warmup`) of SASRec on a dataset; optionally save
    the model as a run artifact for `evaluate`."""
    from specrec.data.dataset import load_dataset
    from specrec.heap import reuse_freed_memory
    from specrec.models.losses import build_loss
    from specrec.precision import autocast, resolve_precision
    from specrec.runs.config import TrainConfig
    from specrec.runs.model import build_model
    from specrec.train.loop import Objective
    from specrec.train.samples import Samples
    from specrec.train.train import adam

    reuse_freed_memory()  # as `specrec train` does
    options = dict(pair.split("=", 1) for pair in args.loss_opt)
    options = {k: int(v) if v.isdigit() else v for k, v in options.items()}
    config = TrainConfig(loss=args.loss, loss_options=options, precision=args.precision)
    config.validate()
    device = torch.device("cpu")
    precision = resolve_precision(args.precision, device)
    data = load_dataset(args.dataset)
    model = build_model(config, data.n_items, None)
    objective = Objective(model, build_loss(config.loss, **config.loss_options))
    optimizer = adam(model, config, torch.device("cpu"))
    samples = Samples(data, config.max_len, config.samples)
    batches = (batch for epoch in range(10**6)
               for batch in samples.batches(config.batch_size, epoch=epoch, seed=0))
    generator = torch.Generator().manual_seed(0)

    def step(batch) -> torch.Tensor:
        with autocast(precision, device):
            loss = objective(batch, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    targets, elapsed = 0, 0.0
    for index in range(args.warmup + args.steps):
        batch = next(batches)
        if index == 0:  # the first warm-up step counts the FLOPs of one step
            with flop_counter() as counter:
                step(batch)
            supervised = int((batch.targets > 0).sum())
            executed_per_target = counter.get_total_flops() / supervised
            recomputed = recomputed_flops(config, supervised, data.n_items)
            flops_per_target = executed_per_target - recomputed / supervised
            bytes_per_target = least_bytes_per_step(model, objective.loss, supervised) / supervised
            continue
        started = time.perf_counter()
        loss = step(batch)
        if index >= args.warmup:
            elapsed += time.perf_counter() - started
            targets += int((batch.targets > 0).sum())
    rate = matmul_rate(torch.bfloat16 if precision == "bf16" else torch.float32)
    if args.run_out:
        save_run(args.run_out, args.dataset, data, config, model, loss.item())
    targets_per_s = targets / elapsed
    return {"targets_per_s": targets_per_s, "step_s": elapsed / args.steps,
            "flops_per_target": flops_per_target, "executed_flops_per_target": executed_per_target,
            "least_bytes_per_target": bytes_per_target,
            "matmul_flops": rate,
            "bound_targets_per_s": rate / flops_per_target, "precision": precision,
            "n_items": data.n_items, "rows_per_step": config.batch_size}


def save_run(out: str, dataset: str, data, config, model, loss: float) -> None:
    """The trained-for-a-few-steps model as a run artifact (what `train` writes after an epoch)."""
    from specrec.artifacts import build_artifact, input_ref
    from specrec.data.splits import protocol_label
    from specrec.runs.store import write_run

    def build(tmp: Path) -> dict:
        checkpoint = tmp.parent / f"{tmp.name}-checkpoint.pt"
        torch.save({"bench": True}, checkpoint)
        record = {**config.record(), "table": None, "method": None, "fusion": None,
                  "table_params": {}, "encoder": None, "dataset": dataset, "optimizer": "adam",
                  "protocol": protocol_label(data.meta.config)}
        with torch.no_grad():
            table = model.item_table().detach().float().numpy()
        write_run(tmp, weights=model.state_dict(), record=record,
                  history=[{"epoch": 1, "loss": loss, "seconds": 0.0}], item_table=table,
                  checkpoint=checkpoint)
        return {"best_epoch": 1, "best_valid": {}, "bench_steps": True}

    build_artifact(out, kind="run", config=config.record(),
                   inputs={"dataset": input_ref(Path(dataset), data.meta)},
                   items_fp=data.items_fingerprint, build=build, force=True)


def products_child(args) -> dict:
    """Time the matrix products of full-sort evaluation alone: the model's forward over every test
    history and one `users × items` score product, in `evaluate`'s batches; count their FLOPs."""
    from specrec.data.dataset import load_dataset
    from specrec.runs.model import load_model

    data = load_dataset(args.dataset)
    model = load_model(args.run, data.n_items)
    events = data.targets("test")
    table = model.score_table(model.item_table()).detach()
    forward_s = product_s = 0.0
    flops = 0
    with torch.no_grad():
        for begin in range(0, len(events), args.batch_size):
            batch = events[begin : begin + args.batch_size]
            seq, lengths = data.histories(batch, model.max_len)
            width = max(int(lengths.max()), 1)
            seq_t, len_t = torch.from_numpy(seq[:, :width]), torch.from_numpy(lengths)
            counter = flop_counter() if begin == 0 else None
            started = time.perf_counter()
            with counter or contextlib.nullcontext():
                user = model(seq_t, len_t)
            forward_s += time.perf_counter() - started
            for start in range(1, table.size(0), 32768):
                started = time.perf_counter()
                user @ table[start : start + 32768].T
                product_s += time.perf_counter() - started
            if counter is not None:
                flops_per_user = (counter.get_total_flops() / len(batch)
                                  + 2 * data.n_items * table.size(1))
    rate = matmul_rate(torch.float32)
    return {"users": len(events), "forward_s": forward_s, "product_s": product_s,
            "bound_s": flops_per_user * len(events) / rate, "matmul_flops": rate}


def measured(command: list[str], log: Path) -> tuple[float, int]:
    """Run `command` to completion (output to `log`); its wall seconds and peak RSS in bytes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(log, "w") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        tail = log.read_text().strip().splitlines()[-3:]
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}): {' / '.join(tail)}")
    return seconds, usage.ru_maxrss * 1024


def last_json(log: Path) -> dict:
    return json.loads(log.read_text().strip().splitlines()[-1])


def gb(n: float) -> str:
    return f"{n / 2**30:.2f} GB"


TRAIN_CASES = (  # label, dataset, loss, loss options, precision, timed steps, saves the run
    ("ML-20M shape, CE kept rows (default), fp32", "ml20m", "ce", [], "fp32", 20, True),
    ("ML-20M shape, CE kept rows (default), bf16", "ml20m", "ce", [], "bf16", 20, False),
    ("ML-20M shape, CE streamed (chunk=512), fp32", "ml20m", "ce", ["chunk=512"], "fp32", 20, False),
    ("ML-20M shape, CE whole logits (chunk >= N), fp32", "ml20m", "ce", ["chunk=1000000000"],
     "fp32", 20, False),
    ("ML-20M shape, sampled softmax (128), fp32", "ml20m", "sampled-softmax", [], "fp32", 40, False),
    ("1M items, CE streamed (default: 512-item blocks), fp32", "million", "ce", [], "fp32", 3, False),
    ("1M items, sampled softmax (128), fp32", "million", "sampled-softmax", [], "fp32", 20, True),
)


def run_all(args) -> None:
    sys.path.insert(0, str(HERE))
    from scale_data import SHAPES, scaled, write_raw

    from specrec.precision import cpu_has_native_bf16

    work = Path(args.work)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    datasets = {name: work / f"dataset-{name}" for name in SHAPES}
    runs = {name: work / f"run-{name}" for name in SHAPES}
    lines = []

    def emit(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    load = os.getloadavg()[0]
    emit(f"torch {torch.__version__}, 1 thread per process, {platform.processor() or platform.machine()}, "
         f"{_cpu_name()}; load average {load:.2f} at the start; {time.strftime('%Y-%m-%d %H:%M')}\n")
    bandwidth = copy_bandwidth()
    native_bf16 = cpu_has_native_bf16()
    emit(f"Copy bandwidth, one thread: {bandwidth / 1e9:.1f} GB/s (read + write, 512 MB arrays).\n")
    emit("| stage | result | peak RSS | bound: compute; memory | of the bound |")
    emit("|---|---|---|---|---|")
    shapes = {name: scaled(shape, args.scale) for name, shape in SHAPES.items()}
    for name, shape in shapes.items():
        raw = work / (f"raw-{name}" if args.scale == 1 else f"raw-{name}-x{args.scale:g}")
        if not (raw / "ratings.csv").exists():
            write_raw(name, raw, seed=0, factor=args.scale)
        command = [*SPECREC, "preprocess", "movielens", str(raw), "--out", str(datasets[name]),
                   "--force", *(["--min-item", "0"] if shape.min_item < 5 else [])]
        seconds, rss = measured(command, logs / f"preprocess-{name}.log")
        emit(f"| preprocess {name} ({shape.users:,} users, {shape.items:,} items, "
             f"{shape.interactions:,} events) | {seconds:.1f} s | {gb(rss)} | — | — |")
    for label, name, loss, options, precision, steps, saves in TRAIN_CASES:
        if precision == "bf16" and not native_bf16:
            emit(f"| train {label} | — (this CPU has no native bf16) | — | — | — |")
            continue
        command = [sys.executable, __file__, "train", "--dataset", str(datasets[name]), "--loss", loss,
                   "--precision", precision, "--steps", str(steps),
                   *[arg for option in options for arg in ("--loss-opt", option)],
                   *(["--run-out", str(runs[name])] if saves else [])]
        log = logs / f"train-{re.sub(r'[^A-Za-z0-9]+', '_', label).strip('_')}.log"
        seconds, rss = measured(command, log)
        row = last_json(log)
        memory_bound = bandwidth / row["least_bytes_per_target"]
        bound = min(row["bound_targets_per_s"], memory_bound)
        emit(f"| train {label} | {row['targets_per_s']:,.0f} targets/s ({row['step_s']:.2f} s/step) | "
             f"{gb(rss)} | {row['bound_targets_per_s']:,.0f} targets/s "
             f"({row['flops_per_target'] / 1e6:.2f} MFLOP/target at {row['matmul_flops'] / 1e9:.0f} "
             f"GFLOP/s); {memory_bound:,.0f} targets/s ({row['least_bytes_per_target'] / 1e3:.1f} "
             f"kB/target) | {row['targets_per_s'] / bound:.0%} |")
    for name in SHAPES:
        out = work / f"metrics-{name}"
        seconds, rss = measured([*SPECREC, "evaluate", str(runs[name]), "--out", str(out),
                                 "--device", "cpu", "--force"], logs / f"evaluate-{name}.log")
        log = logs / f"products-{name}.log"
        measured([sys.executable, __file__, "products", "--dataset", str(datasets[name]),
                  "--run", str(runs[name])], log)
        row = last_json(log)
        table_bytes = (shapes[name].items + 1) * 64 * 4
        emit(f"| evaluate {name}: full sort of {row['users']:,} users | {seconds:.1f} s (forward "
             f"{row['forward_s']:.1f} s + score product {row['product_s']:.1f} s alone: "
             f"{seconds / (row['forward_s'] + row['product_s']):.2f}×) | {gb(rss)} (item table "
             f"{gb(table_bytes)}) | {row['bound_s']:.1f} s | {row['bound_s'] / seconds:.0%} |")
    if args.report:
        Path(args.report).write_text("\n".join(lines) + "\n")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    every = commands.add_parser("all", help="generate, preprocess, train and evaluate; report")
    every.add_argument("--work", default="work/bench-scale")
    every.add_argument("--report")
    every.add_argument("--scale", type=float, default=1.0, help="size factor (smoke runs)")
    train = commands.add_parser("train", help="(one measured process) time training steps")
    train.add_argument("--dataset", required=True)
    train.add_argument("--loss", default="ce")
    train.add_argument("--loss-opt", action="append", default=[])
    train.add_argument("--precision", default="fp32")
    train.add_argument("--steps", type=int, default=20)
    train.add_argument("--warmup", type=int, default=2)
    train.add_argument("--run-out")
    products = commands.add_parser("products", help="(one measured process) time eval products")
    products.add_argument("--dataset", required=True)
    products.add_argument("--run", required=True)
    products.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "all":
        run_all(args)
    else:
        row = (train_child if args.command == "train" else products_child)(args)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
