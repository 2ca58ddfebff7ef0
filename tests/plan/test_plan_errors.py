"""Bad experiment files: one line naming the file, the key and what is wrong; nothing written."""

from __future__ import annotations

import pytest
from plan_helpers import TINY_TRAIN, files_under, tiny_inputs, write_experiment

from specrec.cli import main

BASE = """
[experiment]
seeds = [0, 1]
device = "cpu"
"""
ACE = """
[methods.ace]
grid.transform.lambda = [1, 10]
"""

CASES = {  # id: (experiment text, the start of the message after "error: FILE: ")
    "unknown method": (
        BASE + TINY_TRAIN + "[methods.acee]\n",
        "[methods.acee]: unknown transform 'acee'; choose one of: ace, alphafuse"),
    "unknown method key": (
        BASE + TINY_TRAIN + "[methods.mine]\nmethod = \"whitening\"\n",
        "[methods.mine] method: unknown transform 'whitening'"),
    "unknown transform option": (
        BASE + TINY_TRAIN + "[methods.ace]\ngrid.transform.lambd = [1, 10]\n",
        "[methods.ace] grid.transform.lambd: ace has no option 'lambd'; its options are lambda, "
        "std, center, target_erank, solver, seed"),
    "fixed transform option": (
        BASE + TINY_TRAIN + "[methods.pca]\ntransform.lambda = 1\n",
        "[methods.pca] transform.lambda: pca has no option 'lambda'"),
    "unknown train option": (
        BASE + TINY_TRAIN + ACE + "train.learning_rate = 0.1\n",
        "[methods.ace] train.learning_rate: train has no option 'learning_rate'; its options "
        "are dim, max_len, loss"),
    "unknown shared train option": (
        BASE + TINY_TRAIN.replace("epochs = 2", "epoch = 2") + ACE,
        "[train] epoch: train has no option 'epoch'"),
    "unknown backbone": (
        BASE + TINY_TRAIN + "[backbones.sasrek]\n" + ACE,
        "[backbones.sasrek]: unknown backbone 'sasrek'; choose one of: bert4rec, gru4rec, hstu, "
        "sasrec"),
    "unknown backbone option": (
        BASE + TINY_TRAIN.replace("n_heads", "heads") + ACE,
        "[backbones.sasrec] options.heads: backbone sasrec has no option 'heads'"),
    "empty grid list": (
        BASE + TINY_TRAIN + "[methods.id]\nmethod = \"none\"\ngrid.train.lr = []\n",
        "[methods.id] grid.train.lr: the list is empty; give at least one value"),
    "empty seeds": (
        BASE.replace("[0, 1]", "[]") + TINY_TRAIN + ACE,
        "[experiment] seeds: the list is empty; give at least one value"),
    "no seeds": (
        BASE.replace("seeds = [0, 1]", "") + TINY_TRAIN + ACE,
        "[experiment] seeds: missing"),
    "malformed TOML": (
        BASE + TINY_TRAIN + "[methods.ace]\ngrid.transform.lambda = [1, 10\n",
        "malformed TOML:"),
    "unknown section": (
        BASE + TINY_TRAIN + ACE + "[method.pca]\n",
        "[method]: unknown section; the sections are [experiment], [train]"),
    "invalid grid value": (
        BASE + TINY_TRAIN + "[methods.ace]\ngrid.transform.lambda = [1, -1]\n",
        "[methods.ace] grid.transform.lambda: -1 is not a valid lambda for ace: must be >= 0"),
    "duplicate grid value": (
        BASE + TINY_TRAIN + "[methods.ace]\ngrid.transform.lambda = [1, 1.0]\n",
        "[methods.ace] grid.transform.lambda: lists 1.0 twice"),
    "fixed and grid": (
        BASE + TINY_TRAIN + ACE + "transform.lambda = 5\n",
        "[methods.ace] grid.transform.lambda: is also fixed (transform.lambda)"),
    "grid not a list": (
        BASE + TINY_TRAIN + "[methods.ace]\ngrid.transform.lambda = 10\n",
        "[methods.ace] grid.transform.lambda: must be a list of values"),
    "wrong type": (
        BASE + TINY_TRAIN.replace("epochs = 2", "epochs = \"two\"") + ACE,
        "[train] epochs: must be a whole number, not 'two'"),
    "unknown loss": (
        BASE + TINY_TRAIN + ACE + "train.loss = \"cee\"\n",
        "[methods.ace] train.loss: unknown loss 'cee'"),
    "seed in train": (
        BASE + TINY_TRAIN + ACE + "train.seed = 3\n",
        "[methods.ace] train.seed: seeds are [experiment] seeds"),
    "bad valid metric": (
        BASE + "valid_metric = \"ndcg@5\"\n" + TINY_TRAIN + ACE,
        "[experiment] valid_metric: train validates at K = [10, 20]"),
    "ID-only with transform options": (
        BASE + TINY_TRAIN + "[methods.id]\nmethod = \"none\"\ngrid.transform.std = [1]\n",
        "[methods.id] grid.transform.std: an ID-only method"),
    "tune seeds without two-stage": (
        BASE + "tune_seeds = [0]\n" + TINY_TRAIN + ACE,
        "[experiment] tune_seeds: applies only with two_stage = true"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_bad_experiment_is_one_line_naming_file_and_key_and_nothing_is_written(
        case, tmp_path, inputs, capsys):
    text, message = CASES[case]
    if "[datasets." not in text:
        text += tiny_inputs(inputs)
    path = write_experiment(tmp_path, text)
    before = files_under(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", str(path), "--out", str(tmp_path / "plan")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: {path}: {message}"), err
    assert not (tmp_path / "plan").exists()
    assert files_under(tmp_path) == before


def test_a_missing_dataset_artifact_is_named(tmp_path, inputs, capsys):
    text = BASE + TINY_TRAIN + ACE + f'[datasets.syn]\npath = "missing"\n' \
        f'[encoders.syn]\npath = "{inputs["emb"]}"\n'
    path = write_experiment(tmp_path, text)
    with pytest.raises(SystemExit):
        main(["plan", str(path), "--out", str(tmp_path / "plan")])
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: [datasets.syn] path: dataset artifact "), err
    assert not (tmp_path / "plan").exists()


def test_a_method_with_a_transform_needs_an_encoder(tmp_path, inputs, capsys):
    text = BASE + TINY_TRAIN + ACE + f'[datasets.syn]\npath = "{inputs["data"]}"\n'
    path = write_experiment(tmp_path, text)
    with pytest.raises(SystemExit):
        main(["plan", str(path), "--out", str(tmp_path / "plan")])
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: [encoders]: method 'ace' needs item embeddings"), err


@pytest.mark.parametrize("occupant", ["file", "plan of another experiment"])
def test_an_out_that_is_not_a_plan_of_this_experiment_is_refused(occupant, tmp_path, inputs,
                                                                 capsys):
    out = tmp_path / "plan"
    out.mkdir()
    if occupant == "file":
        (out / "notes.txt").write_text("mine")
    else:
        other = write_experiment(tmp_path, BASE + TINY_TRAIN + ACE + tiny_inputs(inputs),
                                 "other.toml")
        main(["plan", str(other), "--out", str(out)])
    path = write_experiment(tmp_path, BASE + TINY_TRAIN + ACE + tiny_inputs(inputs))
    before = files_under(out)
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", str(path), "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: --out '{out}' is a non-empty folder and " in err
    assert files_under(out) == before
