"""Does `torch.compile` pay for SASRec training on CPU? Eager against compiled, one process.

Times `--steps` optimizer steps (after `--warmup`, which includes the compilation) of SASRec
`windows` with full-softmax CE, in eager mode and with `torch.compile` of each transformer layer
or of the whole backbone. specrec's dropout draws its mask with `Tensor.random_`, which dynamo
does not trace (a graph break per dropout), so each compiled variant also runs with the dropouts
replaced by `F.dropout`, whose random numbers inductor generates inside its fused kernels.

    OMP_NUM_THREADS=1 .venv/bin/python bench/compile_speed.py --dataset work/bench/ml-100k
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch
import torch.nn.functional as F

from specrec.data.dataset import load_dataset
from specrec.models import dropout
from specrec.models.losses import build_loss
from specrec.runs.config import TrainConfig
from specrec.runs.model import build_model
from specrec.train.loop import Objective
from specrec.train.samples import Samples
from specrec.train.train import adam

VARIANTS = ("eager", "layers", "backbone", "layers + F.dropout", "backbone + F.dropout")


@contextlib.contextmanager
def torch_dropout(enabled: bool):
    """specrec's `Dropout` computing `F.dropout` while inside (so that inductor owns the RNG)."""
    original = dropout.Dropout.forward
    if enabled:
        dropout.Dropout.forward = lambda self, x: F.dropout(x, self.p, self.training)
    try:
        yield
    finally:
        dropout.Dropout.forward = original


def measure(data, variant: str, steps: int, warmup: int) -> tuple[float, float]:
    """(targets/s over the timed steps, seconds of the warm-up steps) of one variant."""
    torch._dynamo.reset()
    config = TrainConfig(backbone="sasrec", samples="windows")
    config.validate()
    model = build_model(config, data.n_items, None)
    if variant.startswith("layers"):
        for layer in model.backbone.layers:
            layer.compile(dynamic=False)
    elif variant.startswith("backbone"):
        model.backbone.compile(dynamic=False)
    objective = Objective(model, build_loss("ce"))
    optimizer = adam(model, config, torch.device("cpu"))
    samples = Samples(data, config.max_len, "windows")
    batches = (batch for epoch in range(10**6)
               for batch in samples.batches(config.batch_size, epoch=epoch, seed=0))
    generator = torch.Generator().manual_seed(0)
    targets, elapsed, warm = 0, 0.0, 0.0
    with torch_dropout(variant.endswith("F.dropout")):
        for index in range(warmup + steps):
            batch = next(batches)
            started = time.perf_counter()
            loss = objective(batch, generator)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seconds = time.perf_counter() - started
            if index < warmup:
                warm += seconds
            else:
                elapsed += seconds
                targets += int((batch.targets > 0).sum())
    return targets / elapsed, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.steps} timed steps\n")
    print("| variant | targets/s | warm-up s (compilation included) |")
    print("|---|---:|---:|")
    for variant in VARIANTS:
        rate, warm = measure(data, variant, args.steps, args.warmup)
        print(f"| {variant} | {rate:,.0f} | {warm:.1f} |", flush=True)


if __name__ == "__main__":
    main()
