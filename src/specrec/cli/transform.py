"""`specrec transform`: thin CLI wrapper around `specrec.transform.transform.transform`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from specrec.cli.app import app
from specrec.cli.options import parse_key_values
from specrec.console import out
from specrec.errors import SpecrecError


@app.command("transform")
def transform_cli(
    method: str = typer.Argument(
        ...,
        help="pca (llm2x) | ace | whiten | group-whiten | llminit | alphafuse, or an adapter "
        "input (docs/transforms.md).",
    ),
    embeddings: Path = typer.Option(..., help="Embeddings artifact (from `specrec embed`)."),
    out_dir: Path = typer.Option(..., "--out", help="Transform artifact directory to write."),
    dim: int = typer.Option(64, help="k: width of the item table."),
    dataset: Optional[Path] = typer.Option(
        None, help="Dataset artifact: items are checked against it; llminit var and llmesr "
        "need it."
    ),
    lam: Optional[str] = typer.Option(
        None, "--lambda",
        help="ace: λ >= 0 (default 50, the authors' code), 'auto', or a sweep '0,1,5,10,50'.",
    ),
    std: Optional[float] = typer.Option(
        None, help="ace: std of all table entries (default 0.1, the authors' code)."
    ),
    center: Optional[bool] = typer.Option(
        None, "--center/--no-center", help="ace: SVD of the centred embeddings (default no)."
    ),
    target_erank: Optional[float] = typer.Option(
        None, help="ace --lambda auto: target effective rank (default dim/2)."
    ),
    groups: Optional[int] = typer.Option(
        None, help="group-whiten, whitenrec-plus: contiguous column groups (default 4)."
    ),
    variant: Optional[str] = typer.Option(
        None, help="llminit: var (default) | uni | rand | whitened-pca."
    ),
    scale: Optional[float] = typer.Option(
        None, help="alphafuse (and scaled adapter inputs): multiply E first."
    ),
    null_dim: Optional[int] = typer.Option(
        None, help="alphafuse: ID dims on the last components (default 64)."
    ),
    cover: Optional[bool] = typer.Option(
        None, "--cover/--no-cover", help="alphafuse: IDs replace the last components."
    ),
    id_init: Optional[str] = typer.Option(None, help="alphafuse: zeros (default) | normal."),
    features: Optional[str] = typer.Option(
        None, help="whiten: also store the full whitened view: none (default) | pca | zca."
    ),
    eps: Optional[float] = typer.Option(
        None, help="whiten, group-whiten: ridge ε·λ₁ (default 1e-6)."
    ),
    solver: Optional[str] = typer.Option(
        None,
        help="pca, ace, alphafuse, llminit, whiten, llmemb, llmesr, spectran: auto (default) "
        "| exact | mixed | randomized (docs/transforms.md).",
    ),
    param: Optional[list[str]] = typer.Option(
        None, help="KEY=VALUE for a method option without a flag of its own (repeatable)."
    ),
    seed: int = typer.Option(0, help="Seed (llminit rand, randomized solver)."),
    force: bool = typer.Option(False, help="Recompute even if the output is up to date."),
) -> None:
    """Reshape item embeddings into an item table (+ diagnostics: anisotropy before vs after)."""
    from specrec.transform.diagnostics import comparison_table
    from specrec.transform.transform import transform

    given = {
        "lambda": lam,
        "std": std,
        "center": center,
        "target_erank": target_erank,
        "groups": groups,
        "variant": variant,
        "scale": scale,
        "null_dim": null_dim,
        "cover": cover,
        "id_init": id_init,
        "features": features,
        "eps": eps,
        "solver": solver,
    }
    params = {key: value for key, value in given.items() if value is not None}
    extra = parse_key_values(param, "--param")
    twice = sorted(set(extra) & set(params))
    if twice:
        raise SpecrecError(f"option {twice[0]} is given twice (a flag and --param); keep one")
    params.update(extra)
    result = transform(
        method=method,
        embeddings=embeddings,
        out=out_dir,
        dim=dim,
        dataset=dataset,
        params=params,
        seed=seed,
        force=force,
    )
    metas = result if isinstance(result, list) else [result]
    columns = []
    for meta in metas:
        label = meta.config["method"]
        if meta.config["method"] == "ace":
            label = f"ace λ={meta.stats.get('lambda_value', 0):.4g}"
        columns.append((label, meta.stats.get("diagnostics", {})))
    out.print(comparison_table(columns))
