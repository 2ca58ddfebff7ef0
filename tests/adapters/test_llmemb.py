"""LLMEmb's RAT adapter: the Contrastive_Loss2 formula, the teacher run, and the alignment loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adapters_synthetic import N_ITEMS, K

from specrec.errors import SpecrecError
from specrec.models.embedders import EMBEDDERS
from specrec.models.embedders.llmemb import soft_contrastive
from specrec.runs.config import TrainConfig
from specrec.runs.model import load_model
from specrec.train.train import train
from specrec.transform.store import read_table

TINY = {"n_layers": 1, "n_heads": 1, "inner_size": 16}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, dataset):
    """An ID-only SASRec run with dim K (the collaborative teacher)."""
    out = tmp_path_factory.mktemp("teacher") / "run"
    train(
        dataset=dataset,
        out=out,
        config=TrainConfig(dim=K, max_len=6, epochs=1, backbone_options=TINY),
        device="cpu",
        log=lambda m: None,
    )
    return out


def _reference(x: np.ndarray, y: np.ndarray, tau: float) -> float:
    """Contrastive_Loss2 written out element by element (methods.md §3.3)."""
    n = len(x)

    def log_softmax(row):
        return row - np.log(np.exp(row).sum())

    sim = np.array(
        [[np.exp((x[i] @ x[j] + y[i] @ y[j]) / 2 * tau) for j in range(n)] for i in range(n)]
    )
    target = sim / sim.sum(axis=1, keepdims=True)
    forward = [
        -sum(
            target[i, j] * log_softmax(np.array([x[i] @ y[m] / tau for m in range(n)]))[j]
            for j in range(n)
        )
        for i in range(n)
    ]
    backward = [
        -sum(
            target[j, i] * log_softmax(np.array([x[m] @ y[i] / tau for m in range(n)]))[j]
            for j in range(n)
        )
        for i in range(n)
    ]
    return (np.mean(forward) + np.mean(backward)) / 2


def test_align_loss_on_a_3x2_hand_example():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([[0.5, 0.5], [1.0, -1.0], [0.0, 2.0]])
    value = float(soft_contrastive(torch.tensor(x), torch.tensor(y), tau=2.0))
    assert value == pytest.approx(_reference(x, y, 2.0), rel=1e-12)
    assert value == pytest.approx(1.3239585778322782, rel=1e-12)
    # τ divides the logits but multiplies the target similarities: τ = 1 gives another number
    assert float(soft_contrastive(torch.tensor(x), torch.tensor(y), tau=1.0)) == pytest.approx(
        _reference(x, y, 1.0), rel=1e-12
    )


def test_adapter_is_two_linear_maps_without_activation(tables):
    table = read_table(tables["llmemb"])
    adapter = EMBEDDERS.get("llmemb")(N_ITEMS, K, table, {})
    first, last = adapter.head
    assert (first.in_features, first.out_features, last.out_features) == (
        24,
        24,
        K,
    )  # h = min(768, p)
    x = torch.from_numpy(table.basis["features"][1:])
    expected = (x @ first.weight.T + first.bias) @ last.weight.T + last.bias
    torch.testing.assert_close(adapter()[1:], expected)
    assert EMBEDDERS.get("llmemb")(N_ITEMS, K, table, {"h": 5}).head[0].out_features == 5


def test_without_a_teacher_the_alignment_is_off_and_says_so(tables, monkeypatch):
    said = []
    monkeypatch.setattr("specrec.models.embedders.llmemb.log", said.append)
    adapter = EMBEDDERS.get("llmemb")(N_ITEMS, K, read_table(tables["llmemb"]), {})
    assert adapter.aux_loss() is None and adapter.teacher is None
    assert len(said) == 1 and "alignment loss is off" in said[0]


def test_uniform_alignment_equals_alpha_times_the_formula_on_the_sample(tables, teacher):
    table = read_table(tables["llmemb"])
    torch.manual_seed(4)
    plain = EMBEDDERS.get("llmemb")(N_ITEMS, K, table, {})
    torch.manual_seed(4)
    adapter = EMBEDDERS.get("llmemb")(
        N_ITEMS, K, table,
        {"teacher": str(teacher), "align": "uniform", "align_items": 12, "alpha": 0.5, "tau": 2.0},
    )
    # reading the teacher's stored table draws nothing: the student initialises as without it
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), adapter.parameters()))
    expected_teacher = load_model(teacher, N_ITEMS).item_table().detach()
    assert torch.equal(adapter.teacher, expected_teacher) and adapter.teacher.shape == (
        N_ITEMS + 1,
        K,
    )

    torch.manual_seed(9)
    aux = adapter.aux_loss()
    torch.manual_seed(9)
    items = torch.randperm(N_ITEMS)[:12] + 1
    student = adapter().detach()[items]
    expected = 0.5 * soft_contrastive(expected_teacher[items].double(), student.double(), 2.0)
    assert float(aux.detach()) == pytest.approx(float(expected), rel=1e-5)
    aux.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in adapter.parameters())
    assert adapter.teacher.grad is None and not adapter.teacher.requires_grad
    assert "teacher" not in adapter.state_dict()
    off = EMBEDDERS.get("llmemb")(N_ITEMS, K, table, {"teacher": str(teacher), "alpha": 0})
    assert off.aux_loss() is None


def test_bad_teachers_are_refused(tables, teacher, tmp_path):
    table = read_table(tables["llmemb"])
    with pytest.raises(SpecrecError, match="train the teacher with --dim 4"):
        EMBEDDERS.get("llmemb")(N_ITEMS, 4, table, {"teacher": str(teacher)})
    with pytest.raises(SpecrecError):
        EMBEDDERS.get("llmemb")(N_ITEMS, K, table, {"teacher": str(tmp_path / "missing")})


def test_the_teacher_is_an_input_of_the_student(tables, dataset, tmp_path):
    quiet = lambda m: None  # noqa: E731
    teacher = tmp_path / "teacher"

    def teach(seed: int):
        return train(dataset=dataset, out=teacher, device="cpu", log=quiet, config=TrainConfig(
            dim=K, max_len=6, epochs=1, seed=seed, backbone_options=TINY))

    def student(log):
        return train(dataset=dataset, table=tables["llmemb"], out=tmp_path / "student",
                     device="cpu", log=log, config=TrainConfig(
                         dim=K, max_len=6, epochs=1, backbone_options=TINY,
                         embedder_options={"teacher": str(teacher)}))

    first_teacher = teach(0)
    first = student(quiet)
    assert first.inputs["teacher"] == {"path": str(teacher), "kind": "run",
                                       "fingerprint": first_teacher.fingerprint}
    said: list[str] = []
    assert student(said.append).fingerprint == first.fingerprint and "up to date" in said[-1]
    teach(1)  # the teacher retrained in place: the student is stale and trains again
    said.clear()
    again = student(said.append)
    assert again.fingerprint != first.fingerprint and not any("up to date" in m for m in said)
    assert again.inputs["teacher"]["fingerprint"] != first_teacher.fingerprint
