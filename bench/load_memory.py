"""Peak RSS and time of `load_dataset` on one dataset artifact, in a fresh process.

    POLARS_MAX_THREADS=1 .venv/bin/python bench/load_memory.py work/bench-scale/ml20m
"""

from __future__ import annotations

import resource
import sys
import time

from specrec.data.dataset import load_dataset


def main() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    data = load_dataset(sys.argv[1])
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"{len(data.items):,} events of {data.n_users:,} users in {seconds:.1f} s; "
          f"peak RSS {peak / 1e6:.2f} GB (before loading {before / 1e6:.2f} GB)")


if __name__ == "__main__":
    main()
