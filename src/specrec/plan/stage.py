"""`specrec plan`: an experiment file -> DIR/Makefile; with `select`, stage two's DIR/final.mk."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from specrec import __version__
from specrec.artifacts import artifact_kind, sha256_of
from specrec.errors import SpecrecError
from specrec.plan.graph import Graph, build_graph
from specrec.plan.makefile import (
    FINAL, MAKEFILE, PLAN_FILE, SELECTION_FILE, render_final, render_makefile,
)
from specrec.plan.sections import load_experiment
from specrec.plan.spec import Experiment

PLAN_SCHEMA = 1


def default_specrec() -> str:
    """The specrec command of this interpreter: its console script, else `python -m specrec`."""
    script = Path(sys.executable).absolute().parent / "specrec"
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    return shlex.join([str(Path(sys.executable).absolute()), "-m", "specrec"])


def plan(experiment: Path, out: Path, *, specrec: str | None = None,
         overrides: Sequence[str] = ()) -> Path:
    """Check `experiment` and write `out/Makefile` (and `out/plan.json`); returns the Makefile.

    Nothing is written when the experiment has any error, or when `out` is a non-empty folder
    that is not a plan of the same experiment (by name). Files are rewritten only when their
    text changes, so replanning an unchanged experiment leaves make nothing to do. `overrides`
    (`--set KEY=VALUE`) are applied before the checks and recorded in plan.json, where
    `select` finds them again.
    """
    exp = load_experiment(Path(experiment), overrides)
    graph = build_graph(exp)
    out = Path(out)
    check_plan_dir(out, exp, graph)
    makefile = render_makefile(exp, graph, specrec or default_specrec())
    record = json.dumps(plan_record(exp, graph), indent=2) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / PLAN_FILE, record, only_if_changed=True)
    write_text(out / MAKEFILE, makefile, only_if_changed=True)
    return out / MAKEFILE


def select(experiment: Path, out: Path, overrides: Sequence[str] | None = None) -> Path:
    """Stage two of a two-stage plan: write `out/selection.json` and `out/final.mk`.

    The experiment is read with the `--set` overrides plan.json records (`overrides`, when
    given, replaces them: the plan's fingerprint must still match).
    """
    from specrec.plan.select import choose

    out = Path(out)
    record = read_plan_record(out)
    if overrides is None:
        overrides = recorded_overrides(record)
    exp = load_experiment(Path(experiment), overrides)
    if not exp.two_stage:
        raise exp.where("experiment").error(
            "two_stage", "--select is stage two of two_stage = true; this experiment trains "
                         "every configuration on every seed")
    graph = build_graph(exp)
    if record is None:
        raise SpecrecError(f"'{out}' holds no plan ({PLAN_FILE}); run `specrec plan "
                           f"{experiment} --out {out}` first")
    if record.get("fingerprint") != plan_fingerprint(exp, graph):
        sets = "".join(f" --set {shlex.quote(o)}" for o in exp.overrides)
        raise SpecrecError(f"{experiment} has changed since '{out / MAKEFILE}' was written; "
                           f"rerun `specrec plan {experiment} --out {out}{sets}`")
    selection, final_runs = choose(exp, graph, out)
    write_text(out / SELECTION_FILE, json.dumps(selection, indent=2) + "\n")
    write_text(out / FINAL, render_final(exp, graph, final_runs))
    return out / FINAL


def recorded_overrides(record: dict | None) -> tuple[str, ...]:
    """The `--set` texts a plan.json records (none for a plan written without them)."""
    found = (record or {}).get("overrides", [])
    if not isinstance(found, list) or not all(isinstance(o, str) for o in found):
        raise SpecrecError(f"{PLAN_FILE}: 'overrides' must be a list of KEY=VALUE texts")
    return tuple(found)


def plan_fingerprint(exp: Experiment, graph: Graph) -> str:
    key = {"graph": graph.fingerprint(), "two_stage": exp.two_stage, "seeds": exp.seeds,
           "tune_seeds": exp.tune_seeds, "valid_metric": exp.valid_metric}
    if exp.overrides or exp.budget:  # (absent keys keep plans written before --set valid)
        key.update(overrides=list(exp.overrides), budget=exp.budget)
    return sha256_of(key)


def plan_record(exp: Experiment, graph: Graph) -> dict:
    """plan.json: the experiment, every artifact by kind and the selection groups."""
    digest = hashlib.sha256(exp.file.read_bytes()).hexdigest()
    kinds = ("dataset", "embeddings", "table", "sweep", "run", "evaluation")
    return {
        "schema": PLAN_SCHEMA,
        "specrec_version": __version__,
        "experiment": {"name": exp.name, "file": str(exp.file.resolve()),
                       "sha256": f"sha256:{digest}"},
        "fingerprint": plan_fingerprint(exp, graph),
        "overrides": list(exp.overrides),
        "budget": exp.budget,
        "two_stage": exp.two_stage,
        "seeds": list(exp.seeds),
        "tune_seeds": list(exp.tune_seeds),
        "valid_metric": exp.valid_metric,
        "ks": list(exp.ks),
        "artifacts": {kind: [n.path for n in graph.of_kind(kind)] for kind in kinds},
        "groups": [
            {"dataset": g.dataset, "encoder": g.encoder, "backbone": g.backbone,
             "method": g.method,
             "configurations": [{"index": c.config.index, "label": c.config.label,
                                 "varied": c.config.varied,
                                 "runs": {str(s): r for s, r in c.runs.items()}}
                                for c in g.candidates]}
            for g in graph.groups
        ],
    }


def read_plan_record(out: Path) -> dict | None:
    """`out/plan.json` when `out` holds a plan, else None."""
    try:
        record = json.loads((Path(out) / PLAN_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("schema") == PLAN_SCHEMA else None


def check_plan_dir(out: Path, exp: Experiment, graph: Graph) -> None:
    """Refuse an `out` whose writing could destroy anything that is not this experiment's plan."""
    resolved = out.resolve()
    for folder in (resolved, *resolved.parents):
        if (kind := artifact_kind(folder)) is not None:
            relation = "is" if folder == resolved else "lies inside"
            raise SpecrecError(f"--out '{out}' {relation} the {kind} artifact '{folder}'; a plan "
                               "folder holds artifacts, choose a folder outside any artifact")
    for node in graph.nodes.values():
        path = Path(node.path)
        if path.is_absolute() and (resolved == path or path in resolved.parents):
            raise SpecrecError(f"--out '{out}' lies inside the input '{path}'; choose another "
                               "folder")
    if not resolved.exists():
        return
    if not resolved.is_dir():
        raise SpecrecError(f"--out '{out}' is a file; choose a folder for the plan")
    if not any(resolved.iterdir()):
        return
    record = read_plan_record(resolved)
    name = (record or {}).get("experiment", {}).get("name")
    if name != exp.name:
        what = f"a plan of the experiment '{name}'" if record else "not a plan"
        raise SpecrecError(f"--out '{out}' is a non-empty folder and {what}; specrec never "
                           f"replaces other files, choose an empty or new folder for "
                           f"'{exp.name}'")


def write_text(path: Path, text: str, *, only_if_changed: bool = False) -> None:
    """Write atomically (a temporary sibling renamed over `path`)."""
    if only_if_changed and path.is_file() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)
