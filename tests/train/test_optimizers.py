"""`--optimizer`: Adam, and lazy Adam, whose item rows move only in the steps that look them up."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from specrec.errors import SpecrecError
from specrec.models.base import build_backbone
from specrec.models.embedders.id_table import TrainableTable
from specrec.models.losses import build_loss
from specrec.models.model import SequentialRecommender
from specrec.runs.config import TrainConfig
from specrec.testing.synthetic import markov_sequences, write_sequences
from specrec.train.loop import Objective
from specrec.train import optimizers
from specrec.train.optimizers import LazyAdam, build_optimizer
from specrec.train.samples import Batch
from specrec.train.train import train

LR = 0.01


def _model(n_items: int = 40) -> SequentialRecommender:
    torch.manual_seed(0)
    backbone = build_backbone("sasrec", n_items, dim=8, n_heads=1, n_layers=1, max_len=5,
                              inner_size=16, hidden_dropout=0.0, attn_dropout=0.0)
    return SequentialRecommender(TrainableTable(n_items, 8), backbone).double()


def _batch(seq: list[list[int]]) -> Batch:
    seq_t = torch.tensor(seq)
    return Batch(seq=seq_t, lengths=(seq_t > 0).sum(1), targets=torch.roll(seq_t, -1, 1) * (seq_t > 0),
                 timestamps=torch.zeros(len(seq), seq_t.size(1) + 1))


def _steps(model, optimizer, loss: str, batches: list[Batch], **options) -> None:
    objective = Objective(model, build_loss(loss, **options))
    generator = torch.Generator().manual_seed(0)
    for batch in batches:
        optimizer.zero_grad(set_to_none=True)
        objective(batch, generator).backward()
        optimizer.step()


def test_rows_no_step_looks_up_stay_as_they_are_and_looked_up_rows_take_adams_first_step():
    model = _model()
    before = model.embedder.weight.detach().clone()
    optimizer = build_optimizer(model, TrainConfig(optimizer="lazy-adam", loss="bce", lr=LR),
                                torch.device("cpu"))
    assert isinstance(optimizer, LazyAdam)
    batch = _batch([[3, 5, 7, 0, 0], [5, 9, 11, 2, 0]])
    _steps(model, optimizer, "bce", [batch], negatives=1)
    moved = (model.embedder.weight.detach() != before).any(dim=1)
    state = optimizer.sparse.state[model.embedder.weight]
    touched = state["exp_avg"].abs().sum(dim=1) > 0
    assert moved[[3, 5, 7, 9, 11, 2]].all()  # every history item is looked up
    assert torch.equal(moved, touched)  # rows without a gradient: moments and values untouched
    assert not moved[0] and moved.sum() < 40  # the padding row, and rows never sampled
    # Adam's first step moves each coordinate by lr·g/(|g| + ε): by lr unless g is tiny
    step = (model.embedder.weight.detach() - before)[moved].abs()
    assert step.max() <= LR * (1 + 1e-12) and step.median() > 0.9 * LR


def test_when_every_row_is_looked_up_each_step_it_is_adam(monkeypatch):
    """The sparse update on all rows is Adam's (no weight decay): three steps in float64, with ε
    negligible, since SparseAdam adds ε to √v rather than to Adam's √v̂ (with torch's 1e-8 the
    two differ by 1.5e-5 here, on steps of 0.01)."""
    monkeypatch.setattr(optimizers, "ADAM_EPS", 1e-30)
    every = [list(range(1, 6)), list(range(6, 11))]  # history and targets cover rows 1..10
    batches = [_batch(every)] * 3
    results = []
    for name in ("adam", "lazy-adam"):
        model = _model(n_items=10)
        config = TrainConfig(optimizer=name, loss="sampled-softmax", lr=LR)
        _steps(model, build_optimizer(model, config, torch.device("cpu")), "sampled-softmax",
               batches, negatives=64)  # 128 draws from 10 items: every row is scored
        results.append(model.embedder.weight.detach().clone())
    # float64: the same sums in another order (gathered vs dense scoring), about 1e-16. Only the
    # table: with ε negligible, Adam's steps on the gradients that are zero but for rounding
    # (the key bias's) are ±lr either way, so the other parameters follow the rounding.
    torch.testing.assert_close(results[1], results[0], rtol=1e-12, atol=1e-14)
    assert (results[1] - _model(n_items=10).embedder.weight.detach()).abs()[1:].min() > 0


def test_lazy_adam_refuses_what_it_cannot_do(tmp_path):
    for options, message in [
        ({"loss": "ce"}, "scores every item"),
        ({"loss": "bce", "weight_decay": 0.1}, "no weight decay"),
        ({"loss": "bce", "temperature": 0.05}, "cannot take --temperature"),
        ({"optimizer": "sgd"}, "unknown --optimizer 'sgd'"),
    ]:
        with pytest.raises(SpecrecError, match=message):
            TrainConfig(**{"optimizer": "lazy-adam", **options}).validate()
    frozen = SequentialRecommender(_FrozenTable(), build_backbone("sasrec", 4, dim=8, max_len=5))
    with pytest.raises(SpecrecError, match="needs a trainable item table"):
        build_optimizer(frozen, TrainConfig(optimizer="lazy-adam", loss="bce"), torch.device("cpu"))
    with pytest.raises(SpecrecError, match="runs in one process"):
        build_optimizer(_model(), TrainConfig(optimizer="lazy-adam", loss="bce"),
                        torch.device("cpu"), distributed=True)


class _FrozenTable(torch.nn.Module):
    dim, n_items = 8, 4

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("table", torch.randn(5, 8))

    def forward(self) -> torch.Tensor:
        return self.table


def test_a_lazy_adam_run_records_its_optimizer_and_resumes_exactly(tmp_path):
    data = tmp_path / "markov"
    write_sequences(data, markov_sequences(60, 30, 12, seed=2), n_items=30)
    config = TrainConfig(loss="bce", optimizer="lazy-adam", epochs=3, patience=5, dim=16, max_len=8,
                         batch_size=16, backbone_options={"n_layers": 1, "n_heads": 1})
    train(dataset=data, out=tmp_path / "full", config=config, device="cpu")
    record = json.loads((tmp_path / "full" / "config.json").read_text())
    assert record["optimizer"] == "lazy-adam"

    def interrupt(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(dataset=data, out=tmp_path / "cut", config=config, device="cpu", on_epoch=interrupt)
    train(dataset=data, out=tmp_path / "cut", config=config, device="cpu", resume=True)
    full = load_file(str(tmp_path / "full" / "model.safetensors"))
    cut = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert all(torch.equal(full[k], cut[k]) for k in full)
    adam = TrainConfig(loss="bce", epochs=3, patience=5, dim=16, max_len=8, batch_size=16,
                       backbone_options={"n_layers": 1, "n_heads": 1})
    adam.validate()
    config.validate()
    assert "optimizer" not in adam.record() and config.record()["optimizer"] == "lazy-adam"
