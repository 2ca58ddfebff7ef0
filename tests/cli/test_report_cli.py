"""`specrec report` on the command line: options reach the stage, bad input exits 2 in one line."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from specrec.artifacts import build_artifact
from specrec.cli import app, main


def write_evaluation(path, *, label: str, seed: int, ranks: list[int]) -> None:
    """A minimal metrics artifact: metrics.json (hit/ndcg@1 from the ranks) and ranks.parquet."""
    hits = [float(r == 1) for r in ranks]
    payload = {"split": "test", "protocol": "loo", "tie_rule": "pessimistic",
               "mask_history": False, "n_users": len(ranks), "ks": [1],
               "metrics": {"recall@1": sum(hits) / len(hits), "ndcg@1": sum(hits) / len(hits)},
               "run": {"label": label, "backbone": "sasrec", "loss": "ce", "seed": seed,
                       "dataset": "data/tiny"}}

    def build(tmp):
        (tmp / "metrics.json").write_text(json.dumps(payload))
        pq.write_table(pa.table({"user_idx": pa.array(range(1, len(ranks) + 1), pa.int32()),
                                 "rank": pa.array(ranks, pa.int64())}), tmp / "ranks.parquet")
        return {}

    build_artifact(path, kind="metrics", config=payload["run"], inputs={}, items_fp=None,
                   build=build)


@pytest.fixture
def evaluations(tmp_path):
    write_evaluation(tmp_path / "e0", label="base", seed=0, ranks=[1, 2, 3, 1, 5, 1])
    write_evaluation(tmp_path / "e1", label="base", seed=1, ranks=[1, 1, 3, 4, 5, 6])
    write_evaluation(tmp_path / "e2", label="new", seed=0, ranks=[1, 1, 1, 1, 2, 1])
    return [str(tmp_path / name) for name in ("e0", "e1", "e2")]


def test_report_command_writes_tables(tmp_path, evaluations, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", *evaluations, "--out", str(out),
                                      "--baseline", "base", "--metric", "ndcg@1",
                                      "--title", "Tiny"])
    assert result.exit_code == 0, result.output
    assert "Tiny" in (out / "results.md").read_text()
    with open(out / "results.csv", newline="") as handle:
        rows = {row["label"]: row for row in csv.DictReader(handle)}
    # base: ndcg@1 = 3/6 (seed 0) and 2/6 (seed 1) -> mean 5/12; new: 5/6
    assert float(rows["base"]["ndcg@1"]) == pytest.approx(5 / 12, abs=1e-15)
    assert rows["base"]["n"] == "2" and rows["new"]["n"] == "1"
    assert float(rows["new"]["Δ% ndcg@1"]) == pytest.approx(100.0, abs=1e-12)
    assert "0.4167" in result.stdout and "0.8333" in result.stdout


@pytest.mark.parametrize("case", ["unknown kind", "missing path", "malformed json"])
def test_bad_inputs_exit_2_with_one_line(tmp_path, evaluations, capsys, case):
    if case == "unknown kind":
        build_artifact(tmp_path / "bad", kind="embeddings", config={}, inputs={}, items_fp=None,
                       build=lambda tmp: {})
    elif case == "malformed json":
        write_evaluation(tmp_path / "bad", label="x", seed=0, ranks=[1])
        (tmp_path / "bad" / "metrics.json").write_text('{"metrics": {"ndcg@1": 0.5}')
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as exit_info:
        main(["report", *evaluations, str(tmp_path / "bad"), "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert {"unknown kind": "of kind 'embeddings'", "missing path": "does not exist",
            "malformed json": "is not valid JSON"}[case] in err[0]
    assert not out.exists()


def test_out_is_required():
    result = CliRunner().invoke(app, ["report", "somewhere"])
    assert result.exit_code == 2 and "--out" in result.output
