"""`report` on sampled rankings and long-tail groups: every metric label of a sampled ranking says
so (tables, CSV, the papers' layouts, plot axes); the full sort reads as before; groups table."""

from __future__ import annotations

import csv
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from specrec.errors import SpecrecError
from specrec.evaluate.evaluate import evaluate
from specrec.report import figures, plots, report
from specrec.report.layouts import Bars, LambdaPoint, Sweep
from specrec.report.stats import Summary
from specrec.testing.pipeline import quiet, tiny_dataset, tiny_run

SAMPLED = dict(protocol="sampled", negatives=10, sampler="uniform")
LABEL = "sampled-10, uniform"
VALID = {"valid_protocol": "sampled", "valid_negatives": 5}
VALID_LABEL = "sampled-5, uniform"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("report-sampled")
    data = tiny_dataset(root / "ml", n_users=40, n_items=30)
    runs = {seed: tiny_run(root / f"run-s{seed}", data, seed=seed, **VALID) for seed in (0, 1)}
    runs["full"] = tiny_run(root / "run-full", data)
    sampled = [root / f"eval-s{seed}" for seed in (0, 1)]
    for seed, path in zip((0, 1), sampled):
        evaluate(run=runs[seed], out=path, groups=True, device="cpu", log=quiet, **SAMPLED)
    full = root / "eval-full"
    evaluate(run=runs[0], out=full, device="cpu", log=quiet)
    torch.set_num_threads(before)
    return SimpleNamespace(root=root, runs=runs, sampled=sampled, full=full)


def _section(markdown: str, heading_part: str, *, ends: bool = False) -> str:
    """The Markdown section whose `## ` heading contains (or with `ends`, ends with)
    `heading_part`."""
    sections = markdown.split("\n## ")
    return next(s for s in sections if (s.splitlines()[0].endswith(heading_part) if ends
                                        else heading_part in s.splitlines()[0]))


def _header(section: str) -> list[str]:
    row = next(line for line in section.splitlines() if line.startswith("| label"))
    return [cell.strip() for cell in row.strip("|").split(" | ")]


def test_sampled_tables_say_so_and_the_full_sort_reads_as_before(world, tmp_path):
    out = tmp_path / "report"
    report(inputs=[*world.sampled, world.full], out=out)
    markdown = (out / "results.md").read_text()
    sampled = _section(markdown, f"Results on the test split · ml · protocol loo · pessimistic "
                                 f"ties · history not masked · ranking {LABEL}")
    assert _header(sampled)[3:5] == [f"recall@10 ({LABEL})", f"ndcg@10 ({LABEL})"]
    full = _section(markdown, "history not masked", ends=True)
    assert _header(full)[3:5] == ["recall@10", "ndcg@10"] and "sampled" not in full
    with open(out / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["ranking"] for row in rows) == ["", LABEL]
    metrics = [json.loads((path / "metrics.json").read_text())["metrics"]
               for path in world.sampled]
    row = next(r for r in rows if r["ranking"])
    assert float(row["recall@10"]) == pytest.approx(np.mean([m["recall@10"] for m in metrics]),
                                                    rel=1e-12)


def test_groups_table_holds_the_recorded_group_metrics(world, tmp_path):
    out = tmp_path / "report"
    meta = report(inputs=world.sampled, out=out)
    assert "groups.csv" in meta.stats["files"] and meta.stats["group_rows"] == 1
    groups = [json.loads((path / "metrics.json").read_text())["groups"] for path in world.sampled]
    with open(out / "groups.csv") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["item_counts"], row["head_item_min"], row["long_user_min"]) == ("train", "4", "9")
    assert row["ranking"] == LABEL and row["n"] == "2"
    for dimension, name in (("item", "tail"), ("item", "head"), ("user", "short"),
                            ("user", "long")):
        values = [g[dimension][name]["metrics"].get("ndcg@10") for g in groups]
        if None in values:
            assert row[f"{name} ndcg@10"] == ""
            continue
        assert float(row[f"{name} ndcg@10"]) == pytest.approx(np.mean(values), rel=1e-12)
        assert float(row[f"{name} ndcg@10_std"]) == pytest.approx(np.std(values, ddof=1),
                                                                  rel=1e-9, abs=1e-15)
    sizes = ", ".join(f"{name} {groups[0][d][name]['n_users']}"
                      for d, name in (("item", "tail"), ("item", "head"), ("user", "short"),
                                      ("user", "long")))
    assert row["users"] == sizes
    section = _section((out / "results.md").read_text(), "Long-tail groups")
    assert f"tail recall@10 ({LABEL})" in _header(section)
    assert "tail: train count < 4, head: train count >= 4" in section


def test_selection_layouts_and_curves_carry_both_rankings(world, tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(plots, "save", lambda figure, path: drawn.append(figure) or path.name)
    out = tmp_path / "report"
    report(inputs=world.sampled, out=out, select=True)
    markdown = (out / "results.md").read_text()
    selected = _section(markdown, "Selected on validation")
    assert selected.startswith(f"Selected on validation ndcg@10 ({VALID_LABEL}) · results")
    assert f"recall@10 ({LABEL})" in _header(selected)
    table1 = (out / "table1.md").read_text()
    assert f"ml R@10 ({LABEL})" in table1 and f"ml N@10 ({LABEL})" in table1
    assert f"R@10 ({LABEL})" in (out / "table1.tex").read_text()
    with open(out / "table1.csv") as handle:
        assert {r["metric"] for r in csv.DictReader(handle)} >= {f"recall@10 ({LABEL})"}
    curves = [f for f in drawn if f.axes and "epoch" == f.axes[0].get_xlabel()]
    assert curves[0].axes[0].get_ylabel() == f"valid ndcg@10 ({VALID_LABEL})"


def test_validation_tables_of_unevaluated_runs_say_so(world, tmp_path):
    out = tmp_path / "report"
    report(inputs=[world.runs[0], world.runs["full"]], out=out)
    markdown = (out / "results.md").read_text()
    sampled = _section(markdown, f"protocol loo · ranking {VALID_LABEL}")
    assert f"ndcg@10 ({VALID_LABEL})" in _header(sampled)
    full = _section(markdown, "protocol loo", ends=True)
    assert "ndcg@10" in _header(full) and "sampled" not in full


def test_selection_refuses_validation_rankings_that_differ(world, tmp_path):
    mixed = tmp_path / "eval-mixed"
    evaluate(run=world.runs["full"], out=mixed, device="cpu", log=quiet, **SAMPLED)
    with pytest.raises(SpecrecError, match="validated with different rankings"):
        report(inputs=[world.sampled[0], mixed], out=tmp_path / "report", select=True)


def test_figure_axes_name_the_sampled_ranking(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(plots, "save", lambda figure, path: drawn.append(figure) or path.name)
    summary = Summary(0.3, math.nan, 1)
    bars = Bars("dataset ml", "ndcg@10", ["minilm"], {"ace": {"minilm": summary}}, {}, LABEL)
    figures.plot_encoders(bars, tmp_path, None)
    assert drawn[0].axes[0].get_ylabel() == f"test N@10 ({LABEL})"
    sweep = Sweep("ace, dataset ml", "ndcg@10", "ndcg@10",
                  [LambdaPoint(10.0, summary, summary, True)], LABEL, VALID_LABEL)
    figures.plot_lambda(sweep, tmp_path, None)
    legend = [text.get_text() for text in drawn[-1].axes[0].get_legend().get_texts()]
    assert f"validation N@10 ({VALID_LABEL})" in legend and f"test N@10 ({LABEL})" in legend
    assert drawn[-1].axes[0].get_ylabel() == "score"  # two rankings: not one metric
    full = Sweep("ace, dataset ml", "ndcg@10", "ndcg@10", [LambdaPoint(10.0, summary, summary,
                                                                       True)])
    figures.plot_lambda(full, tmp_path, None)
    assert drawn[-1].axes[0].get_ylabel() == "N@10"
