"""`specrec embed`: thin CLI wrapper around `specrec.embed.embed.embed`."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from specrec.cli.app import app
from specrec.console import out


@app.command("embed")
def embed_cli(
    dataset: Path = typer.Option(..., "--dataset", help="Dataset artifact (from `preprocess`)."),
    encoder: str = typer.Option(..., "--encoder", help="Encoder alias: minilm, hf, qwen3-8b, ..."),
    out_dir: Path = typer.Option(..., "--out", help="Embeddings artifact to write."),
    model: str | None = typer.Option(
        None, "--model", help="Local model folder or cached hub name."
    ),
    pooling: str | None = typer.Option(None, "--pooling", help="mean | cls | last_token."),
    padding_side: str | None = typer.Option(None, "--padding-side", help="left | right."),
    max_length: int | None = typer.Option(None, "--max-length", help="Truncate texts to N tokens."),
    prompt: str | None = typer.Option(None, "--prompt", help="Prefix put before every item text."),
    normalize: bool | None = typer.Option(
        None, "--normalize/--no-normalize", help="L2-normalise vectors (default: the encoder's)."
    ),
    batch_size: int = typer.Option(64, "--batch-size", help="Texts per forward pass."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N."),
    dtype: str = typer.Option("float32", "--dtype", help="Storage dtype: float32 | float16."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the output is up to date."),
) -> None:
    """Embed every item text of a dataset with a text encoder (resumable; torchrun: multi-GPU)."""
    from specrec.embed.embed import embed

    meta = embed(
        dataset=dataset, encoder=encoder, out=out_dir, model=model, pooling=pooling,
        padding_side=padding_side, max_length=max_length, prompt=prompt, normalize=normalize,
        batch_size=batch_size, device=device, dtype=dtype, force=force,
    )  # fmt: skip
    if int(os.environ.get("RANK", 0)) != 0:
        return
    stats = meta.stats
    table = Table(title=f"embeddings -> {out_dir}")
    for column in ("items", "dim", "seconds", "items/s"):
        table.add_column(column, justify="right")
    speed = stats.get("items_per_second")
    table.add_row(
        str(stats.get("items")), str(stats.get("dim")), str(stats.get("seconds")),
        "-" if speed is None else str(speed),
    )  # fmt: skip
    out.print(table)
