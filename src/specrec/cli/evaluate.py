"""`specrec evaluate`: thin CLI wrapper around `specrec.evaluate.evaluate.evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from specrec.cli.app import app
from specrec.cli.options import metrics_table
from specrec.console import out


@app.command("evaluate")
def evaluate_cli(
    run: Path = typer.Argument(..., help="Run artifact (from `specrec train`)."),
    out_dir: Path = typer.Option(..., "--out", help="Metrics artifact directory to write."),
    split: str = typer.Option("test", help="valid | test."),
    k: Optional[list[int]] = typer.Option(None, "--k", help="Cut-offs (repeatable; default 10 20)."),
    mask_history: bool = typer.Option(False, help="Remove the user's earlier items from candidates."),
    batch_size: int = typer.Option(1024, help="Users scored per batch."),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N]."),
    precision: Optional[str] = typer.Option(
        None, help="auto | fp32 | bf16: autocast of the model's forward (scores stay float32); "
        "default: the run's own."),
    protocol: str = typer.Option(
        "full", help="full (rank among all items) | sampled (among --negatives sampled items, "
        "as LLMEmb / LLM-ESR)."),
    negatives: Optional[int] = typer.Option(
        None, help="Sampled: negatives per target, never an item of the user's sequence "
        "(default 100)."),
    sampler: Optional[str] = typer.Option(
        None, help="Sampled: uniform (default) | popularity (∝ the item's training events)."),
    sample_seed: Optional[int] = typer.Option(
        None, help="Sampled: seed of the negatives (default 0)."),
    groups: bool = typer.Option(
        False, help="Also metrics per target-item popularity (tail/head) and user history "
        "length (short/long)."),
    head_item_min: Optional[int] = typer.Option(
        None, help="Groups: an item is head when its count >= this, else tail (LLMEmb ts_item; "
        "default 4, LLMEmb's Beauty; Yelp 13, Fashion 4)."),
    long_user_min: Optional[int] = typer.Option(
        None, help="Groups: a user is long when >= this many events precede the target, else "
        "short (LLMEmb ts_user; default 9, LLMEmb's Beauty; Yelp 12, Fashion 3)."),
    item_counts: Optional[str] = typer.Option(
        None, help="Groups: train (default: the item's training events) | sequences (users "
        "whose sequence holds it, any split, as LLMEmb counts)."),
    force: bool = typer.Option(False, help="Re-evaluate even if up to date."),
) -> None:
    """Rank each target among all items or sampled negatives (pessimistic ties) -> metrics.json +
    ranks.parquet."""
    from specrec.evaluate.evaluate import evaluate
    from specrec.evaluate.sampling import Ranking

    meta = evaluate(run=run, out=out_dir, split=split, ks=k, mask_history=mask_history,
                    batch_size=batch_size, device=device,
                    precision=precision, protocol=protocol, negatives=negatives,
                    sampler=sampler, sample_seed=sample_seed, groups=groups,
                    head_item_min=head_item_min, long_user_min=long_user_min,
                    item_counts=item_counts, force=force)
    ranking = Ranking.from_record(meta.stats.get("ranking")).label()
    suffix = (" (history masked)" if mask_history else "") + (f" ({ranking})" if ranking else "")
    out.print(metrics_table(f"{split} metrics of {run}{suffix}", meta.stats["metrics"]))
    for dimension in ("item", "user"):
        for name, group in (meta.stats.get("groups") or {}).get(dimension, {}).items():
            if group["metrics"]:
                title = (f"{split} metrics of {run}{suffix}, {name} {dimension}s "
                         f"({group['rule']}, {group['n_users']} users)")
                out.print(metrics_table(title, group["metrics"]))
