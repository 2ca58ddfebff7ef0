"""`specrec finetune`: thin CLI wrapper around `specrec.finetune.finetune.finetune`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from specrec.cli.app import app
from specrec.console import out


@app.command("finetune")
def finetune_cli(
    dataset: Path = typer.Option(..., "--dataset", help="Dataset artifact (from `preprocess`)."),
    out_dir: Path = typer.Option(..., "--out", help="Finetune artifact (LoRA adapter) to write."),
    model: str | None = typer.Option(
        None, "--model", help="Local model folder (causal LM or encoder) or cached hub name."
    ),
    encoder: str = typer.Option(
        "hf", "--encoder", help="Encoder alias whose defaults apply: hf, llama-7b, minilm, ..."
    ),
    steps: int = typer.Option(4000, "--steps", help="Optimiser steps (LLMEmb: 4000)."),
    batch_size: int = typer.Option(64, "--batch-size", help="Items per step (pairs)."),
    lr: float = typer.Option(2e-4, "--lr", help="AdamW learning rate (constant)."),
    seed: int = typer.Option(0, "--seed", help="Seed of LoRA's init, the batches and the views."),
    max_length: int | None = typer.Option(
        None, "--max-length", help="Truncate texts to N tokens (default: the encoder's)."
    ),
    append_eos: bool | None = typer.Option(
        None, "--append-eos/--no-append-eos",
        help="No BOS, EOS appended (default: yes for a decoder's tokenizer, no for one with CLS).",
    ),
    drop_ratio: float = typer.Option(
        0.4, "--drop-ratio", help="Each view drops the last ⌊ratio·m⌋ of m shuffled attributes."
    ),
    lora_r: int = typer.Option(8, "--lora-r", help="LoRA rank."),
    lora_alpha: float = typer.Option(32.0, "--lora-alpha", help="LoRA α (update scale α/r)."),
    lora_dropout: float = typer.Option(0.1, "--lora-dropout", help="Dropout on LoRA's input."),
    target_modules: str | None = typer.Option(
        None, "--target-modules",
        help="Comma-separated module names (default: the attention and MLP projections).",
    ),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N."),
    save_every: int = typer.Option(100, "--save-every", help="Checkpoint every N steps."),
    force: bool = typer.Option(False, "--force", help="Retrain even if the output is up to date."),
) -> None:
    """Fine-tune a text encoder with LoRA on the item texts (LLMEmb's SCFT; resumable)."""
    from specrec.finetune.finetune import finetune

    targets = None
    if target_modules is not None:
        targets = [name.strip() for name in target_modules.split(",") if name.strip()]
    meta = finetune(
        dataset=dataset, out=out_dir, model=model, encoder=encoder, steps=steps,
        batch_size=batch_size, lr=lr, seed=seed, max_length=max_length, append_eos=append_eos,
        drop_ratio=drop_ratio, lora_r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
        target_modules=targets, device=device, save_every=save_every, force=force,
    )  # fmt: skip
    stats = meta.stats
    table = Table(title=f"finetune -> {out_dir}")
    for column in ("steps", "loss (first 5)", "loss (last 5)", "τ", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(
        str(stats.get("steps")), f"{stats.get('loss_first', float('nan')):.4f}",
        f"{stats.get('loss_last', float('nan')):.4f}", f"{stats.get('tau', float('nan')):.4f}",
        str(stats.get("seconds")),
    )  # fmt: skip
    out.print(table)
