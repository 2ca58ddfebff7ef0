"""The Makefile: one rule per artifact, shared prefixes built once, stable paths, $(RUN) prefix."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap

import pytest
from plan_helpers import write_experiment

from specrec.plan import plan

ML100K = """
[experiment]
name = "grid"
seeds = [0, 1, 2]
device = "cpu"
threads = 1

[train]
dim = 64
epochs = 20

[datasets.ml-100k]
source = "ml-100k"

[encoders.minilm]
encoder = "minilm"

[backbones.sasrec]
[backbones.gru4rec]
train = { lr = 0.002 }

[methods.ace]
grid.transform.lambda = [1, 10, 100]
grid.train.lr = [0.001, 0.0005]

[methods.pca]

[methods.id]
method = "none"
grid.train.lr = [0.001, 0.003, 0.01]
"""
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def commands(makefile: str, stage: str) -> list[str]:
    """The recipe lines that run `specrec <stage>` (continuation lines joined)."""
    joined = re.sub(r" \\\n\t? *", " ", makefile)
    return [line for line in joined.splitlines()
            if line.startswith("\t") and f"$(SPECREC) {stage} " in line]


@pytest.fixture
def grid(tmp_path):
    path = write_experiment(tmp_path, ML100K)
    return path, plan(path, tmp_path / "plan", specrec="specrec")


def test_shared_prefixes_are_one_rule_each_and_the_grid_is_the_product(grid):
    _, makefile_path = grid
    makefile = makefile_path.read_text()
    assert len(commands(makefile, "preprocess")) == 1
    assert len(commands(makefile, "embed")) == 1  # one per dataset × encoder, for every method
    ace = commands(makefile, "transform ace")
    assert len(ace) == 1 and "--lambda 1,10,100 " in ace[0]  # one SVD for every λ
    assert len(commands(makefile, "transform pca")) == 1  # no grid: one table for its runs
    configs = 3 * 2 + 1 + 3
    assert len(commands(makefile, "train")) == configs * 2 * 3  # × backbones × seeds
    assert len(commands(makefile, "evaluate")) == configs * 2 * 3
    assert len(commands(makefile, "report")) == 2  # report, and report-force
    sweep = re.search(r"--out (tables/ml-100k\.minilm\.ace-[0-9a-f]{8})\n", ace[0] + "\n")[1]
    tables = {re.search(r"--table (\S+)", line)[1] for line in commands(makefile, "train")
              if "--table tables/ml-100k.minilm.ace-" in line}
    assert tables == {f"{sweep}/lambda-{v}" for v in (1, 10, 100)}
    assert re.search(r"--out emb/ml-100k\.minilm-[0-9a-f]{8}\b", commands(makefile, "embed")[0])


def test_every_command_runs_through_run_and_the_ones_made_here_are_precious(grid):
    _, makefile_path = grid
    makefile = makefile_path.read_text()
    recipes = [line for line in makefile.replace("\\\n", " ").splitlines()
               if line.startswith("\t") and "$(SPECREC)" in line]
    assert recipes and all(re.match(r"\t\$\(RUN(_LIGHT)?\) \$\(SPECREC\) ", r) for r in recipes)
    assert all(r.startswith("\t$(RUN) ") for r in recipes if " train " in r or " evaluate " in r)
    assert all(" --resume " in r for r in recipes if "$(SPECREC) train " in r)
    assert "RUN_LIGHT    ?= $(RUN)" in makefile and ".DELETE_ON_ERROR:" in makefile
    assert re.search(r"^\.PRECIOUS: .*\$\(RUNS\).*\$\(EVALUATIONS\)", makefile, re.M)
    assert "REPORT_FLAGS ?= --title grid" in makefile


@needs_make
def test_make_runs_every_command_under_the_given_prefix(grid):
    _, makefile_path = grid
    dry = subprocess.run(["make", "-n", "-C", str(makefile_path.parent), "RUN=srun --gres=gpu:1",
                          "RUN_LIGHT=nice"], capture_output=True, text=True, check=True).stdout
    lines = dry.replace("\\\n", " ").splitlines()
    assert sum(line.startswith("srun --gres=gpu:1 specrec train ") for line in lines) == 60
    assert sum(line.startswith("srun --gres=gpu:1 specrec evaluate ") for line in lines) == 60
    assert sum(line.startswith("nice specrec transform ") for line in lines) == 2
    assert any(line.startswith("nice specrec report ") for line in lines)
    assert not (makefile_path.parent / "runs").exists()  # -n runs nothing


def test_replanning_keeps_unchanged_artifacts_and_a_new_value_adds_only_its_own(grid, tmp_path):
    path, makefile_path = grid
    first = makefile_path.read_text()
    stamp = makefile_path.stat().st_mtime_ns
    plan(path, makefile_path.parent, specrec="specrec")
    assert makefile_path.stat().st_mtime_ns == stamp  # unchanged text: not rewritten
    path.write_text(ML100K.replace("[1, 10, 100]", "[1, 10, 100, 1000]"))
    second = plan(path, makefile_path.parent, specrec="specrec").read_text()
    runs = {re.search(r"--out (\S+)", line)[1] for line in commands(first, "train")}
    new = {re.search(r"--out (\S+)", line)[1] for line in commands(second, "train")}
    assert runs < new and len(new - runs) == 2 * 2 * 3  # λ=1000 × lr × backbones × seeds
    assert "--lambda 1,10,100,1000 " in commands(second, "transform ace")[0]
    sweep = re.search(r"--out (\S+)", commands(first, "transform ace")[0])[1]
    assert f"--out {sweep}" in commands(second, "transform ace")[0]  # the same sweep folder


def test_plan_json_lists_artifacts_and_groups(grid):
    _, makefile_path = grid
    record = json.loads((makefile_path.parent / "plan.json").read_text())
    assert record["experiment"]["name"] == "grid"
    assert len(record["artifacts"]["run"]) == 60 and len(record["artifacts"]["sweep"]) == 1
    groups = [(g["method"], g["backbone"], len(g["configurations"])) for g in record["groups"]]
    assert groups == [("ace", "sasrec", 6), ("ace", "gru4rec", 6), ("pca", "sasrec", 1),
                      ("pca", "gru4rec", 1), ("id", "sasrec", 3), ("id", "gru4rec", 3)]
    assert [g["encoder"] for g in record["groups"]] == ["minilm"] * 4 + [None] * 2


def test_two_stage_trains_only_the_tuning_seed_first_and_includes_the_selection(tmp_path):
    path = write_experiment(tmp_path, ML100K.replace(
        "seeds = [0, 1, 2]", "seeds = [0, 1, 2]\ntwo_stage = true\ntune_seeds = [0]"))
    makefile = plan(path, tmp_path / "plan", specrec="specrec").read_text()
    trains = commands(makefile, "train")
    assert len(trains) == 10 * 2 and all(" --seed 0 " in line for line in trains)
    assert commands(makefile, "evaluate") == []
    assert "\ninclude final.mk\n" in makefile
    assert "final.mk: $(RUNS) plan.json" in makefile
    assert "$(SPECREC) plan $(EXPERIMENT) --out . --select" in makefile
    if shutil.which("make"):  # a dry run shows stage one and trains nothing to plan stage two
        dry = subprocess.run(["make", "-n", "-C", str(tmp_path / "plan")], capture_output=True,
                             text=True, check=True).stdout
        assert dry.count("specrec train ") == 20 and "--select" not in dry
        assert not (tmp_path / "plan" / "runs").exists()


def test_raw_files_are_prerequisites_and_options_reach_the_commands(tmp_path):
    (tmp_path / "raw.csv").write_text("u,i,t\n")
    text = ML100K.replace('[datasets.ml-100k]\nsource = "ml-100k"', textwrap.dedent("""\
        [datasets.ml-100k]
        source = "csv"
        paths = ["raw.csv"]
        columns = { user = "u", item = "i", time = "t" }
        min_user = 3"""))
    text = text.replace('encoder = "minilm"', 'encoder = "minilm"\nnormalize = false')
    makefile = plan(write_experiment(tmp_path, text), tmp_path / "plan").read_text()
    preprocess = commands(makefile, "preprocess")[0]
    raw = str((tmp_path / "raw.csv").resolve())
    assert f"preprocess csv {raw} --protocol loo --min-user 3 --column user=u --column item=i " \
           "--column time=t --out data/ml-100k-" in preprocess
    assert re.search(rf"^data/ml-100k-[0-9a-f]{{8}}/meta.json: {re.escape(raw)}$", makefile, re.M)
    assert " --no-normalize " in commands(makefile, "embed")[0]
    assert all(" --threads 1 " in line and " --device cpu " in line
               for line in commands(makefile, "train"))


@pytest.mark.parametrize("value", [True, False, 3, 0.25, 1e-07, "zeros", "true", "12", "a b"])
def test_key_value_options_read_back_as_written(value):
    from specrec.cli.options import parse_key_values
    from specrec.plan.graph import kv

    assert parse_key_values([kv("opt", value)], "--param") == {"opt": value}


def test_one_embedding_per_dataset_and_encoder_and_id_only_runs_shared_by_encoders(tmp_path):
    text = ML100K.replace('[encoders.minilm]\nencoder = "minilm"', textwrap.dedent("""\
        [encoders.minilm]
        encoder = "minilm"

        [encoders.minilm-cls]
        encoder = "minilm"
        pooling = "cls"

        [datasets.ml-100k-10]
        source = "ml-100k"
        min_user = 10"""))
    makefile = plan(write_experiment(tmp_path, text), tmp_path / "plan").read_text()
    assert len(commands(makefile, "preprocess")) == 2
    embeds = commands(makefile, "embed")
    assert len(embeds) == 4 and sum(" --pooling cls " in line for line in embeds) == 2
    assert len(commands(makefile, "transform ace")) == 4  # a sweep per dataset × encoder
    ace_pca = (3 * 2 + 1) * 2 * 3  # per dataset × encoder: configurations × backbones × seeds
    id_only = 3 * 2 * 3  # per dataset, whatever the encoders
    assert len(commands(makefile, "train")) == 2 * 2 * ace_pca + 2 * id_only
