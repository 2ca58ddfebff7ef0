"""A method's `teacher = {...}`: the plan makes one ID-only teacher run per dataset × seed."""

from __future__ import annotations

import re

import pytest
from plan_helpers import plant_run, write_experiment
from test_plan_makefile import commands

from specrec.errors import SpecrecError
from specrec.plan import plan, select

EXPERIMENT = """
[experiment]
name = "teach"
seeds = [0, 1]
device = "cpu"

[train]
dim = 64
epochs = 20

[datasets.ml-100k]
source = "ml-100k"

[encoders.minilm]
encoder = "minilm"

[backbones.sasrec]
[backbones.gru4rec]

[methods.id]
method = "none"
grid.train.lr = [0.001, 0.0005]

[methods.llmemb]
grid.train.lr = [0.001, 0.0001]
teacher = { backbone = "sasrec", train = { lr = 0.001 } }
"""


def outs(lines: list[str]) -> list[str]:
    return [re.search(r"--out (\S+)", line)[1] for line in lines]


def test_each_seed_gets_its_teacher_and_an_equal_id_only_run_is_that_teacher(tmp_path):
    makefile = plan(write_experiment(tmp_path, EXPERIMENT), tmp_path / "plan").read_text()
    trains = commands(makefile, "train")
    llmemb = [line for line in trains if " --embedder-opt teacher=" in line]
    assert len(llmemb) == 2 * 2 * 2  # lr × backbones × seeds, all with a teacher
    id_runs = {line.split(" --seed ")[1].split()[0]: out for line, out in zip(trains, outs(trains))
               if "--table" not in line and " --backbone sasrec " in line and " --lr 0.001 " in line}
    for line in llmemb:
        seed = line.split(" --seed ")[1].split()[0]
        teacher = re.search(r"--embedder-opt teacher=(\S+)", line)[1]
        assert teacher == id_runs[seed]  # ID-only sasrec lr 1e-3 on the same seed: shared
        out = re.search(r"--out (\S+)", line)[1]
        joined = re.sub(r" \\\n\s*", " ", makefile)
        prerequisites = re.search(rf"^{re.escape(out)}/meta.json: (.*)$", joined, re.M)[1]
        assert f"{teacher}/meta.json" in prerequisites.split()
    assert len(trains) == len(set(outs(trains))) == 2 * 2 * 2 + 2 * 2 * 2  # no extra runs


def test_a_teacher_no_method_trains_is_trained_but_not_evaluated_or_reported(tmp_path):
    text = EXPERIMENT.replace('train = { lr = 0.001 } }', 'train = { lr = 0.002 } }')
    makefile = plan(write_experiment(tmp_path, text), tmp_path / "plan").read_text()
    trains = commands(makefile, "train")
    teachers = {re.search(r"--embedder-opt teacher=(\S+)", line)[1]
                for line in trains if "teacher=" in line}
    assert len(teachers) == 2  # one per seed: the student's backbone does not matter here
    assert len(trains) == 16 + 2
    evaluated = {line.split("$(SPECREC) evaluate ")[1].split()[0]
                 for line in commands(makefile, "evaluate")}
    assert len(evaluated) == 16 and not teachers & evaluated


def test_without_a_backbone_each_student_learns_from_its_own_backbone(tmp_path):
    text = EXPERIMENT.replace('backbone = "sasrec", ', '')
    makefile = plan(write_experiment(tmp_path, text), tmp_path / "plan").read_text()
    for line in commands(makefile, "train"):
        if "teacher=" in line:
            backbone = line.split(" --backbone ")[1].split()[0]
            assert re.search(r"teacher=runs/ml-100k\.id\.(\w+)-", line)[1] == backbone


def test_two_stage_final_runs_bring_their_teachers_on_the_new_seeds(tmp_path):
    text = EXPERIMENT.replace('seeds = [0, 1]', 'seeds = [0, 1]\ntwo_stage = true').replace(
        'train = { lr = 0.001 } }', 'train = { lr = 0.002 } }')
    folder = tmp_path / "plan"
    makefile = plan(write_experiment(tmp_path, text), folder).read_text()
    stage_one = commands(makefile, "train")
    assert all(" --seed 0 " in line for line in stage_one)
    assert len(stage_one) == 8 + 1  # the tuning runs and seed 0's teacher
    for out in outs(stage_one):
        plant_run(folder / out, {"ndcg@10": 0.1})
    final = select(tmp_path / "exp.toml", folder).read_text()
    trains = commands(final, "train")
    teachers = [line for line in trains if "teacher=" not in line and "--table" not in line
                and " --lr 0.002 " in line]
    assert len(teachers) == 1 and " --seed 1 " in teachers[0]
    teacher = re.search(r"--out (\S+)", teachers[0])[1]
    assert all(f"teacher={teacher}" in line for line in trains if "teacher=" in line)
    assert final.index(f"--out {teacher}") < final.index("teacher=")  # its rule is written


@pytest.mark.parametrize("teacher, key, message", [
    ('{ backbone = "bert4rec" }', "teacher.backbone", "no backbone 'bert4rec'"),
    ('{ epochs = 3 }', "teacher.epochs", "unknown key"),
    ('{ train = { speed = 3 } }', "teacher.train.speed", "train has no option 'speed'"),
    ('"sasrec"', "teacher", "must be a table"),
])
def test_bad_teachers_are_one_line_naming_the_key(tmp_path, teacher, key, message):
    text = EXPERIMENT.replace('{ backbone = "sasrec", train = { lr = 0.001 } }', teacher)
    with pytest.raises(SpecrecError) as error:
        plan(write_experiment(tmp_path, text), tmp_path / "plan")
    assert "\n" not in str(error.value)
    assert f"[methods.llmemb] {key}:" in str(error.value) and message in str(error.value)
    assert not (tmp_path / "plan").exists()


def test_a_teacher_option_given_by_hand_as_well_is_refused(tmp_path):
    text = EXPERIMENT.replace('grid.train.lr = [0.001, 0.0001]',
                              'grid.train.lr = [0.001, 0.0001]\nembedder = { teacher = "x" }')
    with pytest.raises(SpecrecError, match=r"teacher: the embedder option 'teacher' is also"):
        plan(write_experiment(tmp_path, text), tmp_path / "plan")
