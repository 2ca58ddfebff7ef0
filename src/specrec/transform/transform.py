"""The transform stage: an embeddings artifact -> one transform artifact per option set."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from specrec.artifacts import (
    Meta, build_artifact, check_output, check_same_items, input_paths, input_ref, read_meta,
)
from specrec.console import log as console_log
from specrec.embed.store import open_embeddings
from specrec.errors import SpecrecError
from specrec.transform import methods  # noqa: F401  (registers every method)
from specrec.transform.base import TRANSFORMS, TransformInput, TransformResult, resolve_options
from specrec.transform.diagnostics import summary
from specrec.transform.store import write_table


def transform(
    *,
    method: str,
    embeddings: Path,
    out: Path,
    dim: int = 64,
    dataset: Path | None = None,
    params: dict | None = None,
    seed: int = 0,
    force: bool = False,
    log: Callable[[str], None] = console_log,
) -> Meta | list[Meta]:
    """Reshape the embeddings at `embeddings` with `method` into `out/table.h5` (DESIGN §5).

    `params` are the method's options (see `TRANSFORMS.get(method).options`); an option the method
    does not take is an error. Returns the Meta, or one Meta per λ for an ACE sweep (written to
    `out/lambda-<v>/`). Skips outputs that already carry the same fingerprint unless `force`.
    """
    name = TRANSFORMS.canonical(method)
    entry = TRANSFORMS.get(name)()
    options = resolve_options(name, params)
    embeddings, out = Path(embeddings), Path(out)
    emb = open_embeddings(embeddings)
    inputs = {"embeddings": input_ref(embeddings, emb.meta)}
    if dataset is not None:
        dataset = Path(dataset)
        data_meta = read_meta(dataset, kind="dataset")
        check_same_items(f"embeddings '{embeddings}'", emb.meta, f"dataset '{dataset}'", data_meta)
        inputs["dataset"] = input_ref(dataset, data_meta)
    limit = min(emb.dim, emb.n_items)
    if not 1 <= dim <= limit:
        raise SpecrecError(
            f"--dim {dim} is impossible for {emb.n_items} items x {emb.dim} dims; use 1..{limit}"
        )
    variants = entry.variants(options, dim)
    for subdir, _ in variants:  # refuse a bad --out before the (long) fit
        check_output(out if subdir is None else out / subdir, "transform", input_paths(inputs))
    source = TransformInput(embeddings=emb, dim=dim, seed=seed, dataset=dataset, log=log)
    fitted: list[TransformResult] = []
    timing: dict[str, float] = {}

    def results() -> list[TransformResult]:
        if not fitted:
            started = time.perf_counter()
            fitted.extend(entry.fit(source, [params for _, params in variants]))
            timing["seconds"] = time.perf_counter() - started
        return fitted

    metas = []
    for index, (subdir, params) in enumerate(variants):
        config = {"method": name, "dim": dim, "seed": seed, **params}

        def build(tmp: Path, index: int = index, config: dict = config) -> dict:
            result = results()[index]
            write_table(
                tmp,
                method=name,
                fusion=result.fusion,
                params={**_attr_safe(config), **result.params},
                items_fp=emb.items_fingerprint,
                item_table=result.item_table,
                frozen=result.frozen,
                basis=result.basis,
                diagnostics=result.diagnostics,
            )
            return {
                "method_requested": method,
                "fusion": result.fusion,
                "n_items": emb.n_items,
                "input_dim": emb.dim,
                "encoder": emb.meta.config.get("encoder"),
                "model": emb.meta.config.get("model"),
                "seconds": round(timing["seconds"], 3),
                **result.stats,
                "diagnostics": summary(result.diagnostics),
            }

        target = out if subdir is None else out / subdir
        metas.append(
            build_artifact(
                target,
                kind="transform",
                config=config,
                inputs=inputs,
                items_fp=emb.items_fingerprint,
                build=build,
                force=force,
                log=log,
            )
        )
    if len(variants) == 1 and variants[0][0] is None:
        return metas[0]
    return metas


def _attr_safe(config: dict) -> dict:
    """Config values as HDF5 attributes (`method` is an attribute of its own)."""
    return {key: value for key, value in config.items() if key != "method"}
