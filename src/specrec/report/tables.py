"""Report tables: evaluations grouped per setting, mean ± std over seeds, tests vs a baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from specrec.errors import SpecrecError
from specrec.evaluate.sampling import Ranking
from specrec.evaluate.store import Evaluation
from specrec.report.inputs import Transform
from specrec.report.settings import (
    distinguishing_parts,
    group_by_setting,
    join_label,
    setting_labels,
    transform_fields,
    unique_labels,
)
from specrec.report.stats import (
    RANK_METRICS,
    Summary,
    mean_over_seeds,
    paired_test,
    per_user_metric,
    relative_change,
    summarize,
)
from specrec.runs.config import TrainConfig
from specrec.runs.store import RunArtifact

RESULT_INFO = ("label", "seeds", "n")
P_WILCOXON, P_TTEST = "p (Wilcoxon)", "p (t-test)"


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

    kind: str  # "results" | "selected" | "validation" | "diagnostics"
    heading: str
    context: dict[str, str]
    info_columns: list[str]
    columns: list[str]
    rows: list[Row]
    extras: list[str] = field(default_factory=list)
    note: str = ""
    bold: bool = True
    stars: dict[str, set[int]] = field(default_factory=dict)  # column -> starred row indices
    ranking: str = ""  # what every metric header adds, e.g. `sampled-100, uniform` ("": full)


def _dataset_name(record: dict) -> str:
    return Path(str(record["dataset"])).name if record.get("dataset") else "unknown dataset"


def section_key(evaluation: Evaluation) -> tuple:
    """What makes numbers comparable: (dataset, items, split, protocol, tie rule, history mask,
    ranking label: "" for the full sort, else e.g. `sampled-100, uniform`)."""
    c = evaluation.context
    return (_dataset_name(evaluation.run_record), evaluation.meta.items_fingerprint, c["split"],
            c["protocol"], c["tie_rule"], c["mask_history"],
            Ranking.from_record(c["ranking"]).label())


def section_ranking(key: tuple) -> str:
    """The ranking label of a `section_key` ("" for the full sort)."""
    return key[6]


def validation_ranking(record: dict) -> str:
    """The ranking label of a run's validation (its recorded `valid_*` fields; "" full sort)."""
    return TrainConfig.from_record(record).valid_ranking().label()


def sections(evaluations: list[Evaluation]) -> dict[tuple, list[Evaluation]]:
    """Evaluations by `section_key`, sections and members in order of first appearance."""
    out: dict[tuple, list[Evaluation]] = {}
    for evaluation in evaluations:
        out.setdefault(section_key(evaluation), []).append(evaluation)
    return out


def section_context(key: tuple) -> dict[str, str]:
    """The CSV context columns of a section; `ranking` only where it was sampled."""
    dataset, _, split, protocol, tie_rule, mask, ranking = key
    context = {"dataset": dataset, "split": str(split), "protocol": str(protocol),
               "tie_rule": str(tie_rule), "mask_history": str(mask)}
    return {**context, "ranking": ranking} if ranking else context


def section_heading(key: tuple) -> str:
    """`on the test split · ml-100k · protocol loo · pessimistic ties · history not masked`, and
    `· ranking sampled-100, uniform` where the ranking was sampled."""
    dataset, _, split, protocol, tie_rule, mask, ranking = key
    history = "history masked" if mask else "history not masked"
    sampled = f" · ranking {ranking}" if ranking else ""
    return (f"on the {split} split · {dataset} · protocol {protocol} · {tie_rule} ties · "
            f"{history}{sampled}")


def setting_rows(members: list, record_of, metrics_of) -> list[Row]:
    """One row per setting (the run's record minus its seed): mean ± std over its seeds."""
    groups = group_by_setting(members, record_of)
    labels = setting_labels([record_of(group[0]) for group in groups],
                            [group[0].path.name for group in groups])
    rows = []
    for label, group in zip(labels, groups):
        seeds = [record_of(member).get("seed") for member in group]
        names = {m for member in group for m in metrics_of(member)}
        cells = {m: summarize([metrics_of(x)[m] for x in group if m in metrics_of(x)])
                 for m in names}
        info = {"label": label, "seeds": ", ".join("?" if s is None else str(s) for s in seeds),
                "n": str(len(group))}
        rows.append(Row(info=info, cells=cells, members=group))
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
    tables = []
    for key, members in sections(evaluations).items():
        rows = setting_rows(members, lambda e: e.run_record, lambda e: e.metrics)
        context, heading = section_context(key), "Results " + section_heading(key)
        columns = choose_columns({m for r in rows for m in r.cells}, requested)
        tables.append(Table("results", heading, context, list(RESULT_INFO), columns, rows,
                            ranking=section_ranking(key)))
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
        base = next((row for row in table.rows if row.info["label"] == baseline), None)
        if base is None:
            continue
        found = True
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
    return per_user_of(row.members, metric)


def per_user_of(evaluations: list[Evaluation], metric: str):
    """Per-user values of `metric` (from ranks.parquet) averaged over the evaluations' seeds."""
    per_seed = []
    for evaluation in evaluations:
        users, ranks = evaluation.ranks()
        per_seed.append((users, per_user_metric(ranks, metric)))
    return mean_over_seeds(per_seed)


def covered_runs(runs: list[RunArtifact], evaluations: list[Evaluation]) -> set[int]:
    """Indices of runs that some metrics artifact evaluated (by path or by fingerprint)."""
    paths = {e.run_path.resolve() for e in evaluations}
    fingerprints = {
        ref.get("fingerprint") for e in evaluations for ref in e.meta.inputs.values()
        if isinstance(ref, dict)
    }
    return {i for i, run in enumerate(runs)
            if run.path.resolve() in paths or run.meta.fingerprint in fingerprints}


def validation_tables(runs: list[RunArtifact], *, requested: list[str] | None) -> list[Table]:
    """Best validation metrics of runs that have no metrics artifact (labelled as validation)."""
    sections: dict[tuple, list[RunArtifact]] = {}
    for run in runs:
        key = (_dataset_name(run.record), run.meta.items_fingerprint,
               str(run.record.get("protocol") or "?"), validation_ranking(run.record))
        sections.setdefault(key, []).append(run)
    tables = []
    for (dataset, _, protocol, ranking), members in sections.items():
        rows = setting_rows(members, lambda r: r.record, lambda r: r.best_valid)
        for row in rows:
            row.info["best epoch"] = ", ".join(
                str(r.meta.stats.get("best_epoch", "?")) for r in row.members)
        available = {m for r in rows for m in r.cells}
        columns = [m for m in choose_columns(available, requested) if m in available]
        sampled = f" · ranking {ranking}" if ranking else ""
        heading = (f"Validation: best-epoch metrics on the valid split (not test results) · "
                   f"{dataset} · protocol {protocol}{sampled}")
        context = {"dataset": dataset, "protocol": protocol}
        context.update({"ranking": ranking} if ranking else {})
        tables.append(Table("validation", heading, context, [*RESULT_INFO, "best epoch"], columns,
                            rows, ranking=ranking))
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
    for transform, label in zip(transforms, transform_labels(transforms)):
        info = {"transform": label, "fusion": transform.fusion,
                "artifact": transform.path.name}
        cells = {n: Summary(v, math.nan, 1) for n, v in transform.scalars.items()}
        rows.append(Row(info=info, cells=cells, members=[transform]))
    return Table("diagnostics", "Transform diagnostics (before = input embeddings, after = table)",
                 {}, ["transform", "fusion", "artifact"], columns, rows, bold=False)


def transform_parts(transforms: list[Transform]) -> list[list[str]]:
    """Per transform, the `name=value` parts that tell it from the other tables of its method."""
    candidates = [transform_fields(t.method, t.params, t.encoder, t.meta.inputs)
                  for t in transforms]
    return distinguishing_parts([t.method for t in transforms], candidates)


def transform_labels(transforms: list[Transform]) -> list[str]:
    """`pca`, or `ace λ=10` beside `ace λ=100`: the method, then what tells its tables apart."""
    parts = transform_parts(transforms)
    labels = [join_label(t.method, p) for t, p in zip(transforms, parts)]
    return unique_labels(labels, [t.path.name for t in transforms])
