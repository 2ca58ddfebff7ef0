"""Every adapter × every backbone trains one step through `train`; runs reload for evaluation."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest
import torch
from adapters_synthetic import ADAPTERS, N_ITEMS, K
from safetensors.torch import load_file

from specrec.cli import main
from specrec.errors import SpecrecError
from specrec.evaluate.evaluate import evaluate
from specrec.models.base import BACKBONES
from specrec.runs.config import TrainConfig
from specrec.runs.model import build_model, load_model
from specrec.runs.store import read_run
from specrec.train.train import train
from specrec.transform.store import read_table

TINY = {
    "sasrec": {"n_layers": 1, "n_heads": 1, "inner_size": 16},
    "bert4rec": {"n_layers": 1, "n_heads": 1, "inner_size": 16},
    "gru4rec": {"hidden_size": 16},
    "hstu": {"n_layers": 1},
    "sasrec-af": {},  # already one block, one head
}


def _config(backbone: str, **embedder_options) -> TrainConfig:
    # batch 512 > the ~120 training prefixes: exactly one optimiser step per epoch
    return TrainConfig(
        backbone=backbone,
        backbone_options=TINY[backbone],
        dim=K,
        max_len=6,
        epochs=1,
        batch_size=512,
        embedder_options=embedder_options,
    )


def test_every_backbone_is_covered():
    assert set(TINY) == set(BACKBONES.names())


@pytest.mark.parametrize("backbone", sorted(TINY))
@pytest.mark.parametrize("method", ADAPTERS)
def test_one_step_of_every_adapter_on_every_backbone(method, backbone, tables, dataset, tmp_path):
    config = _config(backbone)
    meta = train(
        dataset=dataset,
        out=tmp_path / "run",
        table=tables[method],
        config=config,
        device="cpu",
        log=lambda m: None,
    )
    history = pl.read_parquet(tmp_path / "run" / "history.parquet")
    assert history.height == 1 and math.isfinite(history["loss"][0]) and history["loss"][0] > 0
    assert meta.stats["rows_per_epoch"] <= 512
    run_config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (run_config["method"], run_config["fusion"]) == (method, "adapter")
    weights = load_file(str(tmp_path / "run" / "model.safetensors"))
    initial = build_model(config, N_ITEMS, read_table(tables[method])).embedder.state_dict()
    moved = [
        name
        for name, value in initial.items()
        if not torch.equal(weights[f"embedder.{name}"], value)
    ]
    assert sorted(moved) == sorted(initial)  # the one step reached every adapter parameter


@pytest.mark.parametrize("method", ADAPTERS)
def test_trained_adapter_reloads_from_weights_and_table(method, tables, dataset, tmp_path):
    train(
        dataset=dataset,
        out=tmp_path / "run",
        table=tables[method],
        config=_config("sasrec"),
        device="cpu",
        log=lambda m: None,
    )
    model = load_model(tmp_path / "run", N_ITEMS)
    table = model.item_table()
    assert table.shape == (N_ITEMS + 1, K * model.embedder.views) and torch.all(table[0] == 0)
    metrics = evaluate(
        run=tmp_path / "run", out=tmp_path / "eval", device="cpu", log=lambda m: None
    )
    assert metrics.stats["n_users"] == 24
    assert 0 <= metrics.stats["metrics"]["ndcg@10"] <= metrics.stats["metrics"]["recall@10"] <= 1


def test_cli_transform_then_train_with_embedder_options(emb_path, dataset, tmp_path, capsys):
    table, run = str(tmp_path / "t"), str(tmp_path / "r")
    main(["transform", "spectran", "--embeddings", str(emb_path), "--out", table, "--dim", str(K),
          "--dataset", str(dataset), "--param", "rank=6"])
    assert read_table(table).basis["U"].shape == (N_ITEMS + 1, 6)
    common = ["--dataset", str(dataset), "--table", table, "--dim", str(K), "--max-len", "6",
              "--epochs", "1", "--device", "cpu"]
    main(["train", "--out", run, *common, "--backbone-opt", "n_layers=1",
          "--backbone-opt", "n_heads=1", "--embedder-opt", "fusion=concat",
          "--embedder-opt", "id_dim=2", "--embedder-opt", "h=4"])
    model = load_model(tmp_path / "r", N_ITEMS)
    assert read_run(tmp_path / "r").config.embedder_options == {"fusion": "concat", "id_dim": 2, "h": 4}
    assert model.embedder.id.shape == (N_ITEMS + 1, 2)
    assert model.embedder.query.shape == (K - 2, 4) and model.embedder.key.shape == (6, 4)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--out", str(tmp_path / "bad"), *common, "--embedder-opt", "fusoin=add"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: item embedder 'spectran' has no option(s) ['fusoin']")
    assert err.count("\n") == 1
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad.partial").exists()


def test_train_refuses_an_adapter_table_of_other_items(tables, tmp_path):
    from specrec.testing.synthetic import markov_sequences, write_sequences

    other = tmp_path / "other"
    write_sequences(other, markov_sequences(10, 12, 6, seed=0), n_items=12)
    with pytest.raises(SpecrecError, match="items of dataset .* differ"):
        train(
            dataset=other,
            out=tmp_path / "r",
            table=tables["morec"],
            config=_config("sasrec"),
            device="cpu",
            log=lambda m: None,
        )


@pytest.mark.parametrize("method, options", [("unisrec", {}), ("rlmrec", {"align_items": 7})])
def test_resume_reproduces_an_adapter_run_with_random_draws(
    method, options, tables, dataset, tmp_path
):
    """Gate noise / item samples come from torch's RNG, which checkpoints carry."""
    config = _config("sasrec", **options)
    config.epochs, config.batch_size = 3, 32
    quiet = {"device": "cpu", "log": lambda m: None, "table": tables[method], "dataset": dataset}
    train(out=tmp_path / "full", config=config, **quiet)

    def interrupt(row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(out=tmp_path / "cut", config=config, on_epoch=interrupt, **quiet)
    train(out=tmp_path / "cut", config=config, resume=True, **quiet)
    full = load_file(str(tmp_path / "full" / "model.safetensors"))
    cut = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert full.keys() == cut.keys() and all(torch.equal(full[k], cut[k]) for k in full)
