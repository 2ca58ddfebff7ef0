"""WhitenRec+ (both whitened views, shared projector, per-item attention) and WhitenRec (`full`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adapters_synthetic import N_ITEMS, K

from specrec.errors import SpecrecError
from specrec.models.embedders import EMBEDDERS
from specrec.transform.store import read_table
from specrec.transform.transform import transform


def build(tables: dict, **options):
    torch.manual_seed(0)
    return EMBEDDERS.get("whitenrec-plus")(N_ITEMS, K, read_table(tables["whitenrec-plus"]),
                                           options).eval()


def mlp(embedder, x: torch.Tensor) -> torch.Tensor:
    first, second = embedder.projector[1], embedder.projector[4]
    hidden = torch.relu(x @ first.weight.T + first.bias)
    return torch.relu(hidden @ second.weight.T + second.bias)


def test_the_views_are_those_of_group_whiten(tables, emb_path, dataset, tmp_path):
    transform(method="group-whiten", embeddings=emb_path, out=tmp_path / "g", dim=K,
              dataset=dataset, params={}, seed=0)
    ours, theirs = read_table(tables["whitenrec-plus"]), read_table(tmp_path / "g")
    assert ours.fusion == "adapter" and ours.item_table is None
    for view in ("full", "group"):
        assert np.array_equal(ours.basis[view], theirs.basis[view])


def test_both_views_share_one_projector_and_are_fused_per_item_by_attention(tables):
    embedder = build(tables)
    basis = read_table(tables["whitenrec-plus"]).basis
    views = [torch.from_numpy(basis[name]) for name in ("full", "group")]
    projected = torch.stack([mlp(embedder, v) for v in views], dim=1)  # one projector for both
    scores = (projected @ embedder.gate.weight.T) @ embedder.query
    weights = torch.softmax(scores, dim=1).detach()
    expected = (weights[..., None] * projected).sum(dim=1)
    expected[0] = 0
    torch.testing.assert_close(embedder(), expected)
    assert 0 < float(weights[1:, 0].min()) < float(weights[1:, 0].max()) < 1  # per item
    first = embedder.projector[1]  # N(0, 0.01²) over 24 × 8 weights: std within ±20% (3.5σ)
    assert abs(float(first.weight.detach().std()) - 0.01) < 0.002
    assert float(first.bias.detach().abs().max()) == 0


def test_views_full_is_whitenrec_as_its_paper_trains_it(tables):
    embedder = build(tables, views="full")
    full = torch.from_numpy(read_table(tables["whitenrec-plus"]).basis["full"])
    expected = mlp(embedder, full)
    expected[0] = 0
    torch.testing.assert_close(embedder(), expected)
    names = {name for name, _ in embedder.named_parameters()}
    assert names == {"projector.1.weight", "projector.1.bias", "projector.4.weight",
                     "projector.4.bias"}  # no gate, no ID table


@pytest.mark.parametrize("options, message", [
    ({"views": "all"}, "views must be one of"),
    ({"dropout": 1.0}, "dropout must be a number >= 0 and < 1"),
    ({"init_std": 0}, "init_std must be a number > 0"),
    ({"gates": 2}, "has no option"),
])
def test_bad_options_are_refused(tables, options, message):
    with pytest.raises(SpecrecError, match=message):
        build(tables, **options)
