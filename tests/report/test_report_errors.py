"""Bad inputs to the report stage: one-line SpecrecError and no report directory left behind."""

from __future__ import annotations

import json
import shutil

import pytest

from specrec.artifacts import read_meta
from specrec.errors import SpecrecError
from specrec.report import report
from specrec.testing.pipeline import tiny_evaluation

LABELS = ("sasrec · ID-only lr=0.001", "sasrec · ID-only lr=0.01")


def fails(inputs, out, match: str, **options) -> str:
    with pytest.raises(SpecrecError, match=match) as info:
        report(inputs=inputs, out=out, **options)
    message = str(info.value)
    assert "\n" not in message
    assert not (out / "results.md").exists()  # no report written, nothing replaced
    assert not list(out.parent.glob(f"{out.name}.tmp-*"))
    return message


@pytest.fixture
def good(tmp_path, world):
    """Copies of two real evaluations whose runs differ only in the learning rate."""
    paths = [tmp_path / "a", tmp_path / "b"]
    for source, path in zip((world.evals["id-s0"], world.evals["id-lr01"]), paths):
        shutil.copytree(source, path)
    return paths


def edit_metrics(path, change) -> None:
    """Rewrite metrics.json of an existing artifact with `change(record)` (a corrupted disk)."""
    record = json.loads((path / "metrics.json").read_text())
    change(record)
    (path / "metrics.json").write_text(json.dumps(record))


def test_missing_path(tmp_path, good):
    fails([*good, tmp_path / "nope"], tmp_path / "out", "does not exist")


def test_unknown_artifact_kind(tmp_path, good, world):
    message = fails([good[0], world.dataset], tmp_path / "out", "of kind 'dataset'")
    assert "metrics, run, transform" in message


def test_directory_without_meta(tmp_path, good):
    (tmp_path / "plain").mkdir()
    fails([tmp_path / "plain"], tmp_path / "out", "not a specrec artifact")


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "is not valid JSON"),
        ('["a list"]', "must hold a JSON object"),
        ('{"split": "test"}', 'no "metrics" object'),
    ],
)
def test_malformed_metrics_json(tmp_path, good, text, match):
    (good[1] / "metrics.json").write_text(text)
    fails(good, tmp_path / "out", match)


@pytest.mark.parametrize("value", [float("nan"), "high", None])
def test_a_metric_that_is_not_a_finite_number(tmp_path, good, value):
    edit_metrics(good[1], lambda record: record["metrics"].update({"ndcg@10": value}))
    fails(good, tmp_path / "out", "not a finite number")


def test_metrics_json_without_the_evaluated_run(tmp_path, good):
    edit_metrics(good[1], lambda record: record.pop("run"))
    fails(good, tmp_path / "out", "does not record the evaluated run")


def test_bad_metric_options(tmp_path, good):
    fails(good, tmp_path / "out", "NAME@K", metrics=["ndcg"])
    message = fails(good, tmp_path / "out", "in none of the inputs", metrics=["ndcg@7"])
    assert "ndcg@10" in message  # the choices are listed


def test_unknown_baseline_lists_labels(tmp_path, good):
    message = fails(good, tmp_path / "out", "baseline 'sasrec'", baseline="sasrec")
    assert "; ".join(f"'{label}'" for label in LABELS) in message


def test_paired_tests_need_ranks(tmp_path, good):
    (good[1] / "ranks.parquet").write_bytes(b"not parquet")
    fails(good, tmp_path / "out", "cannot read user_idx, rank", baseline=LABELS[0])


def test_the_same_evaluation_twice_is_refused_naming_both(tmp_path, good):
    shutil.copytree(good[0], tmp_path / "a-copy")
    message = fails([*good, tmp_path / "a-copy"], tmp_path / "out", "are the same run")
    assert f"'{good[0]}' and '{tmp_path / 'a-copy'}'" in message and "seed 0" in message


def test_one_setting_and_seed_trained_twice_is_refused(tmp_path, world):
    again = tiny_evaluation(tmp_path / "again", world.runs["id-s0-again"])
    message = fails([world.evals["id-s0"], again], tmp_path / "out", "are the same run")
    assert str(world.evals["id-s0"]) in message and str(again) in message


def test_runs_with_one_setting_and_seed_are_refused(tmp_path, world):
    runs = [world.runs["id-s0"], world.runs["id-s0-again"]]
    message = fails(runs, tmp_path / "out", "are the same run")
    assert all(str(run) in message for run in runs)


def test_no_inputs(tmp_path):
    fails([], tmp_path / "out", "no inputs")


def test_out_that_is_an_input_is_left_alone(tmp_path, good):
    before = (good[0] / "metrics.json").read_bytes()
    fails(good, good[0], "is the input")
    assert read_meta(good[0]).kind == "metrics"
    assert (good[0] / "metrics.json").read_bytes() == before


def test_out_inside_an_input_or_a_referenced_run_is_refused(tmp_path, good, world):
    fails(good, good[1] / "report", "lies inside the input")
    fails(good, world.runs["id-s0"] / "report", "lies inside")


def test_out_that_is_another_artifact_or_a_folder_is_refused(tmp_path, good, world):
    fails(good, world.runs["gru-s3"], "holds a run artifact")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me\n")
    fails(good, tmp_path / "mine", "non-empty folder")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me\n"


def test_an_earlier_report_is_replaced(tmp_path, good):
    first = report(inputs=good, out=tmp_path / "out")
    second = report(inputs=good[:1], out=tmp_path / "out")
    assert second.fingerprint != first.fingerprint
    assert read_meta(tmp_path / "out").fingerprint == second.fingerprint
