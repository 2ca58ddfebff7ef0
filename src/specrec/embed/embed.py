"""The embed stage: item texts of a dataset + an encoder -> an embeddings artifact."""

from __future__ import annotations

import json
import shutil
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import polars as pl

from specrec import __version__
from specrec import devices
from specrec.artifacts import Meta, claim_output, input_ref, items_fingerprint, read_meta, sha256_of
from specrec.console import log, progress
from specrec.embed import shards
from specrec.embed.encoders.base import EncoderSettings
from specrec.embed.encoders.resolve import batch_plan, load_encoder, resolve_encoder
from specrec.embed.partial import PartialRows, partial_root
from specrec.embed.store import EMBEDDINGS_FILE, write_rows
from specrec.errors import SpecrecError
from specrec.finetune.store import read_finetune

STORAGE_DTYPES = ("float32", "float16")


def embed(
    *,
    dataset: Path,
    encoder: str | None,
    out: Path,
    model: str | None = None,
    pooling: str | None = None,
    padding_side: str | None = None,
    max_length: int | None = None,
    prompt: str | None = None,
    normalize: bool | None = None,
    batch_size: int = 64,
    device: str = "auto",
    dtype: str = "float32",
    force: bool = False,
    append_eos: bool | None = None,
    base_url: str | None = None,
    dimensions: int | None = None,
    adapter: Path | None = None,
) -> Meta:
    """Embed every item text of `dataset` with `encoder` into the artifact `out`.

    Skips work when `out` already holds the same fingerprint (unless `force`); resumes from the
    last completed batch after an interruption; under torchrun each rank embeds a shard and rank 0
    writes the artifact. An API encoder (`openai`) sends one request per batch and ignores
    `device` (it runs on the server). With an `adapter` (a finetune artifact) its LoRA weights
    are merged into its base model, and its tokenisation and pooling are used.
    """
    dataset, out = Path(dataset), Path(out)
    if batch_size < 1:
        raise SpecrecError(f"--batch-size must be at least 1, got {batch_size}")
    if dtype not in STORAGE_DTYPES:
        raise SpecrecError(f"unknown --dtype '{dtype}'; choose one of: {', '.join(STORAGE_DTYPES)}")
    data_meta, item_ids, texts = read_items(dataset)
    tuned = read_finetune(adapter) if adapter is not None else None
    if tuned is not None:  # its base model, tokenisation and pooling
        encoder, model, pooling, padding_side, max_length, prompt, normalize, append_eos = (
            tuned.encoder_options(encoder, model, pooling, padding_side, max_length, prompt,
                                  normalize, append_eos))
    settings = resolve_encoder(
        encoder, model=model, pooling=pooling, padding_side=padding_side,
        max_length=max_length, prompt=prompt, normalize=normalize, append_eos=append_eos,
        base_url=base_url, dimensions=dimensions,
    )  # fmt: skip
    if tuned is not None:
        tuned.check_base_model(settings.model, settings.model_signature)
    found = devices.ranks()
    api = settings.backend == "openai"  # the server computes: record the same device anywhere
    device_t = devices.resolve_device("cpu" if api else device, found.local_rank)
    compute_dtype = _compute_dtype(device_t)
    config = {
        **settings.record(),
        "text_template": _text_template(data_meta),
        "batch_size": batch_size,
        "device": device_t.type,
        "compute_dtype": compute_dtype,
        "dtype": dtype,
        **({"adapter": tuned.meta.fingerprint} if tuned is not None else {}),
    }
    inputs = {"dataset": input_ref(dataset, data_meta)}
    if tuned is not None:
        inputs["adapter"] = input_ref(tuned.path, tuned.meta)
    with claim_output(out, kind="embeddings", config=config, inputs=inputs, force=force,
                      protect=[d for d in [settings.model_dir] if d is not None],
                      log=log if found.is_main else None,
                      lock=found.is_main) as claim:
        if claim.existing is not None:
            return claim.existing
        # ranks wait for each other's shards for as long as the slowest takes: gloo, 12 hours
        with devices.process_group(found, device_t, backend="gloo", timeout_s=12 * 3600):
            meta = _embed_shards(claim, settings, data_meta, item_ids, texts, found,
                                 batch_size=batch_size, device=str(device_t),
                                 compute_dtype=compute_dtype, adapter=adapter)
    return meta if meta is not None else read_meta(out, kind="embeddings")


def _embed_shards(claim, settings: EncoderSettings, data_meta: Meta, item_ids: list[str],
                  texts: list[str], found: devices.Ranks, *, batch_size: int, device: str,
                  compute_dtype: str, adapter: Path | None = None) -> Meta | None:
    """Embed this rank's shard (resuming), then rank 0 merges all shards into the artifact."""
    out, config, world_size = claim.out, claim.config, found.world_size
    started = time.perf_counter()
    order = shards.length_order(texts)
    key = sha256_of({"config": {k: v for k, v in config.items() if k != "dtype"},
                     "inputs": claim.inputs})
    shard_dirs = [partial_root(out) / f"shard-{r}-of-{world_size}" for r in range(world_size)]
    store = PartialRows(shard_dirs[found.rank], key)
    if store.batches_done and found.is_main:
        log(f"resuming {out}: {store.batches_done} batch(es) already in {partial_root(out)}")
    encode_started = time.perf_counter()
    encode_shard(
        settings, texts, item_ids, shards.shard(order, found.rank, world_size), store,
        batch_size=batch_size, device=device, compute_dtype=compute_dtype, show=found.is_main,
        adapter=adapter,
    )  # fmt: skip
    devices.barrier(found)
    encode_seconds = time.perf_counter() - encode_started
    meta = None
    if found.is_main:
        parts = [PartialRows.read_only(d, key) if r else store for r, d in enumerate(shard_dirs)]
        n_new = sum(part.new_rows for part in parts)
        n_batches = sum(
            len(batch_plan(settings, texts, shards.shard(order, r, world_size), batch_size))
            for r in range(world_size)
        )

        def build(tmp: Path) -> dict:
            dim = write_embeddings(
                tmp / EMBEDDINGS_FILE, order=order, parts=parts, item_ids=item_ids,
                attrs=_attrs(settings, config, data_meta), dtype=config["dtype"],
            )  # fmt: skip
            return {
                "items": len(item_ids),
                "dim": dim,
                "seconds": round(time.perf_counter() - started, 3),
                "items_per_second": round(n_new / encode_seconds, 1) if n_new else None,
                "batches": n_batches,
                "resumed_items": len(item_ids) - n_new,
                "world_size": world_size,
            }

        meta = claim.write(build, data_meta.items_fingerprint)
        shutil.rmtree(partial_root(out), ignore_errors=True)
    devices.barrier(found)
    return meta


def read_items(dataset: Path) -> tuple[Meta, list[str], list[str]]:
    """`(dataset meta, item ids 1..N, texts 1..N)`, validated; missing texts become ""."""
    meta = read_meta(dataset, kind="dataset", required=("items.parquet",))
    path = dataset / "items.parquet"
    try:
        columns = pl.read_parquet_schema(path)
        missing = [c for c in ("item_idx", "item_id", "text") if c not in columns]
        if missing:
            raise SpecrecError(
                f"dataset '{dataset}': items.parquet lacks column(s) {missing}; rerun preprocess"
            )
        items = pl.read_parquet(path, columns=["item_idx", "item_id", "text"])
    except SpecrecError:
        raise
    except Exception as exc:  # pyarrow/polars raise many types for corrupt files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecrecError(
            f"dataset '{dataset}': cannot read items.parquet ({reason}); rerun preprocess"
        ) from None
    if items.height == 0 or not np.array_equal(
        items["item_idx"].to_numpy(), np.arange(1, items.height + 1)
    ):
        raise SpecrecError(f"dataset '{dataset}': items.parquet must hold item_idx 1..N in order")
    item_ids = items["item_id"].cast(pl.Utf8).to_list()
    texts = items["text"].cast(pl.Utf8).fill_null("").to_list()
    if items_fingerprint(item_ids) != meta.items_fingerprint:
        raise SpecrecError(
            f"dataset '{dataset}': items.parquet does not match the items fingerprint in its "
            "meta.json; rerun preprocess with --force"
        )
    return meta, item_ids, texts


def _compute_dtype(device) -> str:
    """CUDA runs under bf16 autocast (fp16 where bf16 is missing); the CPU in float32."""
    if device.type != "cuda":
        return "float32"
    import torch

    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def encode_shard(
    settings: EncoderSettings,
    texts: list[str],
    item_ids: list[str],
    items: np.ndarray,
    store: PartialRows,
    *,
    batch_size: int,
    device: str,
    compute_dtype: str,
    show: bool = True,
    adapter: Path | None = None,
) -> None:
    """Embed the batches of `items` not yet in `store`, appending each to `store` when done."""
    todo = batch_plan(settings, texts, items, batch_size)
    if store.batches_done >= len(todo):
        return
    encoder = load_encoder(settings, device=device, compute_dtype=compute_dtype, adapter=adapter)
    if settings.backend == "openai" and show:  # what the remaining requests send and cost
        from specrec.embed.encoders.openai_api import cost_summary

        log(cost_summary(settings, [texts[i - 1] for b in todo[store.batches_done :] for i in b]))
    with progress() if show else nullcontext() as bar:
        task = None
        if bar is not None:
            task = bar.add_task("embed", total=len(todo), completed=store.batches_done)
        for batch in todo[store.batches_done :]:
            vectors = encoder.encode([texts[i - 1] for i in batch])
            if vectors.shape[0] != len(batch) or vectors.ndim != 2:
                raise SpecrecError(
                    f"encoder '{settings.encoder}' returned shape {vectors.shape} for "
                    f"{len(batch)} texts; check the model folder"
                )
            bad = ~np.isfinite(vectors).all(axis=1)
            if bad.any():
                item = int(batch[np.flatnonzero(bad)[0]])
                raise SpecrecError(
                    f"encoder '{settings.encoder}' produced NaN or Inf for item {item} "
                    f"('{item_ids[item - 1]}'); check the model, or embed with --device cpu"
                )
            store.append(vectors)
            if bar is not None:
                bar.advance(task)


def write_embeddings(
    path: Path,
    *,
    order: np.ndarray,
    parts: list[PartialRows],
    item_ids: list[str],
    attrs: dict,
    dtype: str,
) -> int:
    """Merge the shards in index order into `path` (/embeddings [N+1, D], /item_id); returns D."""
    n_rows, dim = len(item_ids) + 1, max(int(part.dim or 0) for part in parts)
    staging = path.parent / "rows.staging.npy"
    merged = np.lib.format.open_memmap(staging, mode="w+", dtype=np.float32, shape=(n_rows, dim))
    merged[0] = 0.0
    shards.merge(order, [part.rows() for part in parts], merged)
    try:
        written = write_rows(path, merged, item_ids, attrs, dtype)
    finally:
        del merged
        staging.unlink()
    return written


def _attrs(settings: EncoderSettings, config: dict, data_meta: Meta) -> dict:
    return {
        "encoder": settings.encoder,
        "model": settings.model,
        "revision": settings.revision,
        "backend": settings.backend,
        "pooling": settings.pooling,
        "padding_side": settings.padding_side,
        "max_length": settings.max_length,
        "prompt": settings.prompt,
        "text_template": config["text_template"],
        "normalized": settings.normalize,
        "dtype": config["dtype"],
        "compute_dtype": config["compute_dtype"],
        "items_fingerprint": str(data_meta.items_fingerprint),
        "specrec_version": __version__,
        **settings.optional_record(),
        **({"adapter": config["adapter"]} if "adapter" in config else {}),
    }


def _text_template(data_meta: Meta) -> str:
    template = data_meta.config.get("text_template", "")
    return template if isinstance(template, str) else json.dumps(template, sort_keys=True)
