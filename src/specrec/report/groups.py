"""The long-tail groups table: per setting, the metrics of tail / head target items and of short /
long user histories that `evaluate --groups` recorded (metrics.json `groups`)."""

from __future__ import annotations

from specrec.evaluate.store import Evaluation
from specrec.report.tables import (
    RESULT_INFO,
    Table,
    choose_columns,
    section_context,
    section_heading,
    section_key,
    section_ranking,
    setting_rows,
)

GROUPS = (("item", "tail"), ("item", "head"), ("user", "short"), ("user", "long"))
USERS = "users"  # the info column with every group's size


def group_metrics(evaluation: Evaluation) -> dict[str, float]:
    """`{"tail ndcg@10": ..., "head ndcg@10": ..., "short ...", "long ..."}` of one evaluation."""
    groups = evaluation.groups or {}
    return {f"{name} {metric}": value for dimension, name in GROUPS
            for metric, value in groups[dimension][name]["metrics"].items()}


def _thresholds(evaluation: Evaluation) -> tuple:
    recorded = evaluation.groups["thresholds"]
    return tuple(recorded.get(k) for k in ("item_counts", "head_item_min", "long_user_min"))


def _rules(evaluation: Evaluation) -> str:
    """`tail: train count < 4, head: train count >= 4; short: history < 9 items, ...`."""
    groups = evaluation.groups
    return "; ".join(", ".join(f"{name}: {groups[dimension][name]['rule']}"
                               for d, name in GROUPS if d == dimension)
                     for dimension in ("item", "user"))


def _sizes(evaluation: Evaluation) -> str:
    groups = evaluation.groups
    return ", ".join(f"{name} {groups[dimension][name]['n_users']}" for dimension, name in GROUPS)


def group_tables(evaluations: list[Evaluation], *, requested: list[str] | None) -> list[Table]:
    """One table per section and thresholds, of the evaluations with groups: a row per setting
    (mean ± std over seeds) with, per group, the requested metrics (default Recall and NDCG at
    the smallest K: LLMEmb's HR@10 and NDCG@10)."""
    sections: dict[tuple, list[Evaluation]] = {}
    for evaluation in evaluations:
        if evaluation.groups:
            key = (*section_key(evaluation), _thresholds(evaluation))
            sections.setdefault(key, []).append(evaluation)
    tables = []
    for key, members in sections.items():
        section, (counts, head, long) = key[:-1], key[-1]
        rows = setting_rows(members, lambda e: e.run_record, group_metrics)
        for row in rows:
            row.info[USERS] = _sizes(row.members[0])
        whole = {m for e in members for m in e.metrics}
        base = list(requested) if requested else choose_columns(whole, None)[:2]
        columns = [f"{name} {m}" for _, name in GROUPS for m in base]
        context = {**section_context(section), "item_counts": str(counts),
                   "head_item_min": str(head), "long_user_min": str(long)}
        table = Table("groups", "Long-tail groups " + section_heading(section), context,
                      [*RESULT_INFO, USERS], columns, rows, ranking=section_ranking(section))
        table.note = (f"Groups of the target (LLMEmb / LLM-ESR): {_rules(members[0])}; "
                      f"history = the user's events before the target; {USERS}: targets per "
                      "group. Cells: the group's mean over its users, mean ± std over seeds.")
        tables.append(table)
    return tables
