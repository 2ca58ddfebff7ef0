"""`specrec embed`: thin CLI wrapper around `specrec.embed.embed.embed` (and `--from-file`)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from specrec.cli.app import app
from specrec.console import out
from specrec.errors import SpecrecError


@app.command("embed")
def embed_cli(
    dataset: Path = typer.Option(..., "--dataset", help="Dataset artifact (from `preprocess`)."),
    encoder: str | None = typer.Option(
        None, "--encoder", help="Encoder alias: minilm, hf, qwen3-8b, ... (or --from-file)."
    ),
    out_dir: Path = typer.Option(..., "--out", help="Embeddings artifact to write."),
    from_file: Path | None = typer.Option(
        None, "--from-file", help="Import precomputed vectors: .npy, .npz, .parquet or .jsonl."
    ),
    ids: Path | None = typer.Option(
        None, "--ids", help="--from-file .npy: its ids, one a line (default: FILE.ids.txt)."
    ),
    id_column: str | None = typer.Option(
        None, "--id-column", help="--from-file .parquet/.jsonl: the id key (default item_id)."
    ),
    vector_column: str | None = typer.Option(
        None, "--vector-column", help="--from-file .parquet/.jsonl: the vector key (embedding)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Local model folder or cached hub name."
    ),
    adapter: Path | None = typer.Option(
        None, "--adapter",
        help="Finetune artifact: its LoRA merged into its base model, texts embedded as tuned.",
    ),
    pooling: str | None = typer.Option(None, "--pooling", help="mean | cls | last_token."),
    padding_side: str | None = typer.Option(None, "--padding-side", help="left | right."),
    max_length: int | None = typer.Option(None, "--max-length", help="Truncate texts to N tokens."),
    prompt: str | None = typer.Option(None, "--prompt", help="Prefix put before every item text."),
    normalize: bool | None = typer.Option(
        None, "--normalize/--no-normalize", help="L2-normalise vectors (default: the encoder's)."
    ),
    append_eos: bool | None = typer.Option(
        None, "--append-eos/--no-append-eos",
        help="Tokenise without special tokens (no BOS), then append the EOS (default: encoder's).",
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="API encoders: OpenAI-compatible server (default: OpenAI's)."
    ),
    dimensions: int | None = typer.Option(
        None, "--dimensions", help="API encoders: ask the API for vectors of N dimensions."
    ),
    batch_size: int = typer.Option(64, "--batch-size", help="Texts per forward pass."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N."),
    dtype: str = typer.Option("float32", "--dtype", help="Storage dtype: float32 | float16."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the output is up to date."),
) -> None:
    """Embed every item text of a dataset with a text encoder (resumable; torchrun: multi-GPU),
    or import vectors computed elsewhere with --from-file FILE."""
    if (encoder is None and adapter is None) == (from_file is None):
        raise SpecrecError(
            "pass exactly one of --encoder ALIAS (embed the item texts) or --from-file FILE "
            "(import precomputed vectors)"
        )
    if from_file is not None:
        _refuse_given({"--model": model, "--pooling": pooling, "--padding-side": padding_side,
                       "--max-length": max_length, "--prompt": prompt, "--append-eos": append_eos,
                       "--base-url": base_url, "--dimensions": dimensions},
                      "is for --encoder; --from-file imports the vectors as they are")
        _import_from_file(dataset=dataset, source=from_file, out_dir=out_dir, ids=ids,
                          id_column=id_column, vector_column=vector_column,
                          normalize=bool(normalize), dtype=dtype, force=force)
        return
    _refuse_given({"--ids": ids, "--id-column": id_column, "--vector-column": vector_column},
                  "is for --from-file FILE; drop it or pass --from-file")
    from specrec.embed.embed import embed

    meta = embed(
        dataset=dataset, encoder=encoder, out=out_dir, model=model, pooling=pooling,
        padding_side=padding_side, max_length=max_length, prompt=prompt, normalize=normalize,
        batch_size=batch_size, device=device, dtype=dtype, force=force, append_eos=append_eos,
        base_url=base_url, dimensions=dimensions, adapter=adapter,
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


def _refuse_given(options: dict, why: str) -> None:
    """A one-line error naming the first of `options` that was given (is not None)."""
    given = [name for name, value in options.items() if value is not None]
    if given:
        raise SpecrecError(f"{given[0]} {why}")


def _import_from_file(*, dataset: Path, source: Path, out_dir: Path, **options) -> None:
    """`embed --from-file`: import the vectors and print what was imported and ignored."""
    from specrec.embed.imported import import_embeddings

    stats = import_embeddings(dataset=dataset, source=source, out=out_dir, **options).stats
    table = Table(title=f"embeddings -> {out_dir} (from {source})")
    for column in ("items", "dim", "file rows", "ignored", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(*(str(stats.get(key)) for key in
                    ("items", "dim", "file_rows", "ignored_rows", "seconds")))
    out.print(table)
