"""`specrec report`: thin CLI wrapper."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from specrec.cli.app import app


@app.command("report")
def report_cli(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="RUNS_OR_EVALS",
            help="Metrics, run or transform artifact directories, in the order to show them.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Report directory to write.")],
    baseline: Annotated[
        Optional[str],
        typer.Option(help="Label of the baseline row: adds Δ% and paired p-values per row."),
    ] = None,
    metric: Annotated[
        Optional[list[str]],
        typer.Option(
            "--metric", "-m",
            help="Metric column, repeatable (default: recall/ndcg/mrr at every K). The first "
            "one drives Δ%, the paired tests and the training curves (default ndcg@10).",
        ),
    ] = None,
    title: Annotated[Optional[str], typer.Option(help="Title of results.md and the plots.")] = None,
    select: Annotated[
        bool,
        typer.Option(
            "--select",
            help="Per backbone × method × dataset × encoder, select the configuration with the "
            "best mean validation metric over its seeds; show its test metrics, one-tailed "
            "t-test stars and the papers' Table 1, Table 2, Figure 3 and Figure 4.",
        ),
    ] = False,
    valid_metric: Annotated[
        Optional[str],
        typer.Option(
            "--valid-metric",
            help="Validation metric --select selects on (default: the runs' own valid_metric).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if up to date.")] = False,
) -> None:
    """Tables (results.md, results.csv) and plots from evaluations, runs and transforms."""
    from specrec.report import report

    report(inputs=inputs, out=out, baseline=baseline, metrics=metric or None, title=title,
           select=select, valid_metric=valid_metric, force=force)
