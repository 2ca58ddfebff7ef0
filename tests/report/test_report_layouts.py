"""The papers' layouts: Table 1/2 in Markdown, LaTeX and CSV; Figure 3 and Figure 4 files."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import stats as scipy_stats

from specrec.report import figures, plots, report
from specrec.report.inputs import load_inputs
from specrec.report.layouts import figure4, table1, table2
from specrec.report.selection import select

METRICS = ["recall@10", "ndcg@10", "recall@20", "ndcg@20"]
HEADER = ["R@10", "N@10", "R@20", "N@20"]
ROWS = {"ml-test": {"ID-only": "sasrec · ID-only", "pca": "sasrec · pca",
                    "ace": "sasrec · ace encoder=minilm"},
        "ml-other": {"ID-only": "sasrec · ID-only", "pca": "sasrec · pca", "ace": "sasrec · ace"}}


@pytest.fixture(scope="module")
def choices(selection):
    return select(load_inputs(selection.evaluations).evaluations, None)


def selected_means(selection) -> dict[tuple[str, str, str], float]:
    """(dataset, method, metric) -> test mean, read from selected.csv (SASRec rows)."""
    with open(selection.out / "selected.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = {}
    for dataset, labels in ROWS.items():
        for method, label in labels.items():
            row = next(r for r in rows if r["dataset"] == dataset and r["label"] == label)
            out.update({(dataset, method, m): float(row[m]) for m in METRICS})
    return out


def expected_marks(means, dataset: str, metric: str) -> dict[str, str]:
    values = {method: means[(dataset, method, metric)] for method in ROWS[dataset]}
    top = max(values.values())
    second = max([v for v in values.values() if v < top], default=None)
    return {m: "best" if v == top else "second" if v == second else "" for m, v in values.items()}


def per_user(selection, dataset: str, method: str) -> np.ndarray:
    """Per-user NDCG@10 of the selected configuration from the planted ranks (seed mean)."""
    index = {("ml-test", "ID-only"): 0, ("ml-test", "pca"): 2, ("ml-test", "ace"): 5,
             ("ml-other", "ID-only"): 10, ("ml-other", "pca"): 11, ("ml-other", "ace"): 12}
    ranks = [np.asarray(e["ranks"], dtype=np.float64)
             for e in selection.grid[index[(dataset, method)]]["seeds"]]
    return np.mean([np.where(r <= 10, 1.0 / np.log2(r + 1.0), 0.0) for r in ranks], axis=0)


def latex_body(text: str) -> dict[str, list[str]]:
    """method -> its cells, from the rows between \\midrule and \\bottomrule."""
    lines = [line.strip() for line in text.splitlines()]
    body = lines[lines.index(r"\midrule") + 1: lines.index(r"\bottomrule")]
    rows = [line.removesuffix(r"\\").strip().split(" & ") for line in body]
    return {row[0]: row[1:] for row in rows}


def test_table1_latex_has_booktabs_rules_and_marks_the_right_cells(selection):
    text = (selection.out / "table1.tex").read_text()
    lines = [line.strip() for line in text.splitlines()]
    rules = [lines.index(rule) for rule in (r"\toprule", r"\midrule", r"\bottomrule")]
    assert rules == sorted(rules)
    assert r"& \multicolumn{4}{c}{ml-test} & \multicolumn{4}{c}{ml-other} \\" in lines
    assert r"\cmidrule(lr){2-5} \cmidrule(lr){6-9}" in lines
    assert "Method & " + " & ".join(HEADER * 2) + r" \\" in lines
    body = latex_body(text)
    assert list(body) == ["ID-only", "pca", "ace"]
    means = selected_means(selection)
    for g, dataset in enumerate(ROWS):
        for k, metric in enumerate(METRICS):
            marks = expected_marks(means, dataset, metric)
            for method in ROWS[dataset]:
                cell = body[method][4 * g + k].removesuffix("$^{*}$")
                number = f"{means[(dataset, method, metric)]:.4f}"
                assert cell == {"best": rf"\textbf{{{number}}}",
                                "second": rf"\underline{{{number}}}"}.get(marks[method], number)


def test_the_star_needs_a_significant_win_over_every_other_method(selection):
    body = latex_body((selection.out / "table1.tex").read_text())
    for g, dataset in enumerate(ROWS):
        ace = per_user(selection, dataset, "ace")
        pvalues = [scipy_stats.ttest_rel(ace, per_user(selection, dataset, other),
                                         alternative="greater").pvalue
                   for other in ("ID-only", "pca")]
        starred = body["ace"][4 * g + 1].endswith("$^{*}$")  # N@10
        assert starred == all(p < 0.05 for p in pvalues)
        assert starred == (dataset == "ml-test")  # on ml-other ACE beats ID-only, not PCA
    assert not any(c.endswith("$^{*}$") for c in body["ID-only"] + body["pca"])


def test_table1_markdown_shows_the_same_marks(selection):
    lines = (selection.out / "table1.md").read_text().splitlines()
    header = next(line for line in lines if line.startswith("| method"))
    assert header == "| method | " + " | ".join(
        f"{d} {h}" for d in ROWS for h in HEADER) + " |"
    rows = {line.split(" | ")[0].removeprefix("| "): line.strip("| ").split(" | ")[1:]
            for line in lines if line.startswith("| ") and not line.startswith("| method")}
    latex = latex_body((selection.out / "table1.tex").read_text())
    for method, cells in rows.items():
        for md, tex in zip(cells, latex[method]):
            star = md.endswith("\\*")
            assert star == tex.endswith("$^{*}$")
            md, tex = md.removesuffix("\\*"), tex.removesuffix("$^{*}$")
            assert md.startswith("**") == tex.startswith(r"\textbf")
            assert md.startswith("<u>") == tex.startswith(r"\underline")
    text = (selection.out / "results.md").read_text()
    assert "[table1.tex](table1.tex)" in text and "![figure4.png](figure4.png)" in text


def test_layout_csv_reads_back_every_cell(selection, choices):
    for name, build, field in (("table1", table1, "dataset"), ("table2", table2, "backbone")):
        layout = build(choices, None)
        with open(selection.out / f"{name}.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == sum(1 for key in layout.choices for _ in layout.metrics)
        for row in rows:
            r, g = layout.methods.index(row["method"]), layout.groups.index(row[field])
            cell = (r, g, row["metric"])
            summary = layout.summary(*cell)
            assert float(row["mean"]) == summary.mean and int(row["n"]) == summary.n
            assert row["std"] == ("" if np.isnan(summary.std) else repr(summary.std))
            assert row["mark"] == layout.marks.get(cell, "")
            assert row["star"] == str(int(cell in layout.stars))
            assert row["selected"] == layout.choices[(r, g)].hyperparameters
    layout = table2(choices, None)
    assert layout.groups == ["sasrec", "gru4rec"] and layout.methods == ["ID-only", "pca", "ace"]
    assert (2, 1) in layout.choices and (1, 1) not in layout.choices  # no PCA on GRU4Rec


def test_figures_are_png_and_pdf(selection):
    for name in ("figure3", "figure4", "spectra"):
        png = (selection.out / f"{name}.png").read_bytes()
        pdf = (selection.out / f"{name}.pdf").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000, name
        assert pdf[:5] == b"%PDF-" and len(pdf) > 1_000, name
        assert f"{name}.pdf" in selection.meta.stats["files"]


def test_figure4_marks_the_selected_lambda_and_draws_lambda_zero(choices, monkeypatch, tmp_path):
    sweep = figure4(choices, "ndcg@10")
    assert [p.lam for p in sweep.points] == [0.0, 10.0, 50.0, 100.0]
    assert [p.selected for p in sweep.points] == [False, False, True, False]
    drawn = []
    monkeypatch.setattr(plots, "save", lambda figure, path: drawn.append(figure) or path.name)
    assert figures.plot_lambda(sweep, tmp_path, None) == ["figure4.png", "figure4.pdf"]
    axes = drawn[0].axes[0]
    assert axes.get_xscale() == "symlog"
    assert [t.get_text() for t in axes.get_xticklabels()] == ["0", "10", "50", "100"]
    lines = {line.get_label(): line for line in axes.get_lines()}
    marker = lines["selected λ=50 (best validation)"]
    assert list(marker.get_xdata()) == [50.0, 50.0]
    curves = {c.get_label(): c.lines[0] for c in axes.containers}
    assert sorted(curves) == ["test N@10", "validation N@10"]
    assert all(list(line.get_xdata()) == [0, 10, 50, 100] for line in curves.values())
    for line in curves.values():  # the selected λ has a star on both curves
        star = next(s for s in axes.get_lines() if s.get_marker() == "*"
                    and s.get_color() == line.get_color())
        assert list(star.get_xdata()) == [50.0]
        assert list(star.get_ydata()) == [line.get_ydata()[2]]
    lo, hi = axes.get_xlim()
    assert lo < 0.0 and hi > 100.0  # λ = 0 and the largest λ lie inside the axis


def test_one_dataset_one_backbone_one_encoder_still_render(selection, tmp_path):
    inputs = [p for p in selection.evaluations if "-ml-test-sasrec-" in p.name
              and "e5" not in p.name]
    meta = report(inputs=inputs, out=tmp_path / "one", select=True)
    for name in ("table1.md", "table1.tex", "table2.md", "figure3.png", "figure4.pdf"):
        assert name in meta.stats["files"], name
    text = (tmp_path / "one" / "table1.md").read_text()
    assert "| method | ml-test R@10 | ml-test N@10 | ml-test R@20 | ml-test N@20 |" in text


def test_without_ace_or_text_the_figures_are_skipped_with_a_note(world, tmp_path):
    meta = report(inputs=[world.evals["id-s0"], world.evals["id-lr01"]], out=tmp_path / "id",
                  select=True)
    text = (tmp_path / "id" / "results.md").read_text()
    assert "Figure 3 is not drawn" in text and "Figure 4 is not drawn" in text
    assert "table1.md" in meta.stats["files"] and "figure3.png" not in meta.stats["files"]
