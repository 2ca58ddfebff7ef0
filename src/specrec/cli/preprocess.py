"""`specrec preprocess`: thin CLI wrapper around `specrec.data.preprocess.preprocess`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from specrec.cli.app import app
from specrec.console import out
from specrec.errors import SpecrecError


def parse_columns(pairs: list[str] | None) -> dict[str, str] | None:
    """`["user=uid", "item=iid"]` -> `{"user": "uid", "item": "iid"}`."""
    if not pairs:
        return None
    columns: dict[str, str] = {}
    for pair in pairs:
        role, sep, name = pair.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise SpecrecError(f"--column wants ROLE=NAME (e.g. --column user=uid), got '{pair}'")
        columns[role.strip()] = name.strip()
    return columns


def stats_table(title: str, stats: dict) -> Table:
    table = Table(title=title)
    table.add_column("stat")
    table.add_column("value", justify="right")
    for key, value in stats.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                table.add_row(f"{key}.{inner}", f"{inner_value:,}")
        elif isinstance(value, list):
            table.add_row(key, ", ".join(f"{v:,}" for v in value) or "-")
        elif isinstance(value, int):
            table.add_row(key, f"{value:,}")
        else:
            table.add_row(key, str(value))
    return table


@app.command("preprocess")
def preprocess_cli(
    source: Annotated[
        str,
        typer.Argument(
            help="ml-100k (bundled), movielens, recbole, amazon2014, "
            "amazon2023, yelp, csv, parquet."
        ),
    ],
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Raw files or folder.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Dataset artifact folder.")] = ...,
    min_user: Annotated[int, typer.Option(help="Count filter: events per user (0 = off).")] = 5,
    min_item: Annotated[int, typer.Option(help="Count filter: events per item (0 = off).")] = 5,
    filtering: Annotated[
        str,
        typer.Option(
            "--filter",
            help="k-core (iterative) or one-pass (alias llmemb: one count pass, then users "
            "with < --min-user-after events dropped).",
        ),
    ] = "k-core",
    min_user_after: Annotated[
        Optional[int], typer.Option(help="one-pass: events a user keeps afterwards (default 3).")
    ] = None,
    drop_items_without_text: Annotated[
        bool,
        typer.Option(
            "--drop-items-without-text",
            help="Before the count filter, drop the events of items whose text has no field.",
        ),
    ] = False,
    rating_threshold: Annotated[Optional[float], typer.Option(help="Keep rating >= this.")] = None,
    text_template: Annotated[
        Optional[str],
        typer.Option(
            help="Item text, e.g. '{title}[. Brand: {brand}]'; [...] is dropped when empty. "
            "'llmemb': LLMEmb's attribute prompt over every metadata field."
        ),
    ] = None,
    prompt_noun: Annotated[
        Optional[str],
        typer.Option(help="llmemb prompt: 'The <noun> has the following attributes' "
                     "(default per source)."),
    ] = None,
    protocol: Annotated[str, typer.Option(help="loo, user-split or temporal.")] = "loo",
    column: Annotated[
        Optional[list[str]],
        typer.Option(
            "--column",
            help="ROLE=NAME for csv/parquet/recbole (user, item, time, rating, item_key).",
        ),
    ] = None,
    valid_cutoff: Annotated[
        Optional[float], typer.Option(help="temporal: quantile in [0, 1] or seconds (default 0.8).")
    ] = None,
    test_cutoff: Annotated[
        Optional[float], typer.Option(help="temporal: quantile in [0, 1] or seconds (default 0.9).")
    ] = None,
    user_order: Annotated[
        Optional[str],
        typer.Option(help="user-split: time (by last event, oldest in train; default) | random."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the user-split shuffle (--user-order random).")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Redo even if up to date.")] = False,
) -> None:
    """Read a raw dataset, filter it, re-index it and write a dataset artifact with its splits."""
    from specrec.data.preprocess import preprocess

    meta = preprocess(
        source=source,
        paths=list(paths or []),
        out=out_dir,
        min_user=min_user,
        min_item=min_item,
        rating_threshold=rating_threshold,
        text_template=text_template,
        protocol=protocol,
        columns=parse_columns(column),
        seed=seed,
        valid_cutoff=valid_cutoff,
        test_cutoff=test_cutoff,
        filtering=filtering,
        min_user_after=min_user_after,
        drop_items_without_text=drop_items_without_text,
        prompt_noun=prompt_noun,
        user_order=user_order,
        force=force,
    )
    out.print(
        stats_table(
            f"dataset {out_dir} ({meta.config['source']}, {meta.config['protocol']})", meta.stats
        )
    )
