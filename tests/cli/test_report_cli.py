"""`specrec report` on the command line: options reach the stage, bad input exits 2 in one line."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from specrec.cli import app, main
from specrec.testing.pipeline import (
    evaluation_with_ranks,
    quiet,
    tiny_dataset,
    tiny_embeddings,
    tiny_run,
)
from specrec.transform.transform import transform

RANKS = {"base-0": [1, 2, 3, 1, 5, 1], "base-1": [1, 1, 3, 4, 5, 6], "pca": [1, 1, 1, 1, 2, 1]}


@pytest.fixture(scope="module")
def evaluations(tmp_path_factory) -> list[str]:
    """ID-only SASRec (seeds 0, 1) and SASRec on a PCA table (seed 0), with chosen ranks."""
    root = tmp_path_factory.mktemp("report-cli")
    data = tiny_dataset(root / "data", n_users=6, n_items=12, length=6)
    transform(method="pca", embeddings=tiny_embeddings(root / "emb", n_items=12, dim=8),
              out=root / "pca", dim=4, log=quiet)
    runs = {"base-0": tiny_run(root / "base-0", data, dim=4, seed=0),
            "base-1": tiny_run(root / "base-1", data, dim=4, seed=1),
            "pca": tiny_run(root / "run-pca", data, table=root / "pca", dim=4)}
    users = np.arange(1, 7)
    for name, run in runs.items():
        evaluation_with_ranks(root / f"eval-{name}", run, users, np.array(RANKS[name]), ks=(1,))
    return [str(root / f"eval-{name}") for name in RANKS]


def test_report_command_writes_tables(tmp_path, evaluations, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", *evaluations, "--out", str(out),
                                      "--baseline", "sasrec · ID-only", "--metric", "ndcg@1",
                                      "--title", "Tiny"])
    assert result.exit_code == 0, result.output
    assert "Tiny" in (out / "results.md").read_text()
    with open(out / "results.csv", newline="") as handle:
        rows = {row["label"]: row for row in csv.DictReader(handle)}
    base, pca = rows["sasrec · ID-only"], rows["sasrec · pca"]
    # ID-only: ndcg@1 = 3/6 (seed 0) and 2/6 (seed 1) -> mean 5/12; pca: 5/6
    assert float(base["ndcg@1"]) == pytest.approx(5 / 12, abs=1e-15)
    assert base["n"] == "2" and base["seeds"] == "0, 1" and pca["n"] == "1"
    assert float(pca["Δ% ndcg@1"]) == pytest.approx(100.0, abs=1e-12)
    assert "0.4167" in result.stdout and "0.8333" in result.stdout


def test_an_unknown_baseline_lists_the_labels(tmp_path, evaluations, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", *evaluations, "--out", str(tmp_path / "report"), "--baseline", "sasrec"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "'sasrec · ID-only'; 'sasrec · pca'" in err and "\n" not in err


@pytest.mark.parametrize("case", ["unknown kind", "missing path", "malformed json"])
def test_bad_inputs_exit_2_with_one_line(tmp_path, evaluations, capsys, case):
    bad = tmp_path / "bad"
    if case == "unknown kind":
        shutil.copytree(Path(evaluations[0]).parent / "emb", bad)
    elif case == "malformed json":
        shutil.copytree(evaluations[0], bad)
        (bad / "metrics.json").write_text('{"metrics": {"ndcg@1": 0.5}')
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as exit_info:
        main(["report", *evaluations, str(bad), "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert {"unknown kind": "of kind 'embeddings'", "missing path": "does not exist",
            "malformed json": "is not valid JSON"}[case] in err[0]
    assert not out.exists()


def test_out_is_required():
    result = CliRunner().invoke(app, ["report", "somewhere"])
    assert result.exit_code == 2 and "--out" in result.output


def test_a_non_terminal_stdout_shows_every_digit(tmp_path, evaluations, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")  # what a narrow pipe or CI log gets
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", *evaluations, "--out", str(out),
                                      "--baseline", "sasrec · ID-only", "-m", "ndcg@1",
                                      "-m", "recall@1", "-m", "mrr@1"])
    assert result.exit_code == 0, result.output
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    numbers = [f"{float(row[m]):.4f}" for row in rows for m in ("recall@1", "ndcg@1", "mrr@1")]
    numbers += [f"{float(row[f'{m}_std']):.4f}" for row in rows for m in ("ndcg@1",)
                if row[f"{m}_std"]]
    numbers += [f"{float(row['Δ% ndcg@1']):+.2f}%" for row in rows if row["Δ% ndcg@1"]]
    numbers += [f"{float(row[p]):.4f}" for row in rows for p in ("p (Wilcoxon)", "p (t-test)")
                if row[p]]
    assert len(numbers) == 6 + 1 + 1 + 2  # 2 rows × 3 metrics, 1 std, 1 Δ%, 2 p-values
    assert not [n for n in numbers if n not in result.stdout]
    assert "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 60


def test_select_writes_the_selection_and_the_papers_layouts(tmp_path, evaluations, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", *evaluations, "--out", str(out), "--select",
                                      "--valid-metric", "NDCG@10", "--metric", "ndcg@1"])
    assert result.exit_code == 0, result.output
    for name in ("selected.csv", "table1.md", "table1.tex", "table1.csv", "table2.csv",
                 "figure3.png", "figure3.pdf"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "selected.csv", newline="") as handle:
        rows = {row["label"]: row for row in csv.DictReader(handle)}
    assert list(rows) == ["sasrec · ID-only", "sasrec · pca"]
    assert rows["sasrec · ID-only"]["n"] == "2" and rows["sasrec · ID-only"]["configs"] == "1"
    assert float(rows["sasrec · ID-only"]["ndcg@1"]) == pytest.approx(5 / 12, abs=1e-15)
    text = (out / "results.md").read_text()
    assert "Figure 4 is not drawn" in text and "Selected on validation ndcg@10" in text
    assert "Selected on validation ndcg@10" in result.stdout


def test_valid_metric_without_select_exits_2(tmp_path, evaluations, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", *evaluations, "--out", str(tmp_path / "r"), "--valid-metric", "ndcg@10"])
    assert exit_info.value.code == 2
    assert "add --select" in capsys.readouterr().err
