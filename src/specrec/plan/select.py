"""Stage two's choice: per group, the best mean validation score over the tuning seeds wins."""

from __future__ import annotations

from pathlib import Path

from specrec.errors import SpecrecError
from specrec.plan.graph import Graph, Group, evaluation_path
from specrec.plan.spec import Experiment
from specrec.runs.store import read_run
from specrec.selection import best_config, mean_score

RULE = ("argmax over configurations of the mean validation score over the tuning seeds; a tie "
        "goes to the configuration listed first (specrec.selection.best_config)")


def valid_score(path: Path, metric: str) -> float:
    """The best epoch's validation `metric` of the run at `path`."""
    try:
        best = read_run(path).best_valid
    except SpecrecError as exc:
        raise SpecrecError(f"selection needs the tuning run '{path}' ({exc}); run "
                           "`make tune` first") from None
    if metric not in best:
        raise SpecrecError(f"tuning run '{path}' has no validation {metric} (it has "
                           f"{', '.join(best) or 'none'}); retrain it with --force")
    return best[metric]


def choose_group(exp: Experiment, group: Group, out: Path) -> dict:
    """One group's scores, choice and final runs (paths relative to the plan folder)."""
    scores: dict[int, list[float]] = {}
    candidates = []
    for position, candidate in enumerate(group.candidates):
        runs = [candidate.runs[seed] for seed in exp.tune_seeds]
        values = [valid_score(out / run, exp.valid_metric) for run in runs]
        scores[position] = values
        config = candidate.config
        candidates.append({"index": config.index, "label": config.label, "varied": config.varied,
                           "options": {"transform": config.transform, "train": config.train,
                                       "embedder": config.embedder},
                           "tuning_runs": runs, "valid": values, "mean_valid": mean_score(values)})
    chosen = best_config(scores)
    final_runs = [group.candidates[chosen].runs[seed] for seed in exp.seeds]
    return {
        "dataset": group.dataset, "encoder": group.encoder, "backbone": group.backbone,
        "method": group.method, "configurations": len(candidates),
        "chosen": {key: candidates[chosen][key]
                   for key in ("index", "label", "varied", "mean_valid")},
        "candidates": candidates,
        "final_runs": final_runs,
        "final_evaluations": [evaluation_path(exp, run) for run in final_runs],
    }


def choose(exp: Experiment, graph: Graph, out: Path) -> tuple[dict, list[str]]:
    """The selection record (selection.json) and every final run, in group order."""
    groups = [choose_group(exp, group, Path(out)) for group in graph.groups]
    record = {
        "experiment": exp.name,
        "valid_metric": exp.valid_metric,
        "tune_seeds": list(exp.tune_seeds),
        "seeds": list(exp.seeds),
        "rule": RULE,
        "groups": groups,
    }
    return record, [run for group in groups for run in group["final_runs"]]
