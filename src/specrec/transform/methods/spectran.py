"""SpecTran adapter input: U and σ of the uncentred SVD E = U Σ Vᵀ over the whole numerical rank."""

from __future__ import annotations

import numpy as np

from specrec.errors import SpecrecError
from specrec.transform.base import (
    SOLVER,
    TRANSFORMS,
    Option,
    Transform,
    TransformInput,
    TransformResult,
    integer,
    optional,
)
from specrec.transform.diagnostics import describe
from specrec.transform.spectral import decompose, project


@TRANSFORMS.register("spectran")
class SpecTran(Transform):
    """E = U Σ Vᵀ (rows 1..N, not centred, as the paper): `/basis/U` = E V_r Σ_r⁻¹ [N+1, r]
    (orthonormal columns, row 0 zeros), `/basis/S` = σ₁ ≥ … ≥ σ_r, r = numerical rank, or
    min(`rank`, numerical rank) when capped (needed by the randomized solver).

    Training builds E_s = U[φ(QKᵀ) + A]ᵀ (models/embedders/spectran.py). Diagnostics compare E
    with the truncated-SVD view U_k Σ_k = E V_k (eq. 4, k = --dim), the table SpecTran's
    spectral encoding starts from.
    """

    name = "spectran"
    options = (Option("rank", None, optional(integer(1)), "cap on r, the spectrum kept"), SOLVER)

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        emb = source.embeddings
        eig = decompose(
            emb, center=False, top=params["rank"], solver=params["solver"], seed=source.seed
        )
        rank = eig.rank if params["rank"] is None else min(params["rank"], eig.rank)
        if rank == 0:
            raise SpecrecError(f"embeddings '{emb.path}' are all zeros; there is no spectrum")
        sigma = eig.singular_values[:rank]
        left = project(emb, eig.vectors[:, :rank] / sigma, dtype=np.float32)
        k = min(source.dim, rank)
        return TransformResult(
            fusion="adapter",
            basis={"U": left, "S": sigma.astype(np.float32)},
            diagnostics=describe(eig, left[:, :k] * sigma[:k]),
            stats={"rank": rank, "numerical_rank": eig.rank, "solver": eig.solver,
                   "sigma_ratio": float(sigma[0] / sigma[-1])},
        )
