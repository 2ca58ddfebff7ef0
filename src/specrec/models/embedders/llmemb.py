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
from specrec.models.losses.soft_contrastive import soft_contrastive
from specrec.runs.store import read_item_table
from specrec.transform.store import TransformTable

DEFAULTS = {"h": None, "teacher": None, "alpha": 0.01, "tau": 2.0, "align": "batch",
            "align_items": None}
ALIGN_MODES = ("batch", "uniform")
UNIFORM_ALIGN_ITEMS = 256


class LLMEmb(FeatureAdapter):
    """E_item = (X W₁ + b₁) W₂ + b₂  (no activation; W₁ ∈ R^{p×h}, W₂ ∈ R^{h×k} xavier-normal).

    X = centred PCA-p scores of E, frozen. With a teacher table T (a trained run's item table),
    aux = α · L_align(T_S, E_item,S) with L_align(X, Y) = `soft_contrastive` =
    ½ · mean_b [CE_soft(Z_b, T_b) + CE_soft((Zᵀ)_b, (Tᵀ)_b)], Z = XYᵀ/τ,
    T = softmax_row(((XXᵀ + YYᵀ)/2) · τ), over the rows S:

    align = "batch" (LLMEmb):  S = (s_1..s_P), the batch's positive items at its P supervised
        positions, duplicates kept (the reference code's `pos[pos != 0]`);
    align = "uniform":         S = a fresh uniform sample of `align_items` distinct items per
        step (torch's global RNG), independent of the batch.
    """

    def __init__(self, features: Tensor, dim: int, hidden: int, teacher: Tensor | None = None,
                 alpha: float = 0.01, tau: float = 2.0, align: str = "batch",
                 align_items: int = UNIFORM_ALIGN_ITEMS) -> None:
        head = nn.Sequential(nn.Linear(features.shape[1], hidden), nn.Linear(hidden, dim))
        for layer in head:
            nn.init.xavier_normal_(layer.weight)
        super().__init__(features, dim, head)
        self.register_buffer("teacher", teacher, persistent=False)
        self.alpha, self.tau, self.align, self.align_items = alpha, tau, align, align_items

    def aligned_items(self, targets: Tensor | None) -> Tensor:
        """The item ids S whose teacher and adapter rows are aligned this step."""
        if self.align == "uniform":
            count = min(self.align_items, self.n_items)
            return (torch.randperm(self.n_items)[:count] + 1).to(self.features.device)
        if targets is None:
            raise SpecrecError(
                "llmemb: align=batch needs the batch's target items, aux_loss(targets); "
                "pass them (the training loop does) or use --embedder-opt align=uniform"
            )
        return targets[targets > 0].to(self.features.device)

    def aux_loss(self, targets: Tensor | None = None) -> Tensor | None:
        if self.teacher is None or self.alpha == 0:
            return None
        items = self.aligned_items(targets)
        if items.numel() == 0:
            return None
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
    align = settings["align"]
    if align not in ALIGN_MODES:
        raise SpecrecError(f"llmemb: option align must be one of {ALIGN_MODES}, not {align!r}")
    if align == "batch" and settings["align_items"] is not None:
        raise SpecrecError(
            "llmemb: option align_items sets the sample of align=uniform; "
            "drop it, or add --embedder-opt align=uniform"
        )
    chosen = settings["align_items"] if settings["align_items"] is not None else UNIFORM_ALIGN_ITEMS
    align_items = positive_int(chosen, "align_items", "llmemb")
    alpha = real_option(settings["alpha"], "alpha", "llmemb")
    tau = real_option(settings["tau"], "tau", "llmemb", strict=True)
    teacher = None
    if settings["teacher"]:
        teacher = load_teacher(settings["teacher"], table, n_items, dim)
    else:
        log("llmemb: no teacher run given (--embedder-opt teacher=<run dir>); "
            "the alignment loss is off")
    return LLMEmb(features, dim, hidden, teacher, alpha, tau, align, align_items)
