"""Report tables: evaluations grouped per setting, mean ± std over seeds, tests vs a baseline."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from specrec.console import log
from specrec.errors import SpecrecError
from specrec.report.inputs import Evaluation, Run, Transform
from specrec.report.stats import (
    RANK_METRICS,
    Summary,
    mean_over_seeds,
    paired_test,
    per_user_metric,
    relative_change,
    summarize,
)

RESULT_INFO = ("label", "backbone", "method", "params", "loss", "seeds", "n")
P_WILCOXON, P_TTEST = "p (Wilcoxon)", "p (t-test)"
SETTING_FIELDS = ("label", "backbone", "loss", "method", "fusion", "params", "samples", "dataset",
                  "protocol")
"""Run fields that define a setting: rows that agree on all of them differ only in the seed."""
GREEK = {"lambda": "λ", "gamma": "γ", "alpha": "α", "beta": "β", "tau": "τ"}


@dataclass
class Row:
    """One table row: descriptive columns, metric cells and extra numeric columns."""

    info: dict[str, str]
    cells: dict[str, Summary]
    extras: dict[str, float] = field(default_factory=dict)
    members: list = field(default_factory=list)  # the artifacts aggregated into this row


@dataclass
class Table:
    """A titled table of rows that share one evaluation setting (so numbers are comparable)."""

    kind: str  # "results" | "validation" | "diagnostics"
    heading: str
    context: dict[str, str]
    info_columns: list[str]
    columns: list[str]
    rows: list[Row]
    extras: list[str] = field(default_factory=list)
    note: str = ""
    bold: bool = True


def params_summary(params: dict | None) -> str:
    """`{"lambda": 50, "gamma": 0.5}` -> `"λ=50, γ=0.5"` (None values left out)."""
    parts = []
    for key, value in sorted((params or {}).items()):
        if value is None:
            continue
        text = f"{value:g}" if isinstance(value, float) else json.dumps(value).strip('"')
        parts.append(f"{GREEK.get(key, key)}={text}")
    return ", ".join(parts)


def run_label(run: dict, fallback: str) -> str:
    """The run's own label, else backbone · method params, else the artifact's name."""
    if run.get("label"):
        return str(run["label"])
    method = " ".join(x for x in (run.get("method"), params_summary(run.get("params"))) if x)
    return " · ".join(x for x in (run.get("backbone"), method) if x) or fallback


def _dataset_name(run: dict) -> str:
    return Path(str(run["dataset"])).name if run.get("dataset") else "unknown dataset"


def _describe(run: dict, fallback: str) -> dict[str, str]:
    return {
        "label": run_label(run, fallback),
        "backbone": str(run.get("backbone") or ""),
        "method": str(run.get("method") or "none"),
        "params": params_summary(run.get("params")),
        "loss": str(run.get("loss") or ""),
    }


def _group_rows(records: list, describe, metrics_of) -> list[Row]:
    """Rows that differ only in seed become one row; the same seed twice is an error."""
    groups: dict[str, Row] = {}
    seeds: dict[str, list] = {}
    for record in records:
        run = record.run
        key = json.dumps({k: run.get(k) for k in SETTING_FIELDS}, sort_keys=True, default=str)
        seed = run.get("seed")
        if key in groups and seed is not None and seed in seeds[key]:
            first = groups[key].members[seeds[key].index(seed)]
            raise SpecrecError(
                f"'{first.path}' and '{record.path}' are the same run (label and seed {seed}); "
                "pass each evaluation once"
            )
        groups.setdefault(key, Row(info=describe(record), cells={}))
        groups[key].members.append(record)
        seeds.setdefault(key, []).append(seed)
    rows = list(groups.values())
    for row, seed_list in zip(rows, seeds.values()):
        row.info["seeds"] = ", ".join("?" if s is None else str(s) for s in seed_list)
        row.info["n"] = str(len(row.members))
        names = {m for member in row.members for m in metrics_of(member)}
        row.cells = {
            m: summarize([metrics_of(x)[m] for x in row.members if m in metrics_of(x)])
            for m in names
        }
    labels = [row.info["label"] for row in rows]
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        log(f"[yellow]label '{label}' names runs that differ in more than the seed; "
            "they stay separate rows[/yellow]")
    return rows


def choose_columns(available: set[str], requested: list[str] | None) -> list[str]:
    """Requested metrics in order, else Recall and NDCG per K (ACE's layout), then MRR per K."""
    if requested:
        return list(requested)
    ks = sorted({int(m.split("@")[1]) for m in available
                 if "@" in m and m.split("@")[1].isdigit()})
    columns = [f"{n}@{k}" for k in ks for n in ("recall", "ndcg") if f"{n}@{k}" in available]
    columns += [f"mrr@{k}" for k in ks if f"mrr@{k}" in available]
    return columns or sorted(available)


def result_tables(
    evaluations: list[Evaluation],
    *,
    requested: list[str] | None,
    primary: str,
    baseline: str | None,
) -> list[Table]:
    """One table per (dataset, split, protocol, tie rule, history mask); tests vs the baseline."""
    sections: dict[tuple, list[Evaluation]] = {}
    for ev in evaluations:
        c = ev.context
        key = (_dataset_name(ev.run), ev.meta.items_fingerprint, c["split"], c["protocol"],
               c["tie_rule"], c["mask_history"])
        sections.setdefault(key, []).append(ev)
    tables = []
    for (dataset, _, split, protocol, tie_rule, mask), members in sections.items():
        rows = _group_rows(members, lambda e: _describe(e.run, e.path.name), lambda e: e.metrics)
        context = {"dataset": dataset, "split": str(split), "protocol": str(protocol),
                   "tie_rule": str(tie_rule), "mask_history": str(mask)}
        history = "history masked" if mask else "history not masked"
        heading = (f"Results on the {split} split · {dataset} · protocol {protocol} · "
                   f"{tie_rule} ties · {history}")
        columns = choose_columns({m for r in rows for m in r.cells}, requested)
        tables.append(Table("results", heading, context, list(RESULT_INFO), columns, rows))
    if baseline is not None:
        _add_paired_tests(tables, baseline, primary)
    return tables


def _add_paired_tests(tables: list[Table], baseline: str, primary: str) -> None:
    """Δ% of the primary metric and paired p-values on per-user values, per table."""
    if primary.split("@")[0] not in RANK_METRICS:
        raise SpecrecError(
            f"paired tests need a metric computable from ranks ({', '.join(RANK_METRICS)}); "
            f"put one first in --metric instead of '{primary}'"
        )
    found = False
    for table in tables:
        bases = [row for row in table.rows if row.info["label"] == baseline]
        if len(bases) > 1:
            raise SpecrecError(f"baseline '{baseline}' names {len(bases)} different settings in "
                               f"'{table.heading}'; give those runs distinct labels")
        if not bases:
            continue
        found = True
        base = bases[0]
        base_users = _per_user(base, primary)
        table.extras = [f"Δ% {primary}", P_WILCOXON, P_TTEST]
        table.note = (f"Δ% and paired two-sided tests against '{baseline}' on per-user {primary} "
                      "(averaged over seeds, users evaluated by both)")
        for row in table.rows:
            if row is base:
                continue
            test = paired_test(_per_user(row, primary), base_users)
            change = math.nan
            if primary in row.cells and primary in base.cells:
                change = relative_change(row.cells[primary].mean, base.cells[primary].mean)
            row.extras = {table.extras[0]: change, P_WILCOXON: test.p_wilcoxon,
                          P_TTEST: test.p_ttest}
    if not found:
        labels = sorted({row.info["label"] for t in tables for row in t.rows})
        raise SpecrecError(
            f"baseline '{baseline}' is not the label of any evaluation; choose one of: "
            + "; ".join(f"'{x}'" for x in labels)
        )


def _per_user(row: Row, metric: str):
    per_seed = []
    for evaluation in row.members:
        users, ranks = evaluation.ranks()
        per_seed.append((users, per_user_metric(ranks, metric)))
    return mean_over_seeds(per_seed)


def covered_runs(runs: list[Run], evaluations: list[Evaluation]) -> set[int]:
    """Indices of runs that some metrics artifact evaluated (by path or by fingerprint)."""
    paths = {Path(str(e.run["path"])).resolve() for e in evaluations if e.run.get("path")}
    fingerprints = {
        ref.get("fingerprint") for e in evaluations for ref in e.meta.inputs.values()
        if isinstance(ref, dict)
    }
    return {i for i, run in enumerate(runs)
            if run.path.resolve() in paths or run.meta.fingerprint in fingerprints}


def validation_tables(runs: list[Run], *, requested: list[str] | None) -> list[Table]:
    """Best validation metrics of runs that have no metrics artifact (labelled as validation)."""
    sections: dict[tuple, list[Run]] = {}
    for run in runs:
        key = (_dataset_name(run.run), str(run.run.get("protocol") or "?"))
        sections.setdefault(key, []).append(run)
    tables = []
    for (dataset, protocol), members in sections.items():
        rows = _group_rows(members, lambda r: _describe(r.run, r.path.name),
                           lambda r: r.best_valid)
        for row in rows:
            row.info["best epoch"] = ", ".join(
                str(r.meta.stats.get("best_epoch", "?")) for r in row.members)
        available = {m for r in rows for m in r.cells}
        columns = [m for m in choose_columns(available, requested) if m in available]
        heading = (f"Validation: best-epoch metrics on the valid split (not test results) · "
                   f"{dataset} · protocol {protocol}")
        tables.append(Table("validation", heading, {"dataset": dataset, "protocol": protocol},
                            [*RESULT_INFO, "best epoch"], columns, rows))
    return tables


def diagnostics_table(transforms: list[Transform]) -> Table | None:
    """Scalar diagnostics of each transform: every `<name>_before` / `<name>_after` pair first."""
    if not transforms:
        return None
    names: list[str] = []
    for transform in transforms:
        names += [n for n in transform.scalars if n not in names]
    stems = [n[: -len("_before")] for n in names
             if n.endswith("_before") and n[: -len("_before")] + "_after" in names]
    paired = {f"{s}_{side}" for s in stems for side in ("before", "after")}
    columns = [f"{s}_{side}" for s in stems for side in ("before", "after")]
    columns += [n for n in names if n not in paired]
    rows = []
    for transform in transforms:
        info = {"transform": transform_label(transform), "fusion": transform.fusion,
                "artifact": transform.path.name}
        cells = {n: Summary(v, math.nan, 1) for n, v in transform.scalars.items()}
        rows.append(Row(info=info, cells=cells, members=[transform]))
    return Table("diagnostics", "Transform diagnostics (before = input embeddings, after = table)",
                 {}, ["transform", "fusion", "artifact"], columns, rows, bold=False)


def transform_label(transform: Transform) -> str:
    """`ace λ=50, γ=0.5`: method and parameters."""
    return " ".join(x for x in (transform.method, params_summary(transform.params)) if x)
