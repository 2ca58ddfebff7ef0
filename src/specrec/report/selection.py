"""Per method × backbone × dataset × encoder, the configuration chosen on validation (not test)."""

from __future__ import annotations

from dataclasses import dataclass, field

from specrec.errors import SpecrecError
from specrec.evaluate.sampling import labelled
from specrec.evaluate.store import Evaluation
from specrec.report.settings import (
    ID_ONLY,
    distinguishing_parts,
    group_by_setting,
    join_label,
    run_base_label,
    run_fields,
    varying_parts,
)
from specrec.report.stats import (
    ONE_TAILED_TEST,
    RANK_METRICS,
    Summary,
    UserValues,
    beats_all,
    summarize,
)
from specrec.report.tables import (
    Row,
    Table,
    choose_columns,
    per_user_of,
    section_context,
    section_heading,
    section_ranking,
    sections,
    validation_ranking,
)
from specrec.runs.store import read_run
from specrec.selection import best_config, mean_score

SELECTED_INFO = ("label", "selected", "configs", "seeds", "n")
VALID = "valid"  # the selected configuration's mean validation score
P_BEST = "p (best > row)"  # one-tailed p of the primary column's best against the row


@dataclass
class Config:
    """One configuration of a group: its evaluations (one per seed), their validation scores and
    the hyperparameters (`name=value`) that tell it from the group's other configurations."""

    evaluations: list[Evaluation]
    valid: list[float]
    parts: list[str] = field(default_factory=list)

    @property
    def record(self) -> dict:
        return self.evaluations[0].run_record

    @property
    def seeds(self) -> str:
        return ", ".join(str(e.run_record.get("seed", "?")) for e in self.evaluations)

    def cells(self) -> dict[str, Summary]:
        """Test metrics over the seeds: mean ± sample std of every metric the seeds have."""
        names = dict.fromkeys(m for e in self.evaluations for m in e.metrics)
        return {m: summarize([e.metrics[m] for e in self.evaluations if m in e.metrics])
                for m in names}


@dataclass
class Choice:
    """One group (section × backbone × method × encoder), its configurations, the one chosen."""

    key: tuple  # the section (`tables.section_key`)
    backbone: str
    method: str
    encoder: str | None
    valid_metric: str
    configs: list[Config]
    chosen: int
    label: str = ""
    valid_ranking: str = ""  # how the runs validated: "" full sort, else e.g. `sampled-100, ...`
    _per_user: dict[str, UserValues] = field(default_factory=dict, init=False, repr=False)

    @property
    def selected(self) -> Config:
        return self.configs[self.chosen]

    @property
    def hyperparameters(self) -> str:
        """The selected values of the fields that vary within the group, e.g. `λ=50, lr=0.0005`."""
        return ", ".join(self.selected.parts)

    @property
    def valid(self) -> float:
        return mean_score(self.selected.valid)

    @property
    def valid_label(self) -> str:
        """The validation metric with its ranking, e.g. `ndcg@10 (sampled-100, uniform)`."""
        return labelled(self.valid_metric, self.valid_ranking)

    def per_user(self, metric: str) -> UserValues:
        """Per-user test values of the selected configuration, averaged over its seeds."""
        if metric not in self._per_user:
            self._per_user[metric] = per_user_of(self.selected.evaluations, metric)
        return self._per_user[metric]


def validation_score(evaluation: Evaluation, metric: str) -> float:
    """The evaluated run's best-epoch validation `metric`: `read_run(path).best_valid[metric]`."""
    try:
        run = read_run(evaluation.run_path)
        best = run.best_valid
    except SpecrecError as exc:
        raise SpecrecError(f"--select needs the validation metrics of every evaluated run, and the "
                           f"run '{evaluation.run_path}' of '{evaluation.path}' is unusable: {exc}")
    recorded = evaluation.meta.inputs.get("run", {}).get("fingerprint")
    if recorded and recorded != run.meta.fingerprint:
        raise SpecrecError(f"run '{run.path}' changed after '{evaluation.path}' evaluated it; "
                           "rerun evaluate before selecting on its validation metrics")
    if metric not in best:
        raise SpecrecError(f"run '{run.path}' has no validation {metric} (it has "
                           f"{', '.join(sorted(best)) or 'none'}); choose --valid-metric from "
                           "those")
    return best[metric]


def _recorded_metric(group: list[Evaluation], label: str) -> str:
    """The validation metric the group's runs were early-stopped on (they must agree)."""
    found = list(dict.fromkeys(str(e.run_record.get("valid_metric", "ndcg@10")).lower()
                               for e in group))
    if len(found) > 1:
        raise SpecrecError(f"the runs of '{label}' were trained with different validation metrics "
                           f"({', '.join(found)}); pass --valid-metric to select on one of them")
    return found[0]


def _recorded_ranking(group: list[Evaluation], label: str) -> str:
    """How the group's runs ranked validation targets (they must agree: scores of a full sort
    and of a sampled ranking cannot be compared)."""
    found = list(dict.fromkeys(validation_ranking(e.run_record) or "full sort" for e in group))
    if len(found) > 1:
        raise SpecrecError(f"the runs of '{label}' were validated with different rankings "
                           f"({', '.join(found)}); select among runs validated alike")
    return "" if found[0] == "full sort" else found[0]


def group_key(record: dict) -> tuple[str, str, str | None]:
    """(backbone, method, encoder): what a selection is made within."""
    encoder = record.get("encoder")
    return (str(record.get("backbone")), str(record.get("method") or ID_ONLY),
            None if encoder is None else str(encoder))


def select(evaluations: list[Evaluation], valid_metric: str | None) -> list[Choice]:
    """Per section and (backbone, method, encoder) group G: the configuration (setting) with the
    best mean validation score over its seeds S_c (`specrec.selection.best_config`),

        ĉ = argmax_{c ∈ G} (1/|S_c|) Σ_{s ∈ S_c} v(c, s),   ties to the first listed,

    v(c, s) = `best_valid[valid_metric]` of the run evaluated for seed s. `valid_metric` defaults
    to the `valid_metric` the runs recorded. No test metric is read.
    """
    choices: list[Choice] = []
    for key, members in sections(evaluations).items():
        groups: dict[tuple, list[Evaluation]] = {}
        for evaluation in members:
            groups.setdefault(group_key(evaluation.run_record), []).append(evaluation)
        found = []
        for (backbone, method, encoder), group in groups.items():
            base = run_base_label(group[0].run_record)
            metric = valid_metric or _recorded_metric(group, base)
            ranking = _recorded_ranking(group, base)
            settings = group_by_setting(group, lambda e: e.run_record)
            configs = [Config(s, [validation_score(e, metric) for e in s]) for s in settings]
            parts = varying_parts(group[0].run_record.get("method"),
                                  [run_fields(c.record) for c in configs])
            for config, config_parts in zip(configs, parts):
                config.parts = config_parts
            chosen = best_config({i: c.valid for i, c in enumerate(configs)})
            found.append(Choice(key, backbone, method, encoder, metric, configs, chosen,
                                valid_ranking=ranking))
        _label(found)
        choices += found
    return choices


def _label(choices: list[Choice]) -> None:
    """`backbone · method`, with `encoder=...` where one section has several encoders of it."""
    bases = [run_base_label(c.selected.record) for c in choices]
    candidates = [{"encoder": ("", "encoder", str(c.encoder))} for c in choices]
    for choice, base, parts in zip(choices, bases, distinguishing_parts(bases, candidates)):
        choice.label = join_label(base, parts)


def significance(cells: dict[int, float], per_user, metric: str) -> tuple[int | None, dict, bool]:
    """The best row of a column (first on ties), the one-tailed p against every other row, and
    the star: p < 0.05 against all of them. `cells`: row -> mean; `per_user(row, metric)`."""
    if not cells:
        return None, {}, False
    best = max(cells, key=lambda i: (cells[i], -i))
    if metric.split("@")[0] not in RANK_METRICS:
        return best, {}, False
    others = [i for i in cells if i != best]
    pvalues, star = beats_all(per_user(best, metric), [per_user(i, metric) for i in others])
    return best, dict(zip(others, pvalues)), star


def selection_tables(choices: list[Choice], *, requested: list[str] | None,
                     primary: str) -> list[Table]:
    """One table per section: per group the selected configuration's test mean ± std, what was
    selected, how many configurations were tried; a star where the best beats all others."""
    by_section: dict[tuple, list[Choice]] = {}
    for choice in choices:
        by_section.setdefault(choice.key, []).append(choice)
    tables = []
    for key, members in by_section.items():
        rows = []
        for choice in members:
            config = choice.selected
            info = {"label": choice.label, "selected": choice.hyperparameters or "–",
                    "configs": str(len(choice.configs)), "seeds": config.seeds,
                    "n": str(len(config.evaluations))}
            rows.append(Row(info=info, cells=config.cells(), members=config.evaluations,
                            extras={VALID: choice.valid}))
        columns = choose_columns({m for r in rows for m in r.cells}, requested)
        metrics = ", ".join(dict.fromkeys(c.valid_label for c in members))
        table = Table("selected", f"Selected on validation {metrics} · results "
                      + section_heading(key), section_context(key), list(SELECTED_INFO),
                      columns, rows, ranking=section_ranking(key))
        table.extras = [VALID]
        _star(table, members, primary)
        table.note = (f"One row per backbone × method × encoder: the configuration with the best "
                      f"mean validation {metrics} over its seeds (ties: the first listed), with "
                      "its test metrics (mean ± std over seeds); selected: the hyperparameters "
                      "that vary among its configs (how many were tried); valid: its mean "
                      f"validation {metrics}; {P_BEST}: the one-tailed p of the {primary} column's "
                      f"best against the row. * on a column's best: {ONE_TAILED_TEST}.")
        tables.append(table)
    return tables


def _star(table: Table, members: list[Choice], primary: str) -> None:
    """Stars per column, and the one-tailed p of the primary column's best against each row."""
    def per_user(i: int, metric: str) -> UserValues:
        return members[i].per_user(metric)

    for column in table.columns:
        cells = {i: r.cells[column].mean for i, r in enumerate(table.rows) if column in r.cells}
        best, _, star = significance(cells, per_user, column)
        if star:
            table.stars[column] = {best}
    cells = {i: r.cells[primary].mean for i, r in enumerate(table.rows) if primary in r.cells}
    best, pvalues, _ = significance(cells, per_user, primary)
    if best is None or primary.split("@")[0] not in RANK_METRICS or len(table.rows) < 2:
        return
    name = P_BEST
    table.extras.append(name)
    for i, row in enumerate(table.rows):
        row.extras[name] = pvalues.get(i, float("nan"))

