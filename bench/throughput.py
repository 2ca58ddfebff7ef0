"""Training throughput (supervised targets per second) of each backbone and samples mode.

Times `--steps` optimizer steps (after `--warmup` untimed ones) of the real training objective on
a dataset artifact, at a fixed thread count, and appends a Markdown table to stdout.

    OMP_NUM_THREADS=1 .venv/bin/python bench/throughput.py --dataset work/bench/ml-100k --threads 1
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from specrec.data.dataset import load_dataset
from specrec.heap import reuse_freed_memory
from specrec.models.losses import build_loss
from specrec.runs.config import TrainConfig
from specrec.runs.model import build_model
from specrec.train.loop import Objective
from specrec.train.samples import Samples
from specrec.train.train import adam


def measure(data, backbone: str, samples_mode: str, steps: int, warmup: int) -> dict:
    config = TrainConfig(backbone=backbone, samples=samples_mode)
    config.validate()
    model = build_model(config, data.n_items, None)
    objective = Objective(model, build_loss("ce"))
    optimizer = adam(model, config, torch.device("cpu"))
    samples = Samples(data, config.max_len, samples_mode)
    cloze = None
    if not model.backbone.causal:
        cloze = (model.backbone.config.mask_ratio, model.backbone.config.ft_ratio)
    generator = torch.Generator().manual_seed(0)
    batches = samples.batches(config.batch_size, epoch=0, seed=0, cloze=cloze)
    targets, elapsed, timed = 0, 0.0, 0
    for step in range(warmup + steps):
        try:
            batch = next(batches)
        except StopIteration:
            batches = samples.batches(config.batch_size, epoch=step, seed=0, cloze=cloze)
            batch = next(batches)
        started = time.perf_counter()
        loss = objective(batch, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= warmup:
            elapsed += time.perf_counter() - started
            targets += int((batch.targets > 0).sum())
            timed += 1
    steps_per_epoch = -(-len(samples) // config.batch_size)
    per_epoch = steps_per_epoch * elapsed / timed  # cloze epochs supervise only masked positions
    return {"backbone": backbone, "samples": samples_mode, "batch": config.batch_size,
            "targets_per_s": targets / elapsed, "epoch_s": per_epoch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--backbones", default="sasrec,gru4rec,bert4rec,hstu")
    parser.add_argument("--modes", default="prefixes,windows")
    args = parser.parse_args()
    reuse_freed_memory()  # as `specrec train` does
    torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or platform.machine()}, "
          f"{args.steps} timed steps after {args.warmup} warm-up\n")
    print("| backbone | samples | rows/batch | targets/s | s per epoch (est.) |")
    print("|---|---|---|---|---|")
    for backbone in args.backbones.split(","):
        for mode in args.modes.split(","):
            row = measure(data, backbone, mode, args.steps, args.warmup)
            print(f"| {row['backbone']} | {row['samples']} | {row['batch']} | "
                  f"{row['targets_per_s']:,.0f} | {row['epoch_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
