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
