"""`--set KEY=VALUE` and `[budget]`: dotted keys changed before the checks, recorded in plan.json
and applied again by the two-stage `--select`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from plan_helpers import TINY_TRAIN, plant_run, tiny_inputs, write_experiment
from test_plan_select import FAKE, TWO_STAGE

from specrec.cli import main
from specrec.errors import SpecrecError
from specrec.plan import load_experiment, plan, select
from specrec.plan.overrides import key_parts, parse_override, parse_value
from specrec.plan.spec import SECTIONS

BASE = """
[experiment]
seeds = [0, 1]
device = "cpu"

[methods.id]
method = "none"
grid.train.lr = [0.001, 0.002]
"""


@pytest.mark.parametrize("text, value", [
    ("[0,1]", [0, 1]), ('"amazon2014"', "amazon2014"), ("amazon2014", "amazon2014"),
    ("50", 50), ("5e-4", 5e-4), ("true", True), ('["raw/Beauty"]', ["raw/Beauty"]),
    ("{ n_layers = 1 }", {"n_layers": 1}), ("raw/x y", "raw/x y"), ("", ""),
])
def test_a_value_is_toml_else_a_string(text, value):
    assert parse_value(text) == value


def test_a_key_is_a_dotted_toml_key():
    assert key_parts("methods.ace.grid.transform.lambda") == (
        "methods", "ace", "grid", "transform", "lambda")
    assert key_parts('datasets."ml.100k".source') == ("datasets", "ml.100k", "source")
    assert key_parts("train..dim") is None and key_parts("") is None
    item = parse_override("experiment.seeds=[0, 1]", SECTIONS)
    assert item.parts == ("experiment", "seeds") and item.value == [0, 1]


def test_a_path_given_with_set_is_relative_to_the_current_folder(tmp_path):
    item = parse_override('datasets.main.paths=["raw/Beauty"]', SECTIONS, cwd=str(tmp_path))
    assert item.value == [str(tmp_path / "raw" / "Beauty")]
    assert json.loads(item.text.partition("=")[2]) == item.value  # plan.json keeps it absolute


@pytest.mark.parametrize("text, message", [
    ("train.dim", "--set 'train.dim': expected KEY=VALUE"),
    ("train..dim=3", "--set 'train..dim=3': 'train..dim' is not a dotted TOML key"),
    ("=3", "--set '=3': '' is not a dotted TOML key"),
    ("trian.dim=3", "--set 'trian.dim=3': unknown section 'trian'; the sections are experiment"),
    ("train=3", "--set 'train=3': name a key inside [train]"),
    ("train.dim.x=3", "--set 'train.dim.x=3': 'train.dim' is a value, not a table"),
])
def test_a_malformed_set_is_one_line_naming_it(text, message, tmp_path, inputs, capsys):
    path = write_experiment(tmp_path, BASE + TINY_TRAIN + tiny_inputs(inputs))
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", str(path), "--out", str(tmp_path / "plan"), "--set", text])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {message}"), err
    assert not (tmp_path / "plan").exists()


def test_a_set_value_gets_every_check_of_the_file(tmp_path, inputs):
    path = write_experiment(tmp_path, BASE + TINY_TRAIN + tiny_inputs(inputs))
    with pytest.raises(SpecrecError, match=r"\[train\] epochs: must be a whole number"):
        load_experiment(path, ["train.epochs=two"])
    with pytest.raises(SpecrecError, match=r"\[methods.id\] grid.train.lr: the list is empty"):
        load_experiment(path, ["methods.id.grid.train.lr=[]"])
    exp = load_experiment(path, ["experiment.seeds=[3]", "train.dim=16",
                                 "backbones.sasrec.options.n_layers=2"])
    assert exp.seeds == (3,) and exp.train["dim"] == 16
    assert exp.backbones[0].options["n_layers"] == 2 and exp.overrides[0] == "experiment.seeds=[3]"


BUDGET = """
[budget]
experiment.seeds = [0]
train.dim = 4
methods.id.grid.train.lr = [0.001]
"""


def test_budget_applies_only_when_experiment_budget_is_true(tmp_path, inputs):
    text = BASE + TINY_TRAIN + tiny_inputs(inputs) + BUDGET
    off = load_experiment(write_experiment(tmp_path, text, "off.toml"))
    assert off.seeds == (0, 1) and off.train["dim"] == 8 and not off.budget
    assert len(off.methods[0].configs) == 2
    on_text = text.replace('device = "cpu"', 'device = "cpu"\nbudget = true')
    on = load_experiment(write_experiment(tmp_path, on_text, "on.toml"))
    assert on.seeds == (0,) and on.train["dim"] == 4 and on.budget
    assert [c.label for c in on.methods[0].configs] == ["lr=0.001"]
    full = load_experiment(tmp_path / "on.toml", ["experiment.budget=false"])
    assert full.seeds == (0, 1) and full.train["dim"] == 8 and not full.budget
    mine = load_experiment(tmp_path / "on.toml", ["train.dim=6"])  # a --set beats the budget
    assert mine.budget and mine.train["dim"] == 6 and mine.seeds == (0,)


def test_budget_drop_removes_tables(tmp_path, inputs):
    text = (BASE.replace('device = "cpu"', 'device = "cpu"\nbudget = true') + TINY_TRAIN
            + "[backbones.gru4rec]\n" + tiny_inputs(inputs) + BUDGET
            + 'drop = ["backbones.gru4rec"]\n')
    path = write_experiment(tmp_path, text)
    assert [b.name for b in load_experiment(path).backbones] == ["sasrec"]
    full = load_experiment(path, ["experiment.budget=false"])
    assert [b.name for b in full.backbones] == ["sasrec", "gru4rec"]


@pytest.mark.parametrize("budget, message", [
    ("", r"\[experiment\] budget: is true but the file has no \[budget\] table"),
    ("[budget]\ntrian.dim = 4\n", r"\[budget\] trian.dim: unknown section 'trian'"),
    ('[budget]\ntrain.dim = 4\ndrop = ["backbones.nope"]\n',
     r"\[budget\] drop: 'backbones.nope' names nothing"),
    ('[budget]\ntrain.dim = "four"\n', r"\[train\] dim: must be a whole number"),
])
def test_bad_budgets_are_named(budget, message, tmp_path, inputs):
    text = BASE.replace('device = "cpu"', 'device = "cpu"\nbudget = true') + TINY_TRAIN \
        + tiny_inputs(inputs) + budget
    with pytest.raises(SpecrecError, match=message):
        load_experiment(write_experiment(tmp_path, text))


def test_overrides_are_recorded_and_change_the_fingerprint(tmp_path, inputs):
    path = write_experiment(tmp_path, TWO_STAGE + TINY_TRAIN + tiny_inputs(inputs))
    out = tmp_path / "plan"
    plan(path, out)
    plain = json.loads((out / "plan.json").read_text())
    assert plain["overrides"] == [] and plain["budget"] is False
    plan(path, out, overrides=["experiment.seeds=[0, 1, 2, 3]"])
    record = json.loads((out / "plan.json").read_text())
    assert record["overrides"] == ["experiment.seeds=[0, 1, 2, 3]"]
    assert record["fingerprint"] != plain["fingerprint"]
    assert "--set 'experiment.seeds=[0, 1, 2, 3]'" in (out / "Makefile").read_text()
    plan(path, out, overrides=["train.epochs=3"])
    assert json.loads((out / "plan.json").read_text())["fingerprint"] != record["fingerprint"]


def test_select_applies_the_recorded_overrides(tmp_path, inputs):
    path = write_experiment(tmp_path, TWO_STAGE + TINY_TRAIN + tiny_inputs(inputs))
    out = tmp_path / "plan"
    sets = ["methods.id.grid.train.lr=[0.004, 0.005]", "experiment.seeds=[0, 1, 5]"]
    plan(path, out, overrides=sets)
    configs = json.loads((out / "plan.json").read_text())["groups"][0]["configurations"]
    assert [c["label"] for c in configs] == ["lr=0.004", "lr=0.005"]
    for config, score in zip(configs, (0.1, 0.2)):
        for seed in (0, 1):
            plant_run(out / config["runs"][str(seed)], {"ndcg@10": score})
    final = select(path, out).read_text()  # no overrides given: plan.json's
    selection = json.loads((out / "selection.json").read_text())
    assert selection["seeds"] == [0, 1, 5]
    assert selection["groups"][0]["chosen"]["label"] == "lr=0.005"
    assert f"{configs[1]['runs']['5']}/meta.json:" in final
    with pytest.raises(SpecrecError, match="has changed since"):
        select(path, out, overrides=[])  # the plain file is another experiment


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_make_selects_a_plan_made_with_set(tmp_path, inputs):
    log = tmp_path / "calls.log"
    fake = tmp_path / "fake-specrec"
    real = str(Path(sys.executable).parent / "specrec")
    fake.write_text(FAKE.format(python=sys.executable, log=str(log), real=real))
    fake.chmod(0o755)
    text = TWO_STAGE.replace("tune_seeds = [0, 1]", "tune_seeds = [0]")
    path = write_experiment(tmp_path, text + TINY_TRAIN + tiny_inputs(inputs))
    out = tmp_path / "plan"
    plan(path, out, specrec=str(fake),
         overrides=["methods.id.grid.train.lr=[0.001, 0.002]", "experiment.seeds=[0, 4]"])
    subprocess.run(["make", "-C", str(out), "-j2"], check=True, capture_output=True)
    calls = log.read_text().splitlines()
    select_call = next(c for c in calls if c.startswith("plan "))
    assert "--set" not in select_call  # --select found the overrides in plan.json
    trains = [c for c in calls if c.startswith("train ")]
    assert len(trains) == 2 + 1
    assert any(" --seed 4 " in c and " --lr 0.002 " in c for c in trains)
    chosen = json.loads((out / "selection.json").read_text())["groups"][0]["chosen"]
    assert chosen["label"] == "lr=0.002"
