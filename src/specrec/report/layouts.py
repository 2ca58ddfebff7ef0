"""The papers' layouts from selected configurations: Table 1, Table 2, Figures 3 and 4 data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from specrec.report.selection import Choice, Config, significance
from specrec.report.settings import lambda_of, unique_labels
from specrec.report.stats import ONE_TAILED_TEST, Summary, summarize
from specrec.report.tables import section_ranking
from specrec.selection import best_config

TEST_SPLIT = "test"
Cell = tuple[int, int, str]
"""(method row, column group, metric) of one layout cell."""


@dataclass
class Layout:
    """Methods (rows) × column groups (datasets or backbones) × metrics, one choice per cell."""

    name: str  # file stem: table1, table2
    title: str
    fixed: str  # what every cell shares, e.g. "backbone sasrec, encoder minilm, test split"
    group_field: str  # what the column groups are: dataset | backbone
    groups: list[str]
    metrics: list[str]
    methods: list[str]
    choices: dict[tuple[int, int], Choice]
    marks: dict[Cell, str] = field(default_factory=dict)  # "best" | "second"
    stars: set[Cell] = field(default_factory=set)
    tested: dict[tuple[int, str], int] = field(default_factory=dict)  # (group, metric) -> best
    pmax: dict[tuple[int, str], float] = field(default_factory=dict)  # the best's largest p
    rankings: list[str] = field(default_factory=list)  # per group: "" full sort, else sampled

    def summary(self, row: int, group: int, metric: str) -> Summary | None:
        choice = self.choices.get((row, group))
        return None if choice is None else choice.selected.cells().get(metric)

    @property
    def note(self) -> str:
        fixed = self.fixed[:1].upper() + self.fixed[1:]
        return (f"{fixed}. Each cell: the configuration selected on validation (mean over its "
                "seeds); bold = best, underlined = second best in its column; * = the best "
                f"beats every other method of its column: {ONE_TAILED_TEST}.")


def layout_metrics(available: set[str], requested: list[str] | None) -> list[str]:
    """The requested metrics, else ACE's columns: Recall@K and NDCG@K for every K there is."""
    if requested:
        return [m for m in requested if m in available]
    ks = sorted({int(m.split("@")[1]) for m in available
                 if "@" in m and m.split("@")[1].isdigit()})
    return [f"{n}@{k}" for k in ks for n in ("recall", "ndcg") if f"{n}@{k}" in available]


def test_choices(choices: list[Choice]) -> list[Choice]:
    return [c for c in choices if str(c.key[2]) == TEST_SPLIT]


def reference(choices: list[Choice]) -> tuple[tuple, str, str | None]:
    """The section, backbone and encoder listed first (what a layout holds fixed)."""
    encoder = next((c.encoder for c in choices if c.encoder is not None), None)
    return choices[0].key, choices[0].backbone, encoder


def _section_titles(keys: list[tuple]) -> dict[tuple, str]:
    """The dataset name, with protocol, tie rule, mask and ranking where two sections share the
    name."""
    names = [key[0] for key in keys]
    titles = [name if names.count(name) < 2 else
              f"{name} ({key[3]}, {key[4]} ties{', masked' if key[5] else ''}"
              f"{', ' + section_ranking(key) if section_ranking(key) else ''})"
              for name, key in zip(names, keys)]
    return dict(zip(keys, unique_labels(titles, [f"#{i + 1}" for i in range(len(keys))])))


def table1(choices: list[Choice], requested: list[str] | None) -> Layout | None:
    """Methods × datasets on the first backbone and encoder listed (test split)."""
    test = test_choices(choices)
    if not test:
        return None
    _, backbone, encoder = reference(test)
    picked = [c for c in test if c.backbone == backbone and c.encoder in (encoder, None)]
    titles = _section_titles(list(dict.fromkeys(c.key for c in picked)))
    return build("table1", "Table 1: methods × datasets", picked, lambda c: titles[c.key],
                 "dataset", f"backbone {backbone}, encoder {encoder or '–'}, test split",
                 requested)


def table2(choices: list[Choice], requested: list[str] | None) -> Layout | None:
    """Methods × backbones on the first dataset (section) and encoder listed (test split)."""
    test = test_choices(choices)
    if not test:
        return None
    key, _, encoder = reference(test)
    picked = [c for c in test if c.key == key and c.encoder in (encoder, None)]
    return build("table2", "Table 2: methods × backbones", picked, lambda c: c.backbone,
                 "backbone", f"dataset {key[0]}, encoder {encoder or '–'}, test split", requested)


def build(name: str, title: str, picked: list[Choice], column: Callable[[Choice], str],
          group_field: str, fixed: str, requested: list[str] | None) -> Layout:
    """Place each choice at (its method, its column group); mark best, second and the star."""
    methods = list(dict.fromkeys(c.method for c in picked))
    groups = list(dict.fromkeys(column(c) for c in picked))
    cells: dict[tuple[int, int], Choice] = {}
    for choice in picked:
        cells.setdefault((methods.index(choice.method), groups.index(column(choice))), choice)
    available = {m for c in cells.values() for m in c.selected.cells()}
    rankings = [next(section_ranking(c.key) for c in picked if column(c) == g) for g in groups]
    layout = Layout(name, title, fixed, group_field, groups, layout_metrics(available, requested),
                    methods, cells, rankings=rankings)
    for g in range(len(groups)):
        for metric in layout.metrics:
            _mark(layout, g, metric)
    return layout


def _mark(layout: Layout, group: int, metric: str) -> None:
    """Bold every row at the column's maximum, underline the next value; star the best."""
    values = {}
    for row in range(len(layout.methods)):
        summary = layout.summary(row, group, metric)
        if summary is not None:
            values[row] = summary.mean
    if len(values) < 2:
        return
    top = max(values.values())
    below = [v for v in values.values() if v < top]
    for row, value in values.items():
        if value == top:
            layout.marks[(row, group, metric)] = "best"
        elif below and value == max(below):
            layout.marks[(row, group, metric)] = "second"

    def per_user(row: int, name: str):
        return layout.choices[(row, group)].per_user(name)

    best, pvalues, star = significance(values, per_user, metric)
    layout.tested[(group, metric)] = best
    if pvalues:
        layout.pmax[(group, metric)] = max(pvalues.values())
    if star:
        layout.stars.add((best, group, metric))


@dataclass
class Bars:
    """Figure 3: the primary metric of each method per encoder (methods without text: lines)."""

    fixed: str
    metric: str
    encoders: list[str]
    bars: dict[str, dict[str, Summary]]  # method -> encoder -> summary
    lines: dict[str, Summary]  # methods without an encoder (ID-only)
    ranking: str = ""  # "" full sort, else e.g. `sampled-100, uniform`


def figure3(choices: list[Choice], primary: str) -> Bars | None:
    """Methods × encoders on the first dataset and backbone listed; None without encoders."""
    test = test_choices(choices)
    if not test:
        return None
    key, backbone, _ = reference(test)
    picked = [c for c in test if c.key == key and c.backbone == backbone]
    encoders = list(dict.fromkeys(c.encoder for c in picked if c.encoder is not None))
    if not encoders:
        return None
    bars: dict[str, dict[str, Summary]] = {}
    lines: dict[str, Summary] = {}
    for choice in picked:
        summary = choice.selected.cells().get(primary)
        if summary is None:
            continue
        if choice.encoder is None:
            lines.setdefault(choice.method, summary)
        else:
            bars.setdefault(choice.method, {}).setdefault(choice.encoder, summary)
    return Bars(f"dataset {key[0]}, backbone {backbone}, test split", primary, encoders, bars,
                lines, section_ranking(key))


@dataclass
class LambdaPoint:
    """Figure 4: one λ, its best configuration by validation, that one's valid and test scores."""

    lam: float
    valid: Summary
    test: Summary | None
    selected: bool


@dataclass
class Sweep:
    fixed: str
    valid_metric: str
    metric: str
    points: list[LambdaPoint]
    ranking: str = ""  # of the test metric: "" full sort, else e.g. `sampled-100, uniform`
    valid_ranking: str = ""  # of the validation metric


def figure4(choices: list[Choice], primary: str) -> Sweep | None:
    """ACE's validation and test score against λ: the ACE group of the first dataset, backbone
    and encoder listed (else the first ACE group); at each λ the configuration best on validation
    among those with that λ. None without ACE configurations that record a numeric λ."""
    ace = [c for c in test_choices(choices) if c.method == "ace"]
    if not ace:
        return None
    key, backbone, encoder = reference(test_choices(choices))
    choice = next((c for c in ace if (c.key, c.backbone, c.encoder) == (key, backbone, encoder)),
                  ace[0])
    by_lambda: dict[float, list[Config]] = {}
    for config in choice.configs:
        lam = lambda_of(config.record.get("table_params") or {})
        if isinstance(lam, float):
            by_lambda.setdefault(lam, []).append(config)
    if not by_lambda:
        return None
    points = []
    for lam in sorted(by_lambda):
        configs = by_lambda[lam]
        config = configs[best_config({i: c.valid for i, c in enumerate(configs)})]
        tests = [e.metrics[primary] for e in config.evaluations if primary in e.metrics]
        points.append(LambdaPoint(lam, summarize(config.valid), summarize(tests) if tests else None,
                                  config is choice.selected))
    return Sweep(f"{choice.label}, dataset {choice.key[0]}, test split", choice.valid_metric,
                 primary, points, section_ranking(choice.key), choice.valid_ranking)


@dataclass
class Paper:
    """Everything the papers' layouts draw from one selection (None: not drawn, see docs)."""

    table1: Layout | None
    table2: Layout | None
    figure3: Bars | None
    figure4: Sweep | None


def paper(choices: list[Choice], requested: list[str] | None, primary: str) -> Paper:
    return Paper(table1(choices, requested), table2(choices, requested),
                 figure3(choices, primary), figure4(choices, primary))
