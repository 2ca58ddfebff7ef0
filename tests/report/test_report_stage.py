"""The report stage end to end on artifacts of the real stages: tables, statistics, CSV, plots."""

from __future__ import annotations

import csv
import statistics

import numpy as np
import pytest
from scipy import stats as scipy_stats

from specrec.artifacts import read_meta
from specrec.report import plots, report
from specrec.report.inputs import load_inputs
from specrec.report.plots import _ordered, ace_lambda
from specrec.report.tables import result_tables, validation_tables
from specrec.runs.store import read_run
from specrec.transform.store import read_diagnostics

BASELINE = "sasrec · ID-only"
LABELS = {"base": BASELINE, "ace": "sasrec · ace", "whiten": "sasrec · whitenrec"}
METRIC_COLUMNS = ["recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr@10", "mrr@20"]


@pytest.fixture(scope="module")
def built(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-out") / "report"
    meta = report(inputs=world.inputs, out=out, baseline=BASELINE, title="ML test")
    return {"out": out, "meta": meta, "inputs": world.inputs, "data": world.data,
            "world": world}


def markdown_table(text: str, heading_start: str) -> list[dict[str, str]]:
    """Rows of the first Markdown table after the heading that starts with `heading_start`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## " + heading_start))
    first = next(i for i in range(start, len(lines)) if lines[i].startswith("|"))
    end = next((i for i in range(first, len(lines)) if not lines[i].startswith("|")), len(lines))
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines[first:end]]
    return [dict(zip(cells[0], row)) for row in cells[2:]]


def csv_rows(path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as handle:
        return {row["label"]: row for row in csv.DictReader(handle)}


def seed_values(scenario, group: str, metric: str) -> list[float]:
    return [metrics[metric] for _, _, metrics in scenario["data"][group].values()]


def test_seeds_aggregate_to_mean_and_sample_std(built):
    rows = csv_rows(built["out"] / "results.csv")
    assert [rows[LABELS[g]]["n"] for g in ("base", "ace", "whiten")] == ["3", "2", "1"]
    assert rows[LABELS["base"]]["seeds"] == "0, 1, 2"
    for group in ("base", "ace"):
        for metric in METRIC_COLUMNS:
            values = seed_values(built, group, metric)
            row = rows[LABELS[group]]
            assert float(row[metric]) == float(np.mean(values))
            assert float(row[f"{metric}_std"]) == float(np.std(values, ddof=1))
            assert float(row[metric]) == pytest.approx(statistics.mean(values), rel=1e-14)
            assert float(row[f"{metric}_std"]) == pytest.approx(statistics.stdev(values), rel=1e-12)
    whiten = rows[LABELS["whiten"]]
    assert float(whiten["ndcg@10"]) == seed_values(built, "whiten", "ndcg@10")[0]
    assert whiten["ndcg@10_std"] == ""  # one seed: no standard deviation


def test_markdown_cells_bold_marks_the_column_maximum(built):
    text = (built["out"] / "results.md").read_text()
    assert text.startswith("# ML test\n")
    rows = markdown_table(text, "Results on the test split")
    assert [r["label"] for r in rows] == list(LABELS.values())
    base = seed_values(built, "base", "ndcg@10")
    expected = f"{np.mean(base):.4f} ± {np.std(base, ddof=1):.4f}"
    assert rows[0]["ndcg@10"] == expected
    for metric in METRIC_COLUMNS:
        means = {g: np.mean(seed_values(built, g, metric)) for g in LABELS}
        top = max(means.values())
        bold = [r["label"] for r in rows if r[metric].startswith("**")]
        assert bold == [LABELS[g] for g in LABELS if means[g] == top], metric


def per_user_ndcg10(scenario, group):
    """Per-user NDCG@10 averaged over seeds, joined on user_idx, built without specrec code."""
    per_seed = []
    for users, ranks, _ in scenario["data"][group].values():
        ranks = np.asarray(ranks, dtype=np.float64)
        values = np.where(ranks <= 10, 1.0 / np.log2(ranks + 1.0), 0.0)
        per_seed.append(dict(zip(users.tolist(), values)))
    common = sorted(set.intersection(*(set(d) for d in per_seed)))
    return common, np.mean(np.stack([[d[u] for u in common] for d in per_seed]), axis=0)


def test_paired_p_values_equal_scipy_on_the_same_vectors(built):
    rows = csv_rows(built["out"] / "results.csv")
    base_users, base_values = per_user_ndcg10(built, "base")
    for group in ("ace", "whiten"):
        users, values = per_user_ndcg10(built, group)
        common = sorted(set(users) & set(base_users))
        x = values[[users.index(u) for u in common]]
        y = base_values[[base_users.index(u) for u in common]]
        row = rows[LABELS[group]]
        assert float(row["p (Wilcoxon)"]) == pytest.approx(scipy_stats.wilcoxon(x, y).pvalue,
                                                           rel=1e-12)
        assert float(row["p (t-test)"]) == pytest.approx(scipy_stats.ttest_rel(x, y).pvalue,
                                                         rel=1e-12)
        mean = np.mean(seed_values(built, group, "ndcg@10"))
        base = np.mean(seed_values(built, "base", "ndcg@10"))
        assert float(row["Δ% ndcg@10"]) == pytest.approx(100 * (mean - base) / base, rel=1e-12)
    assert len(per_user_ndcg10(built, "whiten")[0]) == 55  # the join dropped 5 users
    assert rows[LABELS["base"]]["p (Wilcoxon)"] == ""  # no test of the baseline against itself
    assert float(rows[LABELS["ace"]]["p (t-test)"]) < 1e-3  # ACE's ranks were shifted by 8


def test_csv_reads_back_the_numbers_of_the_tables(built):
    tables = result_tables(load_inputs(built["inputs"]).evaluations, requested=None,
                           primary="ndcg@10", baseline=BASELINE)
    rows = csv_rows(built["out"] / "results.csv")
    assert len(tables) == 1 and len(rows) == 3
    for row in tables[0].rows:
        record = rows[row.info["label"]]
        assert record["table"] == "results" and record["protocol"] == "loo"
        assert record["dataset"] == "ml-test" and record["tie_rule"] == "pessimistic"
        for metric, cell in row.cells.items():
            if metric in tables[0].columns:
                assert float(record[metric]) == cell.mean
                assert int(record[f"{metric}_n"]) == cell.n
        for name, value in row.extras.items():
            assert float(record[name]) == value


def test_runs_without_evaluation_go_to_a_validation_table(built):
    text = (built["out"] / "results.md").read_text()
    rows = markdown_table(text, "Validation")
    assert [r["label"] for r in rows] == ["gru4rec · ID-only"]  # evaluated runs are not listed
    gru = read_run(built["world"].runs["gru-s3"])
    assert rows[0]["ndcg@10"] == f"{gru.best_valid['ndcg@10']:.4f}"
    assert rows[0]["best epoch"] == str(gru.meta.stats["best_epoch"]) and rows[0]["seeds"] == "3"
    assert "not test results" in text
    record = csv_rows(built["out"] / "validation.csv")["gru4rec · ID-only"]
    assert float(record["ndcg@10"]) == gru.best_valid["ndcg@10"]
    assert float(record["recall@10"]) == gru.best_valid["recall@10"]
    assert record["table"] == "validation"


def test_transforms_tabulate_before_after_pairs_including_referenced_ones(built):
    with open(built["out"] / "diagnostics.csv", newline="") as handle:
        by_artifact = {r["artifact"]: r for r in csv.DictReader(handle)}
    # λ=50 and whitenrec were not on the command line: they came through the runs' tables
    assert sorted(by_artifact) == ["lambda-10", "lambda-100", "lambda-50", "whitenrec"]
    tables = built["world"].tables
    for artifact, table in (("lambda-50", "ace-50"), ("whitenrec", "whitenrec")):
        stored = read_diagnostics(tables[table])
        row = by_artifact[artifact]
        assert float(row["mean_cosine_after"]) == stored["output_mean_cosine"]
        assert float(row["mean_cosine_before"]) == stored["input_mean_cosine"]
        assert float(row["effective_rank_after"]) == stored["output_effective_rank"]
    assert {a: r["transform"] for a, r in by_artifact.items()} == {
        "lambda-10": "ace λ=10", "lambda-100": "ace λ=100", "lambda-50": "ace λ=50",
        "whitenrec": "whitenrec"}


def test_pngs_are_written_and_valid(built):
    names = ["spectra.png", "diagnostics.png", "curves.png", "spectrum_lambda-10.png",
             "spectrum_lambda-100.png", "spectrum_lambda-50.png", "spectrum_whitenrec.png"]
    for name in names:
        data = (built["out"] / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width >= 400 and height >= 200 and len(data) > 10_000, name
        assert f"![{name}]({name})" in (built["out"] / "results.md").read_text()
    assert sorted(built["meta"].stats["files"]) == sorted(
        ["results.md", "results.csv", "validation.csv", "diagnostics.csv", "spectra.pdf", *names])
    assert (built["out"] / "spectra.pdf").read_bytes()[:5] == b"%PDF-"


def test_spectra_order_ace_tables_by_lambda(built):
    transforms = load_inputs(built["inputs"]).transforms
    assert [(t.method, ace_lambda(t)) for t in _ordered(transforms)] == [
        ("ace", 10.0), ("ace", 50.0), ("ace", 100.0), ("whitenrec", None)]


def test_meta_and_skip_when_up_to_date(built, capsys, monkeypatch):
    meta = read_meta(built["out"], kind="report")
    assert meta.stats["result_rows"] == 3 and meta.stats["validation_rows"] == 1
    assert meta.items_fingerprint == read_run(built["world"].runs["id-s0"]).meta.items_fingerprint
    # evaluations; runs (gru4rec, then the 5 evaluated runs that still exist); transforms
    assert len(meta.inputs) == 6 + 6 + 4
    before = (built["out"] / "results.md").stat().st_mtime_ns
    monkeypatch.setenv("COLUMNS", "200")
    again = report(inputs=built["inputs"], out=built["out"], baseline=BASELINE, title="ML test")
    captured = capsys.readouterr()
    assert again.fingerprint == meta.fingerprint
    assert (built["out"] / "results.md").stat().st_mtime_ns == before
    assert "up to date" in captured.err
    base = seed_values(built, "base", "ndcg@10")
    assert "sasrec · ace" in captured.out and f"{np.mean(base):.4f}" in captured.out
    assert "N@10" in captured.out and "p (W)" in captured.out


def test_requested_metrics_set_columns_and_primary(built):
    tables = result_tables(load_inputs(built["inputs"]).evaluations,
                           requested=["ndcg@20", "hit@10"], primary="ndcg@20", baseline=BASELINE)
    assert tables[0].columns == ["ndcg@20", "hit@10"]
    assert tables[0].extras[0] == "Δ% ndcg@20"
    ace = tables[0].rows[1]
    mean = np.mean(seed_values(built, "ace", "ndcg@20"))
    base = np.mean(seed_values(built, "base", "ndcg@20"))
    assert ace.extras["Δ% ndcg@20"] == pytest.approx(100 * (mean - base) / base, rel=1e-12)


def test_runs_differing_only_in_seed_aggregate(world):
    paths = [world.runs[f"id-s{seed}"] for seed in (0, 1, 2)]
    (table,) = validation_tables(load_inputs(paths).runs, requested=None)
    (row,) = table.rows
    best = [read_run(path).best_valid["ndcg@10"] for path in paths]
    epochs = [str(read_run(path).meta.stats["best_epoch"]) for path in paths]
    assert row.info["label"] == BASELINE and row.info["seeds"] == "0, 1, 2"
    assert row.info["best epoch"] == ", ".join(epochs)
    assert row.cells["ndcg@10"].mean == pytest.approx(statistics.mean(best), abs=1e-15)
    assert row.cells["ndcg@10"].std == pytest.approx(statistics.stdev(best), abs=1e-15)


def test_training_curves_tell_runs_apart_by_label_and_seed(built, monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plots, "save", lambda figure, path: figures.append(figure) or path.name)
    report(inputs=built["inputs"], out=tmp_path / "again", baseline=BASELINE)
    curves = next(f for f in figures if "per epoch" in f.axes[0].get_title())
    legend = [text.get_text() for text in curves.axes[0].get_legend().get_texts()]
    assert legend == ["gru4rec · ID-only (seed 3)", *(f"{BASELINE} (seed {s})" for s in range(3)),
                      "sasrec · ace (seed 0)", "sasrec · whitenrec (seed 0)"]
