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
    force: bool = typer.Option(False, help="Re-evaluate even if up to date."),
) -> None:
    """Full-sort ranking over all items (pessimistic ties) -> metrics.json + ranks.parquet."""
    from specrec.evaluate.evaluate import evaluate

    meta = evaluate(run=run, out=out_dir, split=split, ks=k, mask_history=mask_history,
                    batch_size=batch_size, device=device, force=force)
    suffix = " (history masked)" if mask_history else ""
    out.print(metrics_table(f"{split} metrics of {run}{suffix}", meta.stats["metrics"]))
