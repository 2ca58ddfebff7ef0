"""SpecTran adapter: sparse attention over the whole spectrum of E + a spectral encoding."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.embedders.base import EMBEDDERS, ItemEmbedder, zero_padding_row
from specrec.models.embedders.morec import (
    adapter_settings,
    frozen_basis,
    positive_int,
    real_option,
)
from specrec.transform.store import TransformTable

FUSIONS = ("add", "concat", "none")
ENCODINGS = ("learned", "sigma", "identity", "none")  # D_d; "sigma"/"identity": Table 3's swaps
DEFAULTS = {"h": 128, "n": 3, "fusion": "add", "id_dim": None, "qk_std": 0.1, "id_std": 0.02,
            "attention": True, "encoding": "learned"}


class SpecTran(ItemEmbedder):
    """E_s = U [φ(Q Kᵀ) + A]ᵀ ∈ R^{(N+1)×d}   (SpecTran eq. 11; d = the spectral output width).

    E = U Σ Vᵀ (uncentred SVD, U ∈ R^{(N+1)×r} and σ₁ ≥ … ≥ σ_r frozen);
    Q ∈ R^{d×h}, K ∈ R^{r×h} ~ N(0, `qk_std`²);  φ(x) = sign(x)·max(|x| − λ, 0) with a learnable
    threshold λ, init 0, clamped ≥ 0;  A = [diag(h(σ₁), …, h(σ_m)), 0] ∈ R^{d×r}, m = min(d, r),
    h(σ) = σ₁ Σ_{j=0..n} α_j (σ/σ₁)^j with shared learnable α_j, init 1 (eqs. 8–10).
    Fusion with an ID table E_ID ~ N(0, `id_std`²): `add` E_item = E_ID + E_s (d = k); `concat`
    E_item = [E_ID, E_s] (E_ID takes `id_dim` of the k dims, E_s the rest); `none` E_item = E_s.

    Table 3's ablations: `attention=False` drops φ(QKᵀ) (E_s = [U_m D_d, 0]); `encoding` "sigma"
    fixes D_d = Σ_d (h(σ) = σ), "identity" D_d = I_d, "none" drops A (E_s = U φ(QKᵀ)ᵀ).
    """

    def __init__(self, left: Tensor, sigma: Tensor, dim: int, inner: int = 128, order: int = 3,
                 fusion: str = "add", id_dim: int | None = None, qk_std: float = 0.1,
                 id_std: float = 0.02, attention: bool = True, encoding: str = "learned") -> None:
        super().__init__(left.shape[0] - 1, dim)
        if fusion not in FUSIONS:
            raise SpecrecError(f"spectran: fusion must be one of {FUSIONS}, not {fusion!r}")
        if encoding not in ENCODINGS:
            raise SpecrecError(f"spectran: encoding must be one of {ENCODINGS}, not {encoding!r}")
        if not attention and encoding == "none":
            raise SpecrecError("spectran: attention=false with encoding=none leaves E_s = 0; "
                               "keep one of them")
        id_dim = {"add": dim, "none": 0}.get(fusion, dim // 2 if id_dim is None else id_dim)
        if fusion == "concat" and not 0 < id_dim < dim:
            raise SpecrecError(
                f"spectran: id_dim must be in 1..{dim - 1} for concat fusion, not {id_dim}"
            )
        self.fusion, self.encoding = fusion, encoding
        self.spectral_dim = dim - id_dim if fusion == "concat" else dim
        rank = sigma.numel()
        self.register_buffer("left", left, persistent=False)
        self.register_buffer("sigma", sigma, persistent=False)
        self.query = self.key = self.threshold = self.alpha = None
        if attention:
            self.query = nn.Parameter(torch.randn(self.spectral_dim, inner) * qk_std)
            self.key = nn.Parameter(torch.randn(rank, inner) * qk_std)
            self.threshold = nn.Parameter(torch.zeros(()))
        if encoding == "learned":
            self.alpha = nn.Parameter(torch.ones(order + 1))
        self.id = nn.Parameter(torch.randn(left.shape[0], id_dim) * id_std) if id_dim else None

    def spectral_weights(self) -> Tensor:
        """h(σ₁), …, h(σ_m): the diagonal of the spectral positional encoding D_d."""
        count = min(self.spectral_dim, self.sigma.numel())
        if self.encoding == "sigma":
            return self.sigma[:count]
        if self.encoding == "identity":
            return torch.ones_like(self.sigma[:count])
        top = self.sigma[0]
        relative = self.sigma[:count] / top
        powers = relative[:, None] ** torch.arange(self.alpha.numel(), device=relative.device)
        return top * (powers @ self.alpha)

    def attention(self) -> Tensor:
        """φ(Q Kᵀ) ∈ R^{d×r}: soft-shrunk scores (identity while λ = 0)."""
        scores = self.query @ self.key.T
        return torch.sign(scores) * torch.relu(scores.abs() - self.threshold.clamp(min=0))

    def semantic(self) -> Tensor:
        """E_s = U φ(QKᵀ)ᵀ + [U_m diag(h(σ)), 0]  (A reaches the first m columns only)."""
        attended = self.left @ self.attention().T if self.query is not None else None
        if self.encoding == "none":
            return attended
        weights = self.spectral_weights()
        count = weights.numel()
        encoded = self.left[:, :count] * weights
        if count < self.spectral_dim:
            padding = encoded.new_zeros(encoded.shape[0], self.spectral_dim - count)
            encoded = torch.cat([encoded, padding], dim=1)
        return encoded if attended is None else attended + encoded

    def forward(self) -> Tensor:
        spectral = self.semantic()
        if self.fusion == "add":
            spectral = spectral + self.id
        elif self.fusion == "concat":
            spectral = torch.cat([self.id, spectral], dim=1)
        return zero_padding_row(spectral)


@EMBEDDERS.register("spectran")
def build(n_items: int, dim: int, table: TransformTable | None, options: dict) -> ItemEmbedder:
    left = frozen_basis(table, "U", n_items)
    assert table is not None
    sigma = table.basis.get("S")
    if sigma is None or sigma.ndim != 1 or sigma.shape[0] != left.shape[1] or not sigma[0] > 0:
        raise SpecrecError(
            f"basis/S of '{table.path}' must hold the {left.shape[1]} singular values of U's "
            "columns, largest first; rerun `specrec transform spectran --force`"
        )
    settings = adapter_settings(table, options, DEFAULTS)
    id_dim = settings["id_dim"]
    return SpecTran(
        left, torch.as_tensor(sigma, dtype=torch.float32), dim,
        inner=positive_int(settings["h"], "h", "spectran"),
        order=positive_int(settings["n"], "n", "spectran", minimum=0),
        fusion=str(settings["fusion"]),
        id_dim=None if id_dim is None else positive_int(id_dim, "id_dim", "spectran"),
        qk_std=real_option(settings["qk_std"], "qk_std", "spectran"),
        id_std=real_option(settings["id_std"], "id_std", "spectran"),
        attention=switch(settings["attention"], "attention"),
        encoding=str(settings["encoding"]),
    )


def switch(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise SpecrecError(f"spectran: {name} must be true or false, not {value!r}")
    return value
