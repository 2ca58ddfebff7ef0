"""Transforms at scale: seeded 100k × 4096 float32 embeddings; wall time and peak RSS per method.

Usage (what `make bench` can call):
    python bench/transform_scale.py --rows 100000 --cols 4096 --out /tmp/specrec-bench \
        --report bench/results/transform_scale.md
Each measurement runs in its own subprocess (peak RSS from os.wait4's ru_maxrss), with
OMP/MKL/OpenBLAS threads set by --threads (a list runs each); --repeat N runs each N times and
reports the median seconds with their range (the shared vCPUs here vary by ±10 %).
numpy.linalg.svd(E, full_matrices=False) runs last, once, under --svd-timeout seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RUNS = (
    ("pca", "auto"),
    ("whiten", "auto"),
    ("ace", "auto"),
    ("pca", "exact"),
    ("whiten", "exact"),
    ("ace", "exact"),
    ("pca", "randomized"),
    ("ace", "randomized"),
)
"""(method, --solver): `auto` is what a plain `specrec transform METHOD` runs (here: mixed)."""


def power_law(rows: int, cols: int, seed: int, decay: float = 0.5) -> np.ndarray:
    """Unit-norm float32 rows: a power-law spectrum σᵢ ∝ i^-decay in a random orthonormal basis
    (random signs, DCT-II, random column order) plus a common mean direction (anisotropy, like
    LLMs), made in blocks of 8192 rows."""
    from scipy.fft import dct

    rng = np.random.default_rng(seed)
    spectrum = ((1.0 + np.arange(cols)) ** -decay).astype(np.float32)
    signs = rng.choice([-1.0, 1.0], size=cols).astype(np.float32)
    order = rng.permutation(cols)
    mean = rng.standard_normal(cols).astype(np.float32)
    mean *= 1.2 * np.linalg.norm(spectrum) / np.linalg.norm(mean)
    matrix = np.empty((rows, cols), dtype=np.float32)
    for start in range(0, rows, 8192):
        stop = min(start + 8192, rows)
        z = rng.standard_normal((stop - start, cols), dtype=np.float32) * spectrum
        block = dct(z * signs, norm="ortho", axis=1)[:, order] + mean
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        matrix[start:stop] = block
    return matrix


def generate(path: Path, rows: int, cols: int, seed: int, decay: float = 0.5) -> Path:
    """The `power_law` embeddings artifact at `path`, made only if not already there."""
    from specrec.testing.synthetic import write_embeddings

    write_embeddings(
        path,
        lambda: power_law(rows, cols, seed, decay),
        [f"item{i}" for i in range(1, rows + 1)],
        config={"synthetic": "power-law", "rows": rows, "cols": cols, "seed": seed, "decay": decay},
        force=False,
        log=lambda m: print(m, file=sys.stderr),
        model="power-law",
        normalized=True,
    )
    return path


def warm_page_cache(path: Path, block: int = 1 << 26) -> None:
    """Read the file once, so every timed run finds it in the page cache (as a pipeline does
    right after `specrec embed` wrote it) instead of the first one paying for the disk."""
    with open(path, "rb") as handle:
        while handle.read(block):
            pass


def child_transform(args: argparse.Namespace) -> None:
    from specrec.transform.transform import transform

    started = time.perf_counter()
    meta = transform(
        method=args.method,
        embeddings=args.embeddings,
        out=args.target,
        dim=args.dim,
        params={"solver": args.solver},
        force=True,
        log=lambda m: None,
    )
    seconds = time.perf_counter() - started
    diag = meta.stats["diagnostics"]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "ran": meta.stats["solver"],
                "erank_in": diag["input_effective_rank"],
                "erank_out": diag["output_effective_rank"],
                "cos_in": diag["input_mean_cosine"],
                "cos_out": diag["output_mean_cosine"],
            }
        )
    )


def child_svd(args: argparse.Namespace) -> None:
    import h5py

    with h5py.File(Path(args.embeddings) / "embeddings.h5", "r") as f:
        matrix = f["embeddings"][1:]
    started = time.perf_counter()
    np.linalg.svd(matrix, full_matrices=False)
    print(json.dumps({"seconds": time.perf_counter() - started}))


def measure(argv: list[str], threads: int, timeout: float | None) -> dict:
    """Run `python this-file argv` in a subprocess: its JSON line, wall seconds, peak RSS (GiB)."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "HF_HUB_OFFLINE": "1",
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    status, usage = None, None
    while status is None:
        pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status = code
        elif timeout is not None and time.perf_counter() - started > timeout:
            proc.kill()
            _, code, usage = os.wait4(proc.pid, 0)
            status = "timeout"
        else:
            time.sleep(0.05)
    wall = time.perf_counter() - started
    out, err = proc.stdout.read(), proc.stderr.read()
    result = {"wall": wall, "rss_gib": usage.ru_maxrss / 2**20, "status": "ok"}
    if status == "timeout":
        result["status"] = f"killed after {timeout:.0f} s (--svd-timeout)"
    elif os.WIFSIGNALED(status) or os.waitstatus_to_exitcode(status) != 0:
        result["status"] = "failed: " + (err.strip().splitlines() or ["?"])[-1][:160]
    else:
        result.update(json.loads(out.strip().splitlines()[-1]))
    return result


def combine(results: list[dict]) -> dict:
    """Repeats of one measurement: the median seconds (and their range), the largest RSS."""
    failed = [r for r in results if r["status"] != "ok"]
    if failed:
        return failed[0]
    seconds = sorted(r["seconds"] for r in results)
    walls = sorted(r["wall"] for r in results)
    merged = {**results[0], "seconds": float(np.median(seconds)), "wall": float(np.median(walls))}
    merged["rss_gib"] = max(r["rss_gib"] for r in results)
    merged["range"] = (seconds[0], seconds[-1]) if len(results) > 1 else None
    return merged


def compare_to_exact(rows: list[tuple[str, int, dict]]) -> None:
    """`vs_exact` = sin of the largest principal angle between the column spaces of T and of the
    same method's exact table, ‖Q − Q_e Q_eᵀ Q‖₂ with Q = orth(T): 0 = the same subspace (it
    ignores rotations within near-equal eigenvalues, which an entrywise error would count)."""
    import h5py

    def table(path: Path) -> np.ndarray:
        with h5py.File(path / "table.h5", "r") as f:
            return f["item_table"][...]

    exact = {
        (name.split()[0], threads): r["table"]
        for name, threads, r in rows
        if name.endswith("(exact)") and r["status"] == "ok"
    }
    for name, threads, r in rows:
        reference = exact.get((name.split()[0], threads))
        if reference is None or r["status"] != "ok" or name.endswith("(exact)"):
            continue
        want = np.linalg.qr(table(reference)[1:].astype(np.float64))[0]
        got = np.linalg.qr(table(r["table"])[1:].astype(np.float64))[0]
        r["vs_exact"] = float(np.linalg.norm(got - want @ (want.T @ got), 2))


def report(
    args: argparse.Namespace, rows: list[tuple[str, int, dict]], gen_s: float, load: str
) -> str:
    input_gib = args.rows * args.cols * 4 / 2**30
    lines = [
        "| run | ran | threads | status | transform s (median, range) | process wall s | peak RSS GiB "
        "| RSS / input | sin θ vs exact | erank in → out | mean cos in → out |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, threads, r in rows:
        seconds = f"{r['seconds']:.1f}" if "seconds" in r else "-"
        if r.get("range"):
            seconds += f" ({r['range'][0]:.1f}–{r['range'][1]:.1f})"
        erank = f"{r['erank_in']:.1f} → {r['erank_out']:.1f}" if "erank_in" in r else "-"
        cos = f"{r['cos_in']:.3f} → {r['cos_out']:.3f}" if "cos_in" in r else "-"
        vs_exact = f"{r['vs_exact']:.1e}" if "vs_exact" in r else "-"
        lines.append(
            f"| {name} | {r.get('ran', '-')} | {threads} | {r['status']} | {seconds} | "
            f"{r['wall']:.1f} | {r['rss_gib']:.2f} | {r['rss_gib'] / input_gib:.2f} | "
            f"{vs_exact} | {erank} | {cos} |"
        )
    after = " ".join(f"{v:.2f}" for v in os.getloadavg())
    command = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    header = [
        f"- input: {args.rows:,} × {args.cols:,} float32 = {input_gib:.2f} GiB; dim {args.dim}; "
        f"generated (or found) in {gen_s:.1f} s",
        "- threads: OMP_NUM_THREADS = MKL_NUM_THREADS = OPENBLAS_NUM_THREADS = the `threads` "
        f"column; {os.cpu_count()} CPUs visible ({platform.machine()}), numpy {np.__version__}",
        "- the input file is read once before the runs, so each finds it in the page cache",
        f"- load average (1, 5, 15 min) before: {load}; after: {after}",
        f"- command: `{command}`",
        "",
    ]
    return "\n".join(header + lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cols", type=int, default=4096)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("/tmp/specrec-bench"))
    parser.add_argument("--threads", default="2", help="BLAS threads; a list '1,2' runs each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--svd-timeout", type=float, default=600.0)
    parser.add_argument("--skip-svd", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement: the median")
    parser.add_argument("--runs", default=None, help="subset, e.g. 'pca:auto,ace:exact'")
    parser.add_argument("--report", type=Path, default=None, help="write the markdown table here")
    parser.add_argument("--child", choices=("transform", "svd"), help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--solver", default="exact", help=argparse.SUPPRESS)
    parser.add_argument("--embeddings", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, not {args.repeat}")
    if args.child == "transform":
        return child_transform(args)
    if args.child == "svd":
        return child_svd(args)

    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    emb = args.out / f"emb-{args.rows}x{args.cols}"
    started = time.perf_counter()
    generate(emb, args.rows, args.cols, args.seed)
    gen_s = time.perf_counter() - started
    warm_page_cache(emb / "embeddings.h5")
    thread_counts = [int(t) for t in str(args.threads).split(",")]
    runs = [tuple(r.split(":")) for r in args.runs.split(",")] if args.runs else RUNS
    rows = []
    for threads in thread_counts:
        for method, solver in runs:
            print(
                f"running {method} ({solver}), {threads} threads ...", file=sys.stderr, flush=True
            )
            child = ["--child", "transform", "--method", method, "--solver", solver]
            child += ["--dim", str(args.dim), "--embeddings", str(emb)]
            target = args.out / f"{method}-{solver}-t{threads}"
            child += ["--target", str(target)]
            result = combine([measure(child, threads, None) for _ in range(args.repeat)])
            result["table"] = target
            rows.append((f"{method} ({solver})", threads, result))
    compare_to_exact(rows)
    if not args.skip_svd:
        threads = max(thread_counts)
        print(f"running numpy.linalg.svd, {threads} threads ...", file=sys.stderr, flush=True)
        child = ["--child", "svd", "--embeddings", str(emb)]
        rows.append(
            (
                "numpy.linalg.svd(E, full_matrices=False)",
                threads,
                measure(child, threads, args.svd_timeout),
            )
        )
    text = report(args, rows, gen_s, load)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)


if __name__ == "__main__":
    main()
