"""`specrec plan`: thin CLI wrapper around `specrec.plan.plan` and `specrec.plan.select`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from specrec.cli.app import app
from specrec.console import out


@app.command("plan")
def plan_cli(
    experiment: Path = typer.Argument(..., help="Experiment file (TOML; docs/experiments.md)."),
    out_dir: Path = typer.Option(..., "--out", help="Plan folder: its Makefile and artifacts."),
    select: bool = typer.Option(
        False, "--select",
        help="Two-stage mode, stage two: choose each group's configuration from the tuning runs "
        "and write final.mk (the Makefile runs this itself)."),
    specrec: Optional[str] = typer.Option(
        None, "--specrec", help="Command the Makefile runs as $(SPECREC) (default: this specrec)."),
    sets: Optional[list[str]] = typer.Option(
        None, "--set", metavar="KEY=VALUE",
        help="Change one key of the experiment before it is checked (repeatable): a dotted TOML "
        "key and a TOML value, e.g. --set experiment.seeds=[0,1] --set "
        "datasets.main.source=amazon2014 (a bare word is a string). Recorded in plan.json; "
        "--select reapplies them."),
) -> None:
    """Write DIR/Makefile: one rule per artifact; run it with `make -C DIR -j N`."""
    from specrec.plan import plan, select as select_stage

    if select:
        path = select_stage(experiment, out_dir, list(sets) if sets else None)
        record = json.loads((path.parent / "selection.json").read_text())
        for group in record["groups"]:
            chosen = group["chosen"]
            encoder = f" · {group['encoder']}" if group["encoder"] else ""
            out.print(f"{group['dataset']}{encoder} · {group['backbone']} · {group['method']}: "
                      f"{chosen['label']} (valid {record['valid_metric']} "
                      f"{chosen['mean_valid']:.4f}, best of {group['configurations']})")
        out.print(f"wrote {path} and {path.parent / 'selection.json'}")
        return
    path = plan(experiment, out_dir, specrec=specrec, overrides=list(sets or []))
    record = json.loads((path.parent / "plan.json").read_text())
    counts = {kind: len(paths) for kind, paths in record["artifacts"].items()}
    seeds = record["tune_seeds"] if record["two_stage"] else record["seeds"]
    runs = sum(1 for g in record["groups"] for c in g["configurations"] for s in c["runs"]
               if int(s) in seeds)
    stage = ""
    if record["two_stage"]:
        final = sum(1 for g in record["groups"] for s in record["seeds"] if s not in seeds)
        stage = f" (stage one), then up to {final} run(s) of the choices on the other seeds"
    out.print(f"wrote {path}: {counts['dataset']} dataset(s), {counts['embeddings']} "
              f"embedding(s), {counts['table'] + counts['sweep']} transform command(s), "
              f"{runs} run(s){stage}, {len(record['groups'])} selection group(s)"
              + (" (budget settings)" if record.get("budget") else ""))
    out.print(f"run it: make -C {path.parent} -j N")
