"""`embed` against sentence-transformers' own `encode()`: the same model, texts and threads, one process.

    .venv/bin/python bench/embed_speed.py --dataset work/demo/data --threads 1

Times, in one process and alternating (so a noisy neighbour hits both alike): (a) the model's
`SentenceTransformer.encode(texts)` at its default batch size, (b) specrec's encoder over
specrec's batch plan (forward passes only), (c) the whole `specrec embed` call (load, forward
passes, the resumable per-batch store, the HDF5 artifact); prints items/s of each and their ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, type=Path)
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import polars as pl
    import torch
    from sentence_transformers import SentenceTransformer

    from specrec.embed import shards
    from specrec.embed.embed import embed
    from specrec.embed.encoders.resolve import load_encoder, resolve_encoder

    torch.set_num_threads(args.threads)
    texts = pl.read_parquet(args.dataset / "items.parquet", columns=["text"])["text"].to_list()
    settings = resolve_encoder(args.encoder)
    theirs = SentenceTransformer(str(settings.model_dir), device="cpu", local_files_only=True)
    ours = load_encoder(settings, device="cpu", compute_dtype="float32")
    plan = shards.batches(shards.length_order(texts), args.batch_size)

    def sentence_transformers() -> float:
        started = time.perf_counter()
        theirs.encode(texts, convert_to_numpy=True, show_progress_bar=False)
        return time.perf_counter() - started

    def specrec_forward() -> float:
        started = time.perf_counter()
        for batch in plan:
            ours.encode([texts[i - 1] for i in batch])
        return time.perf_counter() - started

    def specrec_embed() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            embed(dataset=args.dataset, encoder=args.encoder, out=Path(tmp) / "emb",
                  batch_size=args.batch_size, device="cpu")  # fmt: skip
            return time.perf_counter() - started

    runs = {"sentence-transformers encode()": sentence_transformers,
            f"specrec encoder, batch {args.batch_size}": specrec_forward,
            f"specrec embed (all of it), batch {args.batch_size}": specrec_embed}  # fmt: skip
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeat):
        for name, run in runs.items():
            best[name] = min(best[name], run())
    base = len(texts) / best["sentence-transformers encode()"]
    print(json.dumps({"items": len(texts), "threads": args.threads, "torch": torch.__version__}))
    for name, seconds in best.items():
        rate = len(texts) / seconds
        print(f"{name:<45} {seconds:7.2f} s  {rate:7.1f} items/s  {rate / base:5.2f}×")


if __name__ == "__main__":
    main()
