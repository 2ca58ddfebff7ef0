"""Reports a person can read: every digit in a narrow or non-TTY terminal, legible figures."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from specrec.report import plots, report
from specrec.report.inputs import load_inputs
from specrec.report.plots import _ordered, diagnostic_panels
from specrec.report.render import grid
from specrec.report.selection import select, selection_tables
from specrec.report.tables import diagnostics_table, result_tables, transform_labels
from specrec.report.terminal import rich_tables
from specrec.runs.store import read_run
from specrec.testing.pipeline import tiny_run

BASELINE = "sasrec · ID-only"


@pytest.fixture(scope="module")
def tables(world, selection):
    """Results with paired tests, selected configurations and transform diagnostics."""
    loaded = load_inputs(selection.evaluations)
    found = result_tables(load_inputs(world.evaluations).evaluations, requested=None,
                          primary="ndcg@10", baseline=BASELINE)
    found += selection_tables(select(loaded.evaluations, None), requested=None,
                              primary="ndcg@10")
    found += result_tables(loaded.evaluations, requested=None, primary="ndcg@10", baseline=None)
    return [*found, diagnostics_table(loaded.transforms)]


def shown(tables) -> tuple[list[str], list[str]]:
    """Every number (each line of a `mean ± std` cell) and every word of every label."""
    numbers, words = [], []
    for table in tables:
        header, body, _, _ = grid(table)
        for row in body:
            for j, text in enumerate(row):
                if j >= len(table.info_columns):
                    numbers += [part for part in text.split(" ± ") if part != "–"]
                elif header[j] in ("label", "transform", "selected"):
                    words += text.split()
    return numbers, words


def render(tables, width: int) -> str:
    console = Console(width=width, file=io.StringIO())
    for table in tables:
        for part in rich_tables(table, width):
            console.print(part)
    return console.file.getvalue()


@pytest.mark.parametrize("width", [60, 80])
def test_a_narrow_console_shows_every_digit_of_every_number(tables, width):
    text = render(tables, width)
    numbers, words = shown(tables)
    assert numbers and words
    missing = [n for n in numbers if n not in text]
    assert not missing, missing[:5]
    assert not [w for w in words if w not in text]
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width


def test_wide_tables_are_split_with_the_label_in_every_part(tables):
    wide = next(t for t in tables if t.kind == "selected")
    parts = rich_tables(wide, 60)
    assert len(parts) > 1
    assert all(part.columns[0].header == "label" for part in parts)
    shown_columns = [c.header for part in parts for c in part.columns[1:]]
    assert "N@10" in shown_columns and len(shown_columns) == len(set(shown_columns))
    assert parts[0].title.endswith(f"(1/{len(parts)})")


def test_the_stage_prints_every_digit_when_stdout_is_not_a_terminal(selection, tables, capsys,
                                                                    monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    report(inputs=selection.evaluations, out=selection.out, select=True, title="Selection")
    out = capsys.readouterr().out
    numbers, _ = shown([t for t in tables[1:]])
    assert not [n for n in numbers if n not in out]
    assert "…" not in out


def test_diagnostics_figure_has_the_table_labels_and_no_flag_panels(selection, monkeypatch,
                                                                    tmp_path):
    transforms = load_inputs(selection.evaluations).transforms
    table = diagnostics_table(transforms)
    assert "centered" in table.columns  # a column in the table, 0/1 for every transform
    panels = diagnostic_panels(transforms, table.columns)
    assert "centered" not in panels and "spectrum_complete_before" not in panels
    assert panels[:2] == ["effective_rank", "mean_cosine"]
    drawn = []
    monkeypatch.setattr(plots, "save", lambda figure, path: drawn.append(figure) or path.name)
    plots.plot_diagnostics(transforms, table.columns, tmp_path / "d.png", None)
    visible = [axes for axes in drawn[0].axes if axes.get_visible()]
    assert [axes.get_title() for axes in visible] == panels
    ticks = [t.get_text().replace("\n", " ") for t in visible[0].get_yticklabels()]
    label_of = dict(zip(map(id, transforms), transform_labels(transforms)))
    assert ticks[3:] == [label_of[id(t)] for t in _ordered(transforms)]
    assert sorted(ticks[3:]) == sorted(row.info["transform"] for row in table.rows)
    assert ticks[:3] == ["raw emb-minilm (uncentred)", "raw emb-e5", "raw emb-minilm (centred)"]
    for k, axes in enumerate(visible):  # labels once per row of panels, on its left
        shown = [t for t in axes.get_yticklabels() if t.get_visible() and t.get_text()]
        assert bool(shown) == (k % 3 == 0)


def test_training_curves_tell_apart_runs_that_differ_in_one_option(world, monkeypatch, tmp_path):
    drawn = []
    monkeypatch.setattr(plots, "save", lambda figure, path: drawn.append(figure) or path.name)
    runs = [world.runs["id-s0"], world.runs["id-lr01"], world.runs["id-s1"]]
    report(inputs=runs, out=tmp_path / "curves")
    curves = next(f for f in drawn if "per epoch" in f.axes[0].get_title())
    legend = [text.get_text() for text in curves.axes[0].get_legend().get_texts()]
    assert legend == ["sasrec · ID-only lr=0.001 (seed 0)", "sasrec · ID-only lr=0.01 (seed 0)",
                      "sasrec · ID-only lr=0.001 (seed 1)"]


def test_training_curves_plot_the_metric_the_runs_chose_their_best_epoch_by(world, monkeypatch,
                                                                          tmp_path):
    drawn = []
    monkeypatch.setattr(plots, "save", lambda figure, path: drawn.append(figure) or path.name)
    run = tiny_run(tmp_path / "by-ndcg20", world.dataset, valid_metric="ndcg@20")
    report(inputs=[run], out=tmp_path / "one")  # the report's primary metric stays ndcg@10
    curves = next(f for f in drawn if "per epoch" in f.axes[0].get_title())
    assert curves.axes[0].get_title() == "Validation ndcg@20 per epoch (★ = best)"
    line, star = curves.axes[0].lines[:2]
    history = read_run(run).history()
    best = read_run(run).meta.stats["best_epoch"]
    assert list(line.get_ydata()) == list(history["valid_ndcg@20"])
    assert list(star.get_xdata()) == [best]  # the run's own best epoch
    drawn.clear()
    report(inputs=[run, world.runs["id-s0"]], out=tmp_path / "mixed")  # ndcg@20 and ndcg@10
    curves = next(f for f in drawn if "per epoch" in f.axes[0].get_title())
    assert curves.axes[0].get_title() == "Validation ndcg@10 per epoch (★ = best)"
