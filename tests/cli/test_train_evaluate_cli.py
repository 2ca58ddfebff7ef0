"""`specrec train` and `specrec evaluate` from the command line: tables, exit codes, one-line errors."""

import json

import pytest

from specrec.cli import main
from specrec.testing.synthetic import markov_sequences, write_sequences

SMALL = ["--dim", "16", "--max-len", "8", "--backbone-opt", "n_layers=1", "--backbone-opt",
         "n_heads=1", "--samples", "windows", "--epochs", "2", "--device", "cpu"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "data"
    write_sequences(path, markov_sequences(20, 12, 10, seed=3), n_items=12)
    return path


def _run(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_train_then_evaluate(dataset, tmp_path, capsys):
    main(["train", "--dataset", str(dataset), "--out", str(tmp_path / "run"), *SMALL])
    assert "best validation" in capsys.readouterr().out
    main(["evaluate", str(tmp_path / "run"), "--out", str(tmp_path / "eval"), "--k", "5",
          "--mask-history", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "test metrics" in out and "history masked" in out
    record = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert record["ks"] == [5] and record["mask_history"] is True
    assert set(record["metrics"]) == {"hit@5", "mrr@5", "ndcg@5", "recall@5"}


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "{tmp}/missing", "--out", "{tmp}/e"], "does not exist"),
    (["evaluate", "{data}", "--out", "{tmp}/e"], "is a dataset artifact, but a run artifact"),
    (["train", "--dataset", "{data}", "--out", "{tmp}/r", "--samples", "sessions"], "unknown --samples"),
    (["train", "--dataset", "{data}", "--out", "{tmp}/r", "--backbone", "mamba"], "unknown backbone"),
    (["train", "--dataset", "{data}", "--out", "{tmp}/r", "--valid-metric", "auc@10"], "bad metric"),
    (["train", "--dataset", "{data}", "--out", "{tmp}/r", "--backbone-opt", "layers"], "KEY=VALUE"),
    (["train", "--dataset", "{data}", "--out", "{tmp}/r", "--table", "{tmp}/none"], "does not exist"),
])
def test_bad_input_is_one_line_exit_2(dataset, tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path, data=dataset) for a in argv]
    code, _, err = _run(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "r").exists() and not (tmp_path / "e").exists()


def test_usage_error_exits_2(capsys):
    code, _, err = _run(["train", "--dataset"], capsys)
    assert code == 2 and "requires an argument" in err
