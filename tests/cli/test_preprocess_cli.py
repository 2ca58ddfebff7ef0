"""`specrec preprocess` on the command line: stats table, skip message, one-line errors, exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from specrec.cli import app, main
from specrec.data.dataset import load_dataset

BASE = 881_250_000
EVENTS = "".join(
    f"u{u},i{i},{BASE + 10 * n}\n"
    for n, (u, i) in enumerate([(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2), (3, 3)])
)


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ml100k_prints_the_stats_table(tmp_path):
    out = tmp_path / "ml"
    result = CliRunner().invoke(app, ["preprocess", "ml-100k", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for figure in ("99,287", "1,349", "943", "splits.valid", "text_coverage"):
        assert figure in result.stdout
    dataset = load_dataset(out)
    assert (dataset.n_users, dataset.n_items) == (943, 1349)
    again = CliRunner().invoke(app, ["preprocess", "ml-100k", "--out", str(out)])
    assert again.exit_code == 0 and "up to date" in " ".join(again.stderr.split())


def test_csv_with_columns_protocol_and_options(tmp_path, capsys):
    events = tmp_path / "events.csv"
    events.write_text("who,what,when\n" + EVENTS)
    out = tmp_path / "ds"
    code, stdout, _ = run_main(
        [
            "preprocess",
            "csv",
            str(events),
            "--out",
            str(out),
            "--column",
            "user=who",
            "--column",
            "item=what",
            "--column",
            "time=when",
            "--min-user",
            "2",
            "--min-item",
            "2",
            "--protocol",
            "user-split",
            "--seed",
            "7",
            "--user-order",
            "random",
        ],
        capsys,
    )
    assert code == 0
    dataset = load_dataset(out)
    assert dataset.meta.config["protocol"] == "user-split" and dataset.meta.config["seed"] == 7
    assert dataset.meta.config["user_order"] == "random"
    assert dataset.meta.config["columns"] == {"user": "who", "item": "what", "time": "when"}
    assert (dataset.n_users, dataset.n_items, len(dataset.items)) == (3, 2, 6)  # i3 filtered
    assert "splits.context" in stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["preprocess", "imdb", "--out", "{out}"], "unknown source 'imdb'"),
        (["preprocess", "movielens", "{tmp}/missing", "--out", "{out}"], "does not exist"),
        (
            [
                "preprocess",
                "csv",
                "{csv}",
                "--out",
                "{out}",
                "--column",
                "user=who",
                "--column",
                "item=nope",
                "--column",
                "time=when",
            ],
            "lacks column 'nope'",
        ),
        (
            ["preprocess", "csv", "{csv}", "--out", "{out}", "--column", "user"],
            "--column wants ROLE=NAME",
        ),
        (["preprocess", "ml-100k", "--out", "{out}", "--min-item", "-3"], "--min-item must be"),
        (["preprocess", "ml-100k", "--out", "{out}", "--protocol", "bogus"], "unknown protocol"),
        (
            ["preprocess", "ml-100k", "--out", "{out}", "--test-cutoff", "0.5"],
            "only to --protocol temporal",
        ),
        (
            ["preprocess", "ml-100k", "--out", "{out}", "--user-order", "time"],
            "--user-order applies only to --protocol user-split (got loo)",
        ),
        (
            ["preprocess", "ml-100k", "--out", "{out}", "--protocol", "user-split",
             "--user-order", "latest"],
            "unknown --user-order 'latest'",
        ),
        (
            ["preprocess", "ml-100k", "--out", "{out}", "--rating-threshold", "9"],
            "no interactions left",
        ),
        (["preprocess", "{tmp}/garbage.inter", "--out", "{out}"], "unknown source"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_artifact(tmp_path, capsys, args, message):
    (tmp_path / "e.csv").write_text("who,what,when\n" + EVENTS)
    fill = {"out": str(tmp_path / "out"), "tmp": str(tmp_path), "csv": str(tmp_path / "e.csv")}
    code, stdout, stderr = run_main([a.format(**fill) for a in args], capsys)
    assert code == 2
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and stderr.endswith(errors[0] + "\n"), stderr
    assert message in errors[0]
    assert not (tmp_path / "out").exists()


def test_missing_out_is_a_usage_error(capsys):
    code, _, stderr = run_main(["preprocess", "ml-100k"], capsys)
    assert code == 2 and "--out" in stderr
