"""LLM-ESR's item embedder: [trainable PCA-initialised ID view; adapter of the frozen LLM view]."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.base import gather_last
from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder, zero_padding_row
from specrec.models.embedders.morec import adapter_settings, frozen_basis, positive_int, real_option
from specrec.transform.store import TransformTable

DEFAULTS = {"h": None, "alpha": 0.1, "sim_users": 10}
USER_ARRAYS = ("user_neighbours", "user_offsets", "user_items", "user_times")


class LLMESR(ItemEmbedder):
    """E_item = [E_id ; A(X)] ∈ R^{(N+1)×2k}, row 0 = 0, read by `DualView` as two views:

      E_id = a trainable table, initialised with PCA-k of E (`basis/id_init`);
      A(X) = (X W₁ + b₁) W₂ + b₂, X = E frozen (`basis/features`), W₁ ∈ R^{D×h}, W₂ ∈ R^{h×k}
             xavier-normal, no activation (LLM-ESR's adapter, h = 768 for D = 1536).

    So ⟨u, e_j⟩ = ⟨u_id, e_id,j⟩ + ⟨u_llm, A(x_j)⟩ for u = [u_id; u_llm]. Retrieval-augmented
    self-distillation (`distill`, LLM-ESR's `--user_sim_func kd`):

      L_sd = α · mean_{b,d} (u_b − ū_b)²_d,   ū_b = (1/m) Σ_{v ∈ S_m(user_b)} sg(u(H_v))

    u_b = the model's state at row b's last position, S_m = the user's first m = `sim_users`
    stored similar users, H_v = v's training events but the last (≤ max_len of them: LLM-ESR's
    `_get_user_seq`), u(H_v) = the state at H_v's last position, computed by the same model in
    its current mode (dropout included, as LLM-ESR) on this step's item table, without
    gradients (sg).
    """

    views = 2

    def __init__(self, features: Tensor, id_init: Tensor, hidden: int, users: dict[str, Tensor],
                 alpha: float = 0.1, sim_users: int = 10) -> None:
        k = id_init.shape[1]
        super().__init__(features.shape[0] - 1, 2 * k)
        self.register_buffer("features", features, persistent=False)
        self.id = nn.Parameter(id_init.clone())
        self.adapter = nn.Sequential(nn.Linear(features.shape[1], hidden), nn.Linear(hidden, k))
        for layer in self.adapter:
            nn.init.xavier_normal_(layer.weight)
        for name, array in users.items():
            self.register_buffer(name, array, persistent=False)
        self.alpha, self.sim_users = alpha, sim_users

    def forward(self) -> Tensor:
        return zero_padding_row(torch.cat([self.id, self.adapter(self.features)], dim=1))

    def histories(self, users: Tensor, max_len: int) -> tuple[Tensor, Tensor, Tensor]:
        """Right-padded H_v `[M, ≤ max_len]`, lengths `[M]` and timestamps `[M, width + 1]`
        (the last valid column + 1 holds the time of v's last training event, H_v's target)."""
        first, end = self.user_offsets[users], self.user_offsets[users + 1] - 1
        lengths = (end - first).clamp(min=0, max=max_len)
        start = end - lengths
        width = max(int(lengths.max()), 1)
        cols = torch.arange(width + 1, device=users.device)
        index = (start[:, None] + cols[None, :]).clamp(max=max(len(self.user_items) - 1, 0))
        seq = torch.where(cols[None, :width] < lengths[:, None],
                          self.user_items[index[:, :width]].long(), 0)
        times = torch.where(cols[None, :] <= lengths[:, None], self.user_times[index], 0)
        return seq, lengths, times

    def distill(self, model: nn.Module, batch, hidden: Tensor, table: Tensor) -> Tensor | None:
        if self.alpha == 0:
            return None
        if batch.users is None:
            raise SpecrecError(
                "llmesr: the self-distillation needs each row's user (Batch.users, filled by "
                "train.samples.Samples); build batches there or set --embedder-opt alpha=0"
            )
        neighbours = self.user_neighbours[batch.users, : self.sim_users]
        known = neighbours > 0
        has = known.any(dim=1)
        if not bool(has.any()):
            return None
        unique, inverse = torch.unique(neighbours[known], return_inverse=True)
        with torch.no_grad():
            seq, lengths, times = self.histories(unique, model.max_len)
            states = widened(gather_last(
                model.hidden(seq, lengths, table.detach(), timestamps=times), lengths))
            summed = states.new_zeros(neighbours.shape + states.shape[1:])
            summed[known] = states[inverse]
            target = summed.sum(dim=1) / known.sum(dim=1, keepdim=True).clamp(min=1)
        user = widened(gather_last(hidden, batch.lengths)).to(target.dtype)
        return self.alpha * F.mse_loss(user[has], target[has])


def widened(states: Tensor) -> Tensor:
    """float16/bfloat16 (autocast) states as float32; float32 and float64 as they are."""
    return states.float() if states.dtype in (torch.float16, torch.bfloat16) else states


def user_arrays(table: TransformTable, n_items: int) -> dict[str, Tensor]:
    """The transform's per-user arrays as tensors, checked against each other."""
    missing = [name for name in USER_ARRAYS if name not in table.basis]
    if missing:
        raise SpecrecError(
            f"transform '{table.path}' has no basis/{missing[0]}; "
            "rerun `specrec transform llmesr --dataset <dataset> --force`"
        )
    arrays = {name: np.asarray(table.basis[name]) for name in USER_ARRAYS}
    offsets, items = arrays["user_offsets"], arrays["user_items"]
    consistent = (
        arrays["user_neighbours"].ndim == 2
        and len(offsets) == arrays["user_neighbours"].shape[0] + 1
        and offsets[-1] == len(items) == len(arrays["user_times"])
        and (items.size == 0 or 1 <= items.min() and items.max() <= n_items)
        and arrays["user_neighbours"].max(initial=0) < len(offsets) - 1
    )
    if not consistent:
        raise SpecrecError(
            f"the per-user arrays of '{table.path}' do not fit together or these {n_items} "
            "items; rerun `specrec transform llmesr --force`"
        )
    return {name: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))
            for name, a in arrays.items()}


@EMBEDDERS.register("llmesr")
def build(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    features = frozen_basis(table, "features", n_items)
    id_init = frozen_basis(table, "id_init", n_items)
    assert table is not None
    if id_init.shape[1] != dim:
        raise SpecrecError(
            f"transform '{table.path}' initialises a {id_init.shape[1]}-wide ID view, the model's "
            f"per-view --dim is {dim}; train with --dim {id_init.shape[1]} or rerun the "
            f"transform with --dim {dim}"
        )
    settings = adapter_settings(table, options, DEFAULTS)
    width = min(768, features.shape[1]) if settings["h"] is None else settings["h"]
    hidden = positive_int(width, "h", "llmesr")
    alpha = real_option(settings["alpha"], "alpha", "llmesr")
    sim_users = positive_int(settings["sim_users"], "sim_users", "llmesr")
    users = user_arrays(table, n_items)
    stored = users["user_neighbours"].shape[1]
    if sim_users > stored:
        raise SpecrecError(
            f"llmesr: sim_users {sim_users} exceeds the {stored} similar users the transform "
            f"stored; use --embedder-opt sim_users={stored} or less"
        )
    return LLMESR(features, id_init, hidden, users, alpha, sim_users)
