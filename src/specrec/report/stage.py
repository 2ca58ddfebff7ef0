"""The report stage: metrics, run and transform artifacts -> results.md, CSV tables, PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

from specrec import __version__
from specrec.artifacts import META_FILE, Meta, build_artifact, input_ref
from specrec.console import log, out as stdout
from specrec.errors import SpecrecError
from specrec.report import plots
from specrec.report.inputs import Inputs, load_inputs
from specrec.report.render import to_markdown, to_rich, write_csv
from specrec.report.stats import parse_metric
from specrec.report.tables import (
    Table,
    covered_runs,
    diagnostics_table,
    result_tables,
    validation_tables,
)

DEFAULT_PRIMARY = "ndcg@10"
DEFAULT_TITLE = "specrec report"


def report(
    *,
    inputs: list[Path],
    out: Path,
    baseline: str | None = None,
    metrics: list[str] | None = None,
    title: str | None = None,
    force: bool = False,
) -> Meta:
    """Combine evaluations, runs and transforms into one report artifact at `out`.

    Results: one row per setting, mean ± sample std over seeds; with `baseline`, Δ% of the
    primary metric (the first of `metrics`, else ndcg@10) and paired p-values on per-user values.
    """
    if not inputs:
        raise SpecrecError("no inputs; pass metrics, run or transform artifact directories")
    out = Path(out)
    _check_out(out)
    requested = [f"{n}@{k}" for n, k in map(parse_metric, metrics)] if metrics else None
    loaded = load_inputs(list(inputs))
    _check_requested(requested, loaded)
    primary = requested[0] if requested else DEFAULT_PRIMARY
    if baseline is not None and not loaded.evaluations:
        raise SpecrecError("--baseline needs metrics artifacts (from specrec evaluate) as inputs")
    tables = result_tables(loaded.evaluations, requested=requested, primary=primary,
                           baseline=baseline)
    covered = covered_runs(loaded.runs, loaded.evaluations)
    unevaluated = [run for i, run in enumerate(loaded.runs) if i not in covered]
    tables += validation_tables(unevaluated, requested=requested)
    diagnostics = diagnostics_table(loaded.transforms)
    if diagnostics is not None:
        tables.append(diagnostics)
    config = {"inputs": [str(p) for p in inputs], "baseline": baseline, "metrics": requested,
              "title": title}
    refs = {f"{i:02d}_{a.meta.kind}": input_ref(a.path, a.meta) for i, a in enumerate(loaded.all())}
    items = {a.meta.items_fingerprint for a in loaded.all()}
    meta = build_artifact(
        out, kind="report", config=config, inputs=refs,
        items_fp=items.pop() if len(items) == 1 else None,
        build=lambda tmp: write_report(tmp, loaded, tables, primary=primary, title=title),
        force=force, log=log,
    )
    for table in tables:
        stdout.print(to_rich(table), width=None if stdout.is_terminal else 160)
    log(f"report in {out}: {', '.join(meta.stats.get('files', []))}")
    return meta


def write_report(directory: Path, loaded: Inputs, tables: list[Table], *, primary: str,
                 title: str | None) -> dict:
    """Write every report file into `directory`; return the stats recorded in meta.json."""
    results = [t for t in tables if t.kind == "results"]
    validation = [t for t in tables if t.kind == "validation"]
    diagnostics = [t for t in tables if t.kind == "diagnostics"]
    files = ["results.md"]
    write_csv(results, directory / "results.csv")
    files.append("results.csv")
    for name, group in (("validation.csv", validation), ("diagnostics.csv", diagnostics)):
        if group:
            write_csv(group, directory / name)
            files.append(name)
    figures = _write_plots(directory, loaded, diagnostics, primary, title)
    files += [name for name, _ in figures]
    (directory / "results.md").write_text(
        _markdown(loaded, tables, figures, title or DEFAULT_TITLE))
    return {
        "files": files,
        "evaluations": len(loaded.evaluations),
        "runs": len(loaded.runs),
        "transforms": len(loaded.transforms),
        "result_rows": sum(len(t.rows) for t in results),
        "validation_rows": sum(len(t.rows) for t in validation),
    }


def _write_plots(directory: Path, loaded: Inputs, diagnostics: list[Table], primary: str,
                 title: str | None) -> list[tuple[str, str]]:
    """(file name, caption) of every figure written."""
    figures = []
    with_spectra = [t for t in loaded.transforms if t.spectra]
    if with_spectra:
        name = plots.plot_normalised_spectra(with_spectra, directory / "spectra.png", title)
        figures.append((name, "Normalised singular-value spectra σ_i / σ_1 (log scale) of the raw "
                              "embeddings (dashed) and of every table; ACE tables by λ."))
        used: set[str] = set()
        for transform in with_spectra:
            stem = f"spectrum_{transform.path.name}"
            while stem in used:
                stem += "_"
            used.add(stem)
            name = plots.plot_transform_spectrum(transform, directory / f"{stem}.png", title)
            figures.append((name, f"Singular values before and after: {transform.path.name}."))
    if diagnostics and diagnostics[0].columns:
        name = plots.plot_diagnostics(loaded.transforms, diagnostics[0].columns,
                                      directory / "diagnostics.png", title)
        figures.append((name, "Scalar diagnostics: raw input embeddings (grey) vs each table."))
    with_history = [r for r in loaded.runs if r.history is not None]
    if with_history:
        name = plots.plot_curves(with_history, primary, directory / "curves.png", title)
        if name:
            figures.append((name, f"Validation {primary} per epoch; ★ marks the best epoch."))
    return figures


def _markdown(loaded: Inputs, tables: list[Table], figures: list[tuple[str, str]],
              title: str) -> str:
    parts = [
        f"# {title}\n",
        f"Made by specrec {__version__} `report` from {len(loaded.evaluations)} metrics, "
        f"{len(loaded.runs)} run and {len(loaded.transforms)} transform artifacts. "
        "Cells: mean ± sample standard deviation (n − 1) over seeds when n > 1; "
        "**bold** = best value in its column.\n",
    ]
    if not any(t.kind == "results" for t in tables):
        parts.append("No metrics artifacts were given, so there are no test results.\n")
    parts += [to_markdown(table) for table in tables]
    if figures:
        parts.append("## Figures\n")
        parts += [f"{caption}\n\n![{name}]({name})\n" for name, caption in figures]
    return "\n".join(parts)


def _check_out(out: Path) -> None:
    """Never replace something that is not a report: a typo in --out must not delete a run."""
    if not out.exists():
        return
    if not out.is_dir():
        raise SpecrecError(f"--out '{out}' is a file; choose a directory for the report")
    meta_path = out / META_FILE
    if meta_path.is_file():
        try:
            kind = json.loads(meta_path.read_text()).get("kind")
        except (json.JSONDecodeError, AttributeError):
            kind = None
        if kind != "report":
            raise SpecrecError(f"--out '{out}' is a {kind or 'broken'} artifact, not a report; "
                               "choose another directory")
    elif any(out.iterdir()):
        raise SpecrecError(f"--out '{out}' is a non-empty directory that is not a report; "
                           "choose another directory")


def _check_requested(requested: list[str] | None, loaded: Inputs) -> None:
    available = {m for e in loaded.evaluations for m in e.metrics}
    available |= {m for r in loaded.runs for m in r.best_valid}
    for metric in requested or []:
        if metric not in available:
            raise SpecrecError(
                f"metric '{metric}' is in none of the inputs; choose from: "
                + (", ".join(sorted(available)) or "(no metrics in the inputs)")
            )
