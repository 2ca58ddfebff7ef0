"""LLMEmb's RAT adapter: frozen PCA features → Linear → Linear, aligned to a teacher run."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from specrec.console import log
from specrec.errors import SpecrecError
from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder
from specrec.models.embedders.morec import (
    FeatureAdapter,
    adapter_settings,
    frozen_basis,
    positive_int,
    real_option,
)
from specrec.runs.store import read_item_table
from specrec.transform.store import TransformTable

DEFAULTS = {"h": None, "teacher": None, "alpha": 0.01, "tau": 2.0, "align_items": 256}


def soft_contrastive(x: Tensor, y: Tensor, tau: float) -> Tensor:
    """LLMEmb's Contrastive_Loss2 on unnormalised rows x_b (teacher) and y_b (student):

    Z = XYᵀ/τ,  T = softmax_row(((XXᵀ + YYᵀ)/2) · τ)   (τ multiplies, as in the reference code),
    L = ½ · mean_b [ −Σ_j T_bj log softmax(Z_b)_j − Σ_j (Tᵀ)_bj log softmax((Zᵀ)_b)_j ].
    """
    logits = x @ y.T / tau
    targets = torch.softmax((x @ x.T + y @ y.T) / 2 * tau, dim=1)
    forward = -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    backward = -(targets.T * torch.log_softmax(logits.T, dim=1)).sum(dim=1).mean()
    return (forward + backward) / 2


class LLMEmb(FeatureAdapter):
    """E_item = (X W₁ + b₁) W₂ + b₂  (no activation; W₁ ∈ R^{p×h}, W₂ ∈ R^{h×k} xavier-normal).

    X = centred PCA-p scores of E, frozen. With a teacher table T (a trained run's item table),
    aux = α · L_align(T_S, E_item,S) over a fresh uniform sample S of `align_items` items per step
    (drawn from torch's global RNG; the paper aligns the batch's positive items instead).
    """

    def __init__(self, features: Tensor, dim: int, hidden: int, teacher: Tensor | None = None,
                 alpha: float = 0.01, tau: float = 2.0, align_items: int = 256) -> None:
        head = nn.Sequential(nn.Linear(features.shape[1], hidden), nn.Linear(hidden, dim))
        for layer in head:
            nn.init.xavier_normal_(layer.weight)
        super().__init__(features, dim, head)
        self.register_buffer("teacher", teacher, persistent=False)
        self.alpha, self.tau, self.align_items = alpha, tau, align_items

    def aux_loss(self) -> Tensor | None:
        if self.teacher is None or self.alpha == 0:
            return None
        count = min(self.align_items, self.n_items)
        items = (torch.randperm(self.n_items)[:count] + 1).to(self.features.device)
        student = self.head(self.features[items])
        with torch.autocast(device_type=student.device.type, enabled=False):
            loss = soft_contrastive(self.teacher[items].float(), student.float(), self.tau)
        return self.alpha * loss


def load_teacher(path: str | Path, table: TransformTable, n_items: int, dim: int) -> Tensor:
    """The final item table `[N+1, k]` a trained run stored (no model is rebuilt, no RNG used)."""
    teacher = read_item_table(Path(str(path)), like=table.meta)
    if teacher.shape != (n_items + 1, dim):
        raise SpecrecError(
            f"teacher run '{path}' has a {teacher.shape[0]}×{teacher.shape[1]} item table, "
            f"the model needs {n_items + 1}×{dim}; train the teacher with --dim {dim}"
        )
    return torch.from_numpy(teacher)


@EMBEDDERS.register("llmemb")
def build(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    features = frozen_basis(table, "features", n_items)
    assert table is not None
    settings = adapter_settings(table, options, DEFAULTS)
    width = min(768, features.shape[1]) if settings["h"] is None else settings["h"]
    hidden = positive_int(width, "h", "llmemb")
    align_items = positive_int(settings["align_items"], "align_items", "llmemb")
    alpha = real_option(settings["alpha"], "alpha", "llmemb")
    tau = real_option(settings["tau"], "tau", "llmemb", strict=True)
    teacher = None
    if settings["teacher"]:
        teacher = load_teacher(settings["teacher"], table, n_items, dim)
    else:
        log("llmemb: no teacher run given (--embedder-opt teacher=<run dir>); "
            "the alignment loss is off")
    return LLMEmb(features, dim, hidden, teacher, alpha, tau, align_items)
