"""Rows are settings (a run's recorded config minus its seed); labels: the shortest that differ."""

from __future__ import annotations

import csv

import pytest

from specrec.report import report
from specrec.report.settings import run_fields, setting_key, setting_labels, varying_parts
from specrec.runs.store import read_run


def labels_of(out) -> list[str]:
    with open(out / "results.csv", newline="") as handle:
        return [row["label"] for row in csv.DictReader(handle)]


@pytest.mark.parametrize("first, second, labels", [
    ("ace-auto", "ace-auto-e5", ["sasrec · ace encoder=minilm", "sasrec · ace encoder=e5"]),
    ("id-s0", "id-dim16", ["sasrec · ID-only dim=8", "sasrec · ID-only dim=16"]),
    ("id-s0", "id-lr01", ["sasrec · ID-only lr=0.001", "sasrec · ID-only lr=0.01"]),
    ("ace-10", "ace-100", ["sasrec · ace λ=10", "sasrec · ace λ=100"]),
], ids=["encoder", "dim", "lr", "lambda"])
def test_runs_differing_in_one_field_get_a_row_each_with_distinct_labels(world, tmp_path, first,
                                                                         second, labels):
    out = tmp_path / "report"
    meta = report(inputs=[world.evals[first], world.evals[second]], out=out, baseline=labels[0])
    assert labels_of(out) == labels
    assert meta.stats["result_rows"] == 2
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["n"] for row in rows] == ["1", "1"]
    assert rows[0]["Δ% ndcg@10"] == "" and rows[1]["Δ% ndcg@10"] != ""  # tested vs the baseline


def test_students_of_their_own_seeds_teacher_share_one_setting(world):
    base = read_run(world.runs["id-s0"]).record

    def student(seed: int, teacher: str) -> dict:
        return {**base, "seed": seed, "method": "llmemb",
                "embedder_options": {"teacher": str(world.runs[teacher]), "align": 0.1}}

    seeds = [student(seed, f"id-s{seed}") for seed in (0, 1, 2)]
    assert len({setting_key(record) for record in seeds}) == 1
    assert setting_key(student(0, "id-dim16")) != setting_key(seeds[0])  # another teacher setting
    unreadable = {**seeds[0], "embedder_options": {"teacher": "no/such/run", "align": 0.1}}
    assert "no/such/run" in setting_key(unreadable)


def test_labels_add_only_the_fields_that_differ_within_a_base_label(world, tmp_path):
    names = ["id-s0", "id-dim16", "id-lr01", "pca", "whitenrec"]
    report(inputs=[world.evals[name] for name in names], out=tmp_path / "report")
    assert labels_of(tmp_path / "report") == [
        "sasrec · ID-only dim=8, lr=0.001", "sasrec · ID-only dim=16, lr=0.001",
        "sasrec · ID-only dim=8, lr=0.01", "sasrec · pca", "sasrec · whitenrec"]


def test_the_demo_labels_stay_as_they_were(world, tmp_path):
    names = ["id-s0", "pca", "ace-10", "ace-100"]
    report(inputs=[world.evals[name] for name in names], out=tmp_path / "report",
           baseline="sasrec · ID-only")
    assert labels_of(tmp_path / "report") == ["sasrec · ID-only", "sasrec · pca",
                                              "sasrec · ace λ=10", "sasrec · ace λ=100"]


def test_the_setting_is_the_whole_record_but_the_seed(world):
    records = [read_run(world.runs[f"id-s{seed}"]).record for seed in (0, 1, 2)]
    assert len({setting_key(record) for record in records}) == 1
    assert len({record["seed"] for record in records}) == 3
    others = [read_run(world.runs[name]).record for name in ("id-dim16", "id-lr01", "gru-s3")]
    assert len({setting_key(record) for record in [records[0], *others]}) == 4
    assert "seed" not in {name for _, name, _ in run_fields(records[0]).values()}


def test_every_recorded_field_can_tell_settings_apart(world):
    record = read_run(world.runs["ace-10"]).record
    changed = {**record, "optimizer": "sgd"}
    assert setting_key(changed) != setting_key(record)
    assert setting_labels([record, changed], ["a", "b"]) == [
        "sasrec · ace optimizer=adam", "sasrec · ace optimizer=sgd"]
    options = {**record, "backbone_options": {**record["backbone_options"], "n_layers": 2}}
    assert setting_labels([record, options], ["a", "b"]) == [
        "sasrec · ace n_layers=1", "sasrec · ace n_layers=2"]


def test_settings_that_print_alike_fall_back_to_the_artifact_name(world):
    record = read_run(world.runs["id-s0"]).record
    close = {**record, "lr": record["lr"] * (1 + 1e-9)}
    assert setting_labels([record, close], ["run-a", "run-b"]) == [
        "sasrec · ID-only [run-a]", "sasrec · ID-only [run-b]"]


def test_a_table_path_written_two_ways_is_one_setting(world):
    record = read_run(world.runs["pca"]).record
    respelled = {**record, "table": f"{record['table']}/./", "seed": 1}
    assert setting_key(respelled) == setting_key(record)


def test_selected_hyperparameters_are_every_option_that_varies_not_derived_values(world):
    ten = read_run(world.runs["ace-10"]).record
    hundred = {**read_run(world.runs["ace-100"]).record, "lr": 0.0005}
    assert ten["table_params"]["gamma"] != hundred["table_params"]["gamma"]  # derived, hidden
    candidates = [run_fields(ten), run_fields(hundred)]
    assert varying_parts("ace", candidates) == [["λ=10", "lr=0.001"], ["λ=100", "lr=0.0005"]]
    moved = {**ten, "table": "elsewhere/lambda-10"}  # differs in nothing but a path
    assert varying_parts("ace", [run_fields(ten), run_fields(moved)]) == [
        [f"table={ten['table']}"], ["table=elsewhere/lambda-10"]]
    assert varying_parts("ace", [run_fields(ten)]) == [[]]


def test_a_field_is_dropped_again_when_the_others_tell_rows_apart(world):
    records = [read_run(world.runs[name]).record for name in ("ace-auto", "ace-auto-e5", "ace-10")]
    # encoder alone cannot split minilm λ=auto from minilm λ=10; λ alone splits all three
    assert setting_labels(records, ["a", "b", "c"]) == [
        f"sasrec · ace λ=auto (={records[0]['table_params']['lambda_value']:.3g})",
        f"sasrec · ace λ=auto (={records[1]['table_params']['lambda_value']:.3g})",
        "sasrec · ace λ=10"]
