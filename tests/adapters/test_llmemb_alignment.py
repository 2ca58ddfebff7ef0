"""LLMEmb's alignment on the batch's positive items: the rows aligned, the formula, the wiring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adapters_synthetic import N_ITEMS, K

from specrec.data.dataset import load_dataset
from specrec.errors import SpecrecError
from specrec.models.embedders import EMBEDDERS
from specrec.models.embedders.llmemb import LLMEmb, soft_contrastive
from specrec.models.losses import build_loss
from specrec.runs.config import TrainConfig
from specrec.runs.model import build_model
from specrec.train.loop import Objective
from specrec.train.samples import Samples
from specrec.transform.store import read_table

# float32 rows of size ~1 through matmul, softmax and log: a relative error of a few 1e-7;
# 1e-5 leaves a wide margin and still catches any other set of rows (they differ by > 1e-2).
FLOAT32_REL = 1e-5
TINY_BACKBONE = {"n_layers": 1, "n_heads": 1, "inner_size": 16}


def reference_loss(x: np.ndarray, y: np.ndarray, tau: float) -> float:
    """Contrastive_Loss2 in float64 numpy, row by row (methods.md §3.3)."""
    logits = x @ y.T / tau
    similar = np.exp((x @ x.T + y @ y.T) / 2 * tau)
    targets = similar / similar.sum(axis=1, keepdims=True)

    def log_softmax(rows: np.ndarray) -> np.ndarray:
        return rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))

    forward = -(targets * log_softmax(logits)).sum(axis=1).mean()
    backward = -(targets.T * log_softmax(logits.T)).sum(axis=1).mean()
    return float((forward + backward) / 2)


@pytest.fixture()
def tiny() -> tuple[LLMEmb, np.ndarray, np.ndarray]:
    """4 items, p = 3 features, h = 2, k = 2, hand-set weights and a hand-set teacher table."""
    features = torch.tensor(
        [[0.0, 0.0, 0.0], [1.0, 0.0, -1.0], [0.5, 1.0, 0.5], [-1.0, 0.5, 0.5], [0.0, -1.0, 1.0]]
    )
    teacher = torch.tensor([[0.0, 0.0], [1.0, 0.5], [-0.5, 1.0], [0.0, -1.0], [1.5, 0.0]])
    adapter = LLMEmb(features, dim=2, hidden=2, teacher=teacher, alpha=0.5, tau=2.0)
    first, second = adapter.head
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, 0.0, 0.5], [0.0, -1.0, 1.0]]))
        first.bias.copy_(torch.tensor([0.1, -0.2]))
        second.weight.copy_(torch.tensor([[0.5, 1.0], [-1.0, 0.5]]))
        second.bias.copy_(torch.tensor([0.0, 0.3]))
    x = features.double().numpy()
    w1, b1 = first.weight.detach().double().numpy(), first.bias.detach().double().numpy()
    w2, b2 = second.weight.detach().double().numpy(), second.bias.detach().double().numpy()
    adapter_rows = (x @ w1.T + b1) @ w2.T + b2  # no activation between the two maps
    # rows 1..4: (-0.9, -0.9), (-0.275, -0.9), (-0.525, 0.85), (2.1, 0.6)
    return adapter, teacher.double().numpy(), adapter_rows


def test_batch_alignment_is_the_formula_on_exactly_the_batch_positives(tiny):
    adapter, teacher, rows = tiny
    positives = torch.tensor([2, 4, 2, 1])  # item 2 at two positions: both rows are kept
    state = torch.get_rng_state()
    value = float(adapter.aux_loss(positives).detach())
    assert torch.equal(torch.get_rng_state(), state)  # no sampling in batch mode
    picked = positives.numpy()
    expected = 0.5 * reference_loss(teacher[picked], rows[picked], 2.0)
    assert value == pytest.approx(expected, rel=FLOAT32_REL)
    # the same formula summed element by element in float64 on the rows printed above
    assert value == pytest.approx(0.5 * 1.3214902940901916, rel=FLOAT32_REL)
    deduplicated = 0.5 * reference_loss(teacher[[2, 4, 1]], rows[[2, 4, 1]], 2.0)
    assert abs(value - deduplicated) > 0.1  # duplicates are not removed (1.0795 / 2 there)
    with_padding = torch.tensor([[2, 4, 0], [2, 1, 0]])  # a [B, L] target tensor, 0 = no target
    assert float(adapter.aux_loss(with_padding).detach()) == value  # same rows, same order


def test_batch_alignment_trains_the_head_not_the_teacher(tiny):
    adapter, _, _ = tiny
    adapter.aux_loss(torch.tensor([1, 3])).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in adapter.parameters())
    assert adapter.teacher.grad is None and adapter.features.grad is None
    assert adapter.aux_loss(torch.tensor([], dtype=torch.long)) is None  # nothing to align


def test_batch_alignment_needs_the_targets(tiny):
    adapter, _, _ = tiny
    with pytest.raises(SpecrecError, match="align=batch needs the batch's target items"):
        adapter.aux_loss()


def test_uniform_alignment_ignores_the_targets(tiny):
    adapter, teacher, rows = tiny
    adapter.align, adapter.align_items = "uniform", 3
    torch.manual_seed(5)
    value = float(adapter.aux_loss(torch.tensor([2, 2])).detach())
    torch.manual_seed(5)
    sample = (torch.randperm(4)[:3] + 1).numpy()
    assert value == pytest.approx(0.5 * reference_loss(teacher[sample], rows[sample], 2.0),
                                  rel=FLOAT32_REL)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"align": "diagonal"}, "option align must be one of"),
        ({"align_items": 12}, "align_items sets the sample of align=uniform"),
        ({"align": "uniform", "align_items": 0}, "option align_items must be an integer >= 1"),
    ],
)
def test_bad_alignment_options_are_refused(tables, options, match):
    with pytest.raises(SpecrecError, match=match):
        EMBEDDERS.get("llmemb")(N_ITEMS, K, read_table(tables["llmemb"]), options)


def test_the_defaults_align_on_the_batch(tables):
    table = read_table(tables["llmemb"])
    assert EMBEDDERS.get("llmemb")(N_ITEMS, K, table, {}).align == "batch"
    uniform = EMBEDDERS.get("llmemb")(N_ITEMS, K, table, {"align": "uniform"})
    assert uniform.align == "uniform" and uniform.align_items == 256


@pytest.mark.parametrize("samples", ["prefixes", "windows"])
def test_the_training_objective_passes_the_batch_positives(samples, tables, dataset):
    data = load_dataset(dataset)
    config = TrainConfig(dim=K, max_len=6, samples=samples, backbone_options=TINY_BACKBONE)
    model = build_model(config, data.n_items, read_table(tables["llmemb"]))
    model.embedder.teacher = torch.randn(N_ITEMS + 1, K, generator=torch.Generator().manual_seed(1))
    model.eval()  # no dropout: the two forwards below differ by the alignment term only
    objective = Objective(model, build_loss(config.loss, **config.loss_options))
    batch = next(Samples(data, 6, samples).batches(8, epoch=0, seed=0))
    seen: list[torch.Tensor] = []
    aux_loss = model.embedder.aux_loss
    model.embedder.aux_loss = lambda targets=None: seen.append(targets) or aux_loss(targets)
    total = objective(batch, torch.Generator().manual_seed(0))
    positives = batch.targets[batch.targets > 0]
    assert len(seen) == 1 and torch.equal(seen[0], positives)
    assert (len(positives) == 8) if samples == "prefixes" else (len(positives) > 8)
    model.embedder.alpha = 0.0  # the same step without the alignment term
    plain = objective(batch, torch.Generator().manual_seed(0))
    table = model.embedder().detach()
    expected = 0.01 * soft_contrastive(model.embedder.teacher[positives], table[positives], 2.0)
    # the main loss is bit-identical in both forwards; only the final float32 sum rounds
    # (half an ulp of a loss of ~3.4 is 2.4e-7)
    assert float((total - plain).detach()) == pytest.approx(float(expected), abs=1e-6)
    assert float(expected) > 1e-3
