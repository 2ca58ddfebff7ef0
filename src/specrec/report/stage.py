"""The report stage: metrics, run and transform artifacts -> results.md, tables and figures."""

from __future__ import annotations

from pathlib import Path

from specrec import __version__
from specrec.artifacts import Meta, build_artifact, check_output, input_ref
from specrec.console import log
from specrec.console import out as stdout
from specrec.errors import SpecrecError
from specrec.report import plots
from specrec.report.groups import group_tables
from specrec.report.inputs import Inputs, load_inputs
from specrec.report.layouts import Paper
from specrec.report.layouts import paper as paper_layouts
from specrec.report.paper import write_paper
from specrec.report.render import to_markdown, write_csv
from specrec.report.selection import select as select_configs
from specrec.report.selection import selection_tables
from specrec.report.settings import setting_key, setting_labels, unique_labels
from specrec.report.stats import parse_metric
from specrec.report.tables import (
    Table,
    covered_runs,
    diagnostics_table,
    result_tables,
    transform_labels,
    validation_ranking,
    validation_tables,
)
from specrec.report.terminal import rich_tables

DEFAULT_PRIMARY = "ndcg@10"
DEFAULT_TITLE = "specrec report"


def report(
    *,
    inputs: list[Path],
    out: Path,
    baseline: str | None = None,
    metrics: list[str] | None = None,
    title: str | None = None,
    select: bool = False,
    valid_metric: str | None = None,
    force: bool = False,
) -> Meta:
    """Combine evaluations, runs and transforms into one report artifact at `out`.

    Results: one row per setting, mean ± sample std over seeds; with `baseline`, Δ% of the
    primary metric (the first of `metrics`, else ndcg@10) and paired p-values on per-user values.
    With `select`: per backbone × method × dataset × encoder the configuration with the best mean
    validation `valid_metric` (default: the runs' own), its test metrics, one-tailed t-test stars
    and the papers' layouts (Table 1, Table 2, Figure 3, Figure 4).
    """
    if not inputs:
        raise SpecrecError("no inputs; pass metrics, run or transform artifact directories")
    if valid_metric is not None and not select:
        raise SpecrecError("--valid-metric chooses what --select selects on; add --select")
    out = Path(out)
    check_output(out, "report", protect=map(Path, inputs))  # before reading every input
    requested = [f"{n}@{k}" for n, k in map(parse_metric, metrics)] if metrics else None
    valid_metric = "@".join(map(str, parse_metric(valid_metric))) if valid_metric else None
    loaded = load_inputs(list(inputs))
    _check_requested(requested, loaded)
    primary = requested[0] if requested else DEFAULT_PRIMARY
    if baseline is not None and not loaded.evaluations:
        raise SpecrecError("--baseline needs metrics artifacts (from specrec evaluate) as inputs")
    if select and not loaded.evaluations:
        raise SpecrecError("--select needs metrics artifacts (from specrec evaluate) as inputs")
    tables, paper = [], None
    if select:
        choices = select_configs(loaded.evaluations, valid_metric)
        tables += selection_tables(choices, requested=requested, primary=primary)
        paper = paper_layouts(choices, requested, primary)
    tables += result_tables(loaded.evaluations, requested=requested, primary=primary,
                            baseline=baseline)
    tables += group_tables(loaded.evaluations, requested=requested)
    covered = covered_runs(loaded.runs, loaded.evaluations)
    unevaluated = [run for i, run in enumerate(loaded.runs) if i not in covered]
    tables += validation_tables(unevaluated, requested=requested)
    diagnostics = diagnostics_table(loaded.transforms)
    if diagnostics is not None:
        tables.append(diagnostics)
    config = {"inputs": [str(p) for p in inputs], "baseline": baseline, "metrics": requested,
              "title": title}
    if select:
        config.update(select=True, valid_metric=valid_metric)
    refs = {f"{i:02d}_{a.meta.kind}": input_ref(a.path, a.meta) for i, a in enumerate(loaded.all())}
    items = {a.meta.items_fingerprint for a in loaded.all()}
    meta = build_artifact(
        out, kind="report", config=config, inputs=refs,
        items_fp=items.pop() if len(items) == 1 else None,
        build=lambda tmp: write_report(tmp, loaded, tables, primary=primary, title=title,
                                       paper=paper),
        protect=[*map(Path, inputs), *(a.path for a in loaded.all())], force=force, log=log,
    )
    for table in tables:
        for part in rich_tables(table, stdout.width):
            stdout.print(part)
    log(f"report in {out}: {', '.join(meta.stats.get('files', []))}")
    return meta


def write_report(directory: Path, loaded: Inputs, tables: list[Table], *, primary: str,
                 title: str | None, paper: Paper | None = None) -> dict:
    """Write every report file into `directory`; return the stats recorded in meta.json."""
    results = [t for t in tables if t.kind == "results"]
    selected = [t for t in tables if t.kind == "selected"]
    validation = [t for t in tables if t.kind == "validation"]
    diagnostics = [t for t in tables if t.kind == "diagnostics"]
    groups = [t for t in tables if t.kind == "groups"]
    files = ["results.md"]
    write_csv(results, directory / "results.csv")
    files.append("results.csv")
    for name, group in (("selected.csv", selected), ("groups.csv", groups),
                        ("validation.csv", validation), ("diagnostics.csv", diagnostics)):
        if group:
            write_csv(group, directory / name)
            files.append(name)
    figures = _write_plots(directory, loaded, diagnostics, primary, title)
    files += [name for name, _ in figures]
    spectra = ["spectra.png", "spectra.pdf"] if "spectra.png" in files else []
    files += spectra[1:]
    section = ""
    if paper is not None:
        written, section = write_paper(directory, paper, title, spectra)
        files += written
    (directory / "results.md").write_text(
        _markdown(loaded, tables, figures, title or DEFAULT_TITLE, section))
    return {
        "files": files,
        "evaluations": len(loaded.evaluations),
        "runs": len(loaded.runs),
        "transforms": len(loaded.transforms),
        "result_rows": sum(len(t.rows) for t in results),
        "selected_rows": sum(len(t.rows) for t in selected),
        "validation_rows": sum(len(t.rows) for t in validation),
        "group_rows": sum(len(t.rows) for t in groups),
    }


def _write_plots(directory: Path, loaded: Inputs, diagnostics: list[Table], primary: str,
                 title: str | None) -> list[tuple[str, str]]:
    """(file name, caption) of every figure written."""
    figures = []
    with_spectra = [t for t in loaded.transforms if t.spectra]
    if with_spectra:
        names = plots.plot_normalised_spectra(with_spectra, directory / "spectra.png", title)
        caption = ("Normalised singular-value spectra σ_i / σ_1 (log scale) of the raw embeddings "
                   "(dashed) and of every table; ACE tables by λ "
                   f"(also as [{names[1]}]({names[1]})).")
        figures.append((names[0], caption))
        used: set[str] = set()
        for transform, label in zip(with_spectra, transform_labels(with_spectra)):
            stem = f"spectrum_{transform.path.name}"
            while stem in used:
                stem += "_"
            used.add(stem)
            name = plots.plot_transform_spectrum(transform, label, directory / f"{stem}.png",
                                                 title)
            figures.append((name, f"Singular values before and after: {transform.path.name}."))
    if diagnostics and diagnostics[0].columns:
        name = plots.plot_diagnostics(loaded.transforms, diagnostics[0].columns,
                                      directory / "diagnostics.png", title)
        if name:
            figures.append((name, "Numeric diagnostics: raw inputs (grey) vs each table (blue)."))
    if loaded.runs:
        rankings = {validation_ranking(run.record) for run in loaded.runs}
        metric = _curve_metric(loaded, primary)
        name = plots.plot_curves(_curves(loaded), metric, directory / "curves.png", title,
                                 rankings.pop() if len(rankings) == 1 else "")
        if name:
            figures.append((name, f"Validation {metric} per epoch; ★ marks the best epoch."))
    return figures


def _markdown(loaded: Inputs, tables: list[Table], figures: list[tuple[str, str]],
              title: str, paper: str = "") -> str:
    parts = [
        f"# {title}\n",
        (f"Made by specrec {__version__} `report` from {len(loaded.evaluations)} metrics, "
         f"{len(loaded.runs)} run and {len(loaded.transforms)} transform artifacts. "
         "Cells: mean ± sample standard deviation (n − 1) over seeds when n > 1; "
         "**bold** = best value in its column.\n"),
    ]
    if not any(t.kind == "results" for t in tables):
        parts.append("No metrics artifacts were given, so there are no test results.\n")
    parts += [to_markdown(table) for table in tables if table.kind == "selected"]
    parts += [paper] if paper else []
    parts += [to_markdown(table) for table in tables if table.kind != "selected"]
    if figures:
        parts.append("## Figures\n")
        parts += [f"{caption}\n\n![{name}]({name})\n" for name, caption in figures]
    return "\n".join(parts)


def _curve_metric(loaded: Inputs, primary: str) -> str:
    """The validation metric the runs chose their best epoch by, when they share one (so each
    curve's star is that epoch); else the report's primary metric."""
    chosen = {run.record.get("valid_metric") for run in loaded.runs}
    return chosen.pop() if len(chosen) == 1 and None not in chosen else primary


def _curves(loaded: Inputs) -> list[tuple[str, dict]]:
    """(legend label, history) per run: the label of its setting among these runs, its seed."""
    keys = [setting_key(run.record) for run in loaded.runs]
    first = {key: loaded.runs[keys.index(key)] for key in dict.fromkeys(keys)}
    names = setting_labels([run.record for run in first.values()],
                           [run.path.name for run in first.values()])
    label_of = dict(zip(first, names))
    labels = [f"{label_of[key]} (seed {run.record.get('seed', '?')})"
              + (f" [{validation_ranking(run.record)}]" if validation_ranking(run.record) else "")
              for key, run in zip(keys, loaded.runs)]
    labels = unique_labels(labels, [run.path.name for run in loaded.runs])
    return [(label, loaded.histories[run.path]) for label, run in zip(labels, loaded.runs)]


def _check_requested(requested: list[str] | None, loaded: Inputs) -> None:
    available = {m for e in loaded.evaluations for m in e.metrics}
    available |= {m for r in loaded.runs for m in r.best_valid}
    for metric in requested or []:
        if metric not in available:
            raise SpecrecError(
                f"metric '{metric}' is in none of the inputs; choose from: "
                + (", ".join(sorted(available)) or "(no metrics in the inputs)")
            )
