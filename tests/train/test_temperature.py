"""Cosine scoring with a temperature: ⟨u/‖u‖, E_j/‖E_j‖⟩/τ in training and evaluation."""

import pytest
import torch

from specrec.errors import SpecrecError
from specrec.evaluate.evaluate import evaluate
from specrec.evaluate.ranking import target_ranks
from specrec.testing.synthetic import markov_sequences, write_sequences
from specrec.runs.config import TrainConfig
from specrec.runs.model import build_model
from specrec.train.train import train

HSTU = dict(backbone="hstu", dim=16, max_len=10, batch_size=16)


def test_scores_are_cosines_over_the_temperature():
    model = build_model(TrainConfig(temperature=0.05, **HSTU), n_items=30, table=None).eval()
    seq = torch.tensor([[3, 7, 1, 0], [5, 0, 0, 0]])
    lengths = torch.tensor([3, 1])
    user = model(seq, lengths)
    table = model.score_table(model.item_table())
    torch.testing.assert_close(user.norm(dim=-1), torch.full((2,), 20.0))
    torch.testing.assert_close(table[1:].norm(dim=-1), torch.ones(30))
    assert torch.all(table[0] == 0)  # padding stays a zero row
    raw = model.item_table()[1:]
    cosine = (user / user.norm(dim=-1, keepdim=True)) @ (raw / raw.norm(dim=-1, keepdim=True)).T
    torch.testing.assert_close(user @ table[1:].T, cosine / 0.05, rtol=1e-5, atol=1e-5)
    # ranking follows the cosines, not the raw dot products, once the item norms differ
    with torch.no_grad():
        model.embedder.weight[1:] *= torch.linspace(0.1, 10.0, 30)[:, None]
    targets = torch.tensor([4, 9])
    plain = build_model(TrainConfig(**HSTU), n_items=30, table=None).eval()
    plain.load_state_dict(model.state_dict())
    cos_ranks = target_ranks(model(seq, lengths), model.score_table(model.item_table()), targets)
    dot_ranks = target_ranks(plain(seq, lengths), plain.score_table(plain.item_table()), targets)
    assert not torch.equal(cos_ranks, dot_ranks)


def test_a_temperature_run_trains_records_and_evaluates(tmp_path):
    data = tmp_path / "markov"
    write_sequences(data, markov_sequences(60, 30, 16, seed=2), n_items=30)
    config = TrainConfig(temperature=0.1, epochs=15, patience=15, lr=5e-3, **HSTU)
    meta = train(dataset=data, out=tmp_path / "run", config=config, device="cpu")
    assert meta.config["temperature"] == 0.1
    assert meta.stats["best_valid"]["hit@10"] > 0.6  # random ranking: 10/30
    metrics = evaluate(run=tmp_path / "run", out=tmp_path / "eval", device="cpu")
    assert metrics.stats["metrics"]["hit@10"] > 0.6


@pytest.mark.parametrize("tau", [0.0, -1.0])
def test_temperature_must_be_positive(tau):
    with pytest.raises(SpecrecError, match="--temperature must be > 0"):
        TrainConfig(temperature=tau).validate()
