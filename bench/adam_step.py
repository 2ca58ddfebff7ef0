"""Time of one Adam step over a `rows × dim` table: default, `foreach` and `fused`, one process.

    .venv/bin/python bench/adam_step.py --rows 1000001 --dim 64 --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_001)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    for variant in ({}, {"foreach": True}, {"fused": True}):
        weight = torch.nn.Parameter(torch.randn(args.rows, args.dim, generator=generator) * 0.02)
        weight.grad = torch.randn(args.rows, args.dim, generator=generator) * 1e-3
        optimizer = torch.optim.Adam([weight], lr=1e-3, **variant)
        optimizer.step()  # allocates the moments
        started = time.perf_counter()
        for _ in range(args.steps):
            optimizer.step()
        per_step = (time.perf_counter() - started) / args.steps
        print(f"{str(variant or 'default'):<20} {per_step * 1000:8.1f} ms/step "
              f"({args.rows:,} × {args.dim}, {args.threads} thread(s), torch {torch.__version__})")


if __name__ == "__main__":
    main()
