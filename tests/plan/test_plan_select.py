"""Two-stage mode: each group's configuration with the best mean validation score is run on every
seed; the choice reads the tuning runs' validation metrics only."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from plan_helpers import TINY_TRAIN, plant_run, tiny_inputs, write_experiment

from specrec.errors import SpecrecError
from specrec.plan import plan, select

TWO_STAGE = """
[experiment]
name = "tune"
seeds = [0, 1, 2]
two_stage = true
tune_seeds = [0, 1]
device = "cpu"

[methods.id]
method = "none"
grid.train.lr = [0.001, 0.002, 0.003]
"""


def candidates(makefile_dir: Path) -> list[dict]:
    record = json.loads((makefile_dir / "plan.json").read_text())
    return record["groups"][0]["configurations"]


def test_the_best_mean_validation_score_is_chosen_and_run_on_every_seed(tmp_path, inputs):
    path = write_experiment(tmp_path, TWO_STAGE + TINY_TRAIN + tiny_inputs(inputs))
    out = tmp_path / "plan"
    plan(path, out)
    configs = candidates(out)
    # A (lr 0.001) has the best single seed, B (lr 0.002) the best mean: B must win
    planted = {0: [0.30, 0.10], 1: [0.20, 0.21], 2: [0.05, 0.05]}
    for config in configs:
        for seed, score in zip((0, 1), planted[config["index"]]):
            plant_run(out / config["runs"][str(seed)], {"ndcg@10": score, "recall@10": 0.9})
    final = select(path, out).read_text()
    selection = json.loads((out / "selection.json").read_text())
    group = selection["groups"][0]
    assert group["chosen"]["index"] == 1 and group["chosen"]["label"] == "lr=0.002"
    assert group["configurations"] == 3
    assert group["chosen"]["mean_valid"] == pytest.approx(0.205)
    assert [c["valid"] for c in group["candidates"]] == [planted[i] for i in range(3)]
    chosen = configs[1]["runs"]
    assert group["final_runs"] == [chosen[str(s)] for s in (0, 1, 2)]
    assert f"{chosen['2']}/meta.json:" in final  # the seed not tuned gets a rule
    assert f"{chosen['0']}/meta.json:" not in final  # tuned seeds are the tuning runs themselves
    evaluations = [line for line in final.splitlines() if "$(SPECREC) evaluate " in line]
    assert len(evaluations) == 3 and all(chosen["0"].rpartition(".s")[0] in e
                                         for e in evaluations)
    assert selection["valid_metric"] == "ndcg@10" and selection["tune_seeds"] == [0, 1]


def test_selection_refuses_missing_tuning_runs_and_a_changed_experiment(tmp_path, inputs):
    path = write_experiment(tmp_path, TWO_STAGE + TINY_TRAIN + tiny_inputs(inputs))
    out = tmp_path / "plan"
    plan(path, out)
    with pytest.raises(SpecrecError, match=r"selection needs the tuning run .*make tune"):
        select(path, out)
    path.write_text(path.read_text().replace("0.003]", "0.004]"))
    with pytest.raises(SpecrecError, match="has changed since"):
        select(path, out)
    assert not (out / "final.mk").exists() and not (out / "selection.json").exists()


FAKE = '''\
#!{python}
"""A stand-in for specrec: train writes a planted run, evaluate and report an empty artifact."""
import json, os, sys
args = sys.argv[1:]
with open({log!r}, "a") as handle:
    handle.write(" ".join(args) + "\\n")
if args[0] == "plan":
    os.execv({real!r}, [{real!r}, *args])
out = args[args.index("--out") + 1]
os.makedirs(out)
stats = {{}}
if args[0] == "train":
    lr = float(args[args.index("--lr") + 1]) if "--lr" in args else 0.001
    decay = float(args[args.index("--weight-decay") + 1]) if "--weight-decay" in args else 0.0
    stats = {{"best_valid": {{"ndcg@10": 0.5 - abs(lr - 0.002) * 100 - decay}}}}
    for name in ("model.safetensors", "history.parquet", "item_table.safetensors"):
        open(os.path.join(out, name), "w").close()
    with open(os.path.join(out, "config.json"), "w") as handle:
        json.dump({{"backbone": "sasrec", "dataset": "data"}}, handle)
kind = {{"train": "run", "evaluate": "metrics", "report": "report"}}[args[0]]
meta = {{"kind": kind, "schema_version": 1, "config": {{}}, "inputs": {{}},
        "items_fingerprint": None, "fingerprint": "sha256:fake", "stats": stats}}
with open(os.path.join(out, "meta.json"), "w") as handle:
    json.dump(meta, handle)
'''


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_make_tunes_selects_and_runs_the_choice_on_every_seed(tmp_path, inputs):
    log = tmp_path / "calls.log"
    fake = tmp_path / "fake-specrec"
    real = str(Path(sys.executable).parent / "specrec")
    fake.write_text(FAKE.format(python=sys.executable, log=str(log), real=real))
    fake.chmod(0o755)
    text = TWO_STAGE.replace("tune_seeds = [0, 1]", "tune_seeds = [0]") + textwrap.dedent("""
        [methods.decay]
        method = "none"
        grid.train.weight_decay = [0.1, 0.0, 0.2]
        """)
    path = write_experiment(tmp_path, text + TINY_TRAIN + tiny_inputs(inputs))
    out = tmp_path / "plan"
    plan(path, out, specrec=str(fake))
    subprocess.run(["make", "-C", str(out), "-j2"], check=True, capture_output=True)
    calls = log.read_text().splitlines()
    trains = [c for c in calls if c.startswith("train ")]
    # seed 0: every configuration (decay's weight_decay=0 is id's lr=0.001: one run), then the
    # two choices on seeds 1 and 2
    assert len(trains) == 5 + 2 * 2
    assert sum(c.startswith("evaluate ") for c in calls) == 2 * 3
    assert sum(c.startswith("report ") for c in calls) == 1
    chosen = [g["chosen"]["label"] for g in json.loads((out / "selection.json").read_text())
              ["groups"]]
    assert chosen == ["lr=0.002", "weight_decay=0"]
    final = [c for c in trains if " --seed 0 " not in c]
    # decay's choice (weight_decay 0) is id's lr=0.001 run, planned once under id's command
    assert sorted(c.split(" --lr ")[1].split()[0] for c in final) == ["0.001"] * 2 + ["0.002"] * 2
    assert not any("--weight-decay" in c for c in final)
    report = next(c for c in calls if c.startswith("report "))
    assert report.count("evals/") == 6
    subprocess.run(["make", "-C", str(out), "-j2"], check=True, capture_output=True)
    assert log.read_text().splitlines() == calls  # nothing left to do, nothing redone
