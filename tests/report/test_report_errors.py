"""Bad inputs to the report stage: one-line SpecrecError and no report directory left behind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from specrec.artifacts import build_artifact, read_meta
from specrec.errors import SpecrecError
from specrec.report import report

USERS = np.arange(1, 11)


def fails(inputs, out, match: str, **options) -> str:
    with pytest.raises(SpecrecError, match=match) as info:
        report(inputs=inputs, out=out, **options)
    message = str(info.value)
    assert "\n" not in message
    assert not out.exists()
    assert not list(out.parent.glob(f"{out.name}.tmp-*"))
    return message


@pytest.fixture
def good(tmp_path, make):
    """Two evaluations (labels `a` and `b`) of the same dataset."""
    make.metrics(tmp_path / "a", label="a", seed=0, users=USERS, ranks=USERS)
    make.metrics(tmp_path / "b", label="b", seed=0, users=USERS, ranks=USERS[::-1])
    return [tmp_path / "a", tmp_path / "b"]


def rewrite_metrics(path, text: str) -> None:
    """Replace metrics.json inside an existing artifact (as a corrupted disk would)."""
    (path / "metrics.json").write_text(text)


def test_missing_path(tmp_path, good):
    fails([*good, tmp_path / "nope"], tmp_path / "out", "does not exist")


def test_unknown_artifact_kind(tmp_path, good):
    build_artifact(tmp_path / "ds", kind="dataset", config={}, inputs={}, items_fp=None,
                   build=lambda tmp: {})
    message = fails([good[0], tmp_path / "ds"], tmp_path / "out", "of kind 'dataset'")
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
        ('{"metrics": {"ndcg@10": NaN}}', "not a finite number"),
        ('{"metrics": {"ndcg@10": "high"}}', "not a finite number"),
    ],
)
def test_malformed_metrics_json(tmp_path, good, text, match):
    rewrite_metrics(good[1], text)
    fails(good, tmp_path / "out", match)


def test_bad_metric_options(tmp_path, good):
    fails(good, tmp_path / "out", "NAME@K", metrics=["ndcg"])
    message = fails(good, tmp_path / "out", "in none of the inputs", metrics=["ndcg@7"])
    assert "ndcg@10" in message  # the choices are listed


def test_unknown_baseline_lists_labels(tmp_path, good):
    message = fails(good, tmp_path / "out", "baseline 'c'", baseline="c")
    assert "'a'; 'b'" in message


def test_paired_tests_need_ranks(tmp_path, good):
    (good[1] / "ranks.parquet").write_bytes(b"not parquet")
    fails(good, tmp_path / "out", "cannot read user_idx, rank", baseline="a")


def test_the_same_run_twice_is_refused(tmp_path, good, make):
    make.metrics(tmp_path / "a-copy", label="a", seed=0, users=USERS, ranks=USERS)
    fails([*good, tmp_path / "a-copy"], tmp_path / "out", "are the same run")


def test_no_inputs(tmp_path):
    fails([], tmp_path / "out", "no inputs")


def test_out_that_is_another_artifact_is_left_alone(tmp_path, good):
    out = good[0]
    with pytest.raises(SpecrecError, match="is a metrics artifact, not a report"):
        report(inputs=[good[1]], out=out)
    assert read_meta(out).kind == "metrics" and json.loads((out / "metrics.json").read_text())
