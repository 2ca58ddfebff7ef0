"""End-to-end training on a learnable synthetic dataset: learning, resume, artifacts, bad input."""

import json

import numpy as np
import polars as pl
import pytest
import torch
from safetensors.torch import load_file

from specrec.artifacts import read_meta
from specrec.cli import main
from specrec.errors import SpecrecError
from specrec.evaluate.evaluate import evaluate
from specrec.testing.synthetic import markov_sequences, write_sequences
from specrec.runs.config import TrainConfig
from specrec.train.train import train

SMALL = dict(dim=16, max_len=10, batch_size=16, backbone_options={"n_layers": 1, "n_heads": 1,
             "inner_size": 32, "hidden_dropout": 0.1, "attn_dropout": 0.1})


@pytest.fixture(scope="module")
def markov(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "markov"
    write_sequences(path, markov_sequences(80, 30, 16, seed=1), n_items=30)
    return path


def test_windows_learn_the_markov_chain(markov, tmp_path):
    meta = train(dataset=markov, out=tmp_path / "run",
                 config=TrainConfig(samples="windows", epochs=25, patience=25, lr=5e-3, **SMALL),
                 device="cpu")
    assert meta.stats["best_valid"]["hit@10"] > 0.7  # random ranking gives 10/30 = 0.33
    for name in ("model.safetensors", "config.json", "history.parquet", "checkpoint.pt", "meta.json"):
        assert (tmp_path / "run" / name).exists()
    history = pl.read_parquet(tmp_path / "run" / "history.parquet")
    assert history.height == 25 and history["loss"][-1] < history["loss"][0]
    assert not (tmp_path / "run.partial").exists()
    torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    metrics = evaluate(run=tmp_path / "run", out=tmp_path / "eval", device="cpu")
    record = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert record["tie_rule"] == "pessimistic" and record["mask_history"] is False
    assert record["n_users"] == 80 and metrics.stats["metrics"]["recall@10"] > 0.6
    ranks = pl.read_parquet(tmp_path / "eval" / "ranks.parquet")
    assert ranks.height == 80 and ranks["rank"].min() >= 1 and ranks["rank"].max() <= 30


def test_rerun_is_skipped_and_force_redoes(markov, tmp_path, capsys):
    config = TrainConfig(samples="windows", epochs=2, **SMALL)
    first = train(dataset=markov, out=tmp_path / "run", config=config, device="cpu")
    again = train(dataset=markov, out=tmp_path / "run", config=config, device="cpu",
                  log=lambda m: print(m))
    assert again.fingerprint == first.fingerprint and "up to date" in capsys.readouterr().out
    redone = train(dataset=markov, out=tmp_path / "run", config=config, device="cpu", force=True,
                   log=lambda m: print(m))
    output = capsys.readouterr().out
    assert "up to date" not in output and "training sasrec" in output
    assert redone.fingerprint == first.fingerprint


def test_resume_after_interruption_reproduces_the_uninterrupted_run(markov, tmp_path):
    config = TrainConfig(samples="prefixes", epochs=4, patience=10, **SMALL)
    train(dataset=markov, out=tmp_path / "full", config=config, device="cpu")

    def interrupt(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(dataset=markov, out=tmp_path / "cut", config=config, device="cpu", on_epoch=interrupt)
    assert (tmp_path / "cut.partial" / "checkpoint.pt").exists() and not (tmp_path / "cut").exists()
    train(dataset=markov, out=tmp_path / "cut", config=config, device="cpu", resume=True)
    full = load_file(str(tmp_path / "full" / "model.safetensors"))
    cut = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert all(torch.equal(full[k], cut[k]) for k in full)
    assert (read_meta(tmp_path / "full").stats["best_valid"]
            == read_meta(tmp_path / "cut").stats["best_valid"])


def test_bad_inputs_fail_cleanly(markov, tmp_path, capsys):
    with pytest.raises(SpecrecError, match="unknown backbone"):
        train(dataset=markov, out=tmp_path / "r", config=TrainConfig(backbone="transformer-xl"))
    with pytest.raises(SpecrecError, match="does not exist"):
        train(dataset=tmp_path / "nope", out=tmp_path / "r")
    with pytest.raises(SpecrecError, match="no option"):
        train(dataset=markov, out=tmp_path / "r", config=TrainConfig(backbone_options={"depth": 3}))
    with pytest.raises(SpecrecError):
        train(dataset=markov, out=tmp_path / "r", config=TrainConfig(lr=-1.0))
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", str(markov), "--out", str(tmp_path / "r"), "--loss", "hinge"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown loss 'hinge'") and "\n" not in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "r.partial").exists()


def test_table_from_another_dataset_is_refused(markov, tmp_path):
    from specrec.artifacts import build_artifact
    from specrec.transform.store import write_table

    table = np.zeros((31, 16), dtype=np.float32)
    table[1:] = np.random.default_rng(0).normal(size=(30, 16))

    def build(tmp):
        write_table(tmp, method="pca", fusion="init", params={}, items_fp="sha256:other",
                    item_table=table)
        return {}

    build_artifact(tmp_path / "t", kind="transform", config={}, inputs={}, items_fp="sha256:other",
                   build=build)
    with pytest.raises(SpecrecError, match="items of dataset .* differ"):
        train(dataset=markov, out=tmp_path / "r", table=tmp_path / "t")
    assert not (tmp_path / "r").exists()
