"""AlphaFuse (SIGIR'25): frozen standardised principal components; IDs learn in the null space."""

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
    boolean,
    choice,
    integer,
    real,
)
from specrec.transform.diagnostics import describe
from specrec.transform.spectral import decompose, scores


@TRANSFORMS.register("alphafuse")
class AlphaFuse(Transform):
    """E_lang = (sE − μ) P_k Λ_k^{-1/2}, C = np.cov(sE) = (sĒ)ᵀ(sĒ)/(N−1) = P Λ Pᵀ (s = `scale`).

    Stored in `/frozen` (fusion frozen_plus_id); every column has mean 0 and variance 1 over
    items 1..N. Training adds a trainable ID table on the last `null_dim` dims:
    E_item = E_lang + [0, E_ID] (or [E_lang[:, :k−d_n], E_ID] when `cover`); `id_init` zeros |
    normal. The paper used k = 128 with null_dim 64. `scale` (×40 in the code) cancels in the
    table; it only sets the scale of the recorded eigenvalues. Beyond the numerical rank the
    eigenvalues are exactly 0: C's null space, which Λ^{-1/2} cannot standardise, so k stops at
    the rank and the ID dims sit on the last `null_dim` of the k kept components.
    """

    name = "alphafuse"
    options = (
        Option("scale", 40.0, real(0.0, strict=True), "multiply E before the covariance"),
        Option("null_dim", 64, integer(1), "ID dims added on the last null_dim components"),
        Option("cover", False, boolean, "replace (not add to) the last null_dim components"),
        Option("id_init", "zeros", choice("zeros", "normal"), "initial ID table"),
        SOLVER,
    )

    def variants(self, params: dict, dim: int) -> list[tuple[str | None, dict]]:
        if params["null_dim"] > dim:
            raise SpecrecError(
                f"--null-dim {params['null_dim']} exceeds --dim {dim}; the ID part lives inside "
                "the "
                f"table: use --null-dim {dim} or less (AlphaFuse: dim 128, null-dim 64)"
            )
        return [(None, params)]

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        k, scale = source.dim, params["scale"]
        eig = decompose(
            source.embeddings, center=True, top=k, solver=params["solver"], seed=source.seed
        )
        eig.require_rank(k)
        cov_values = scale**2 * eig.values / max(eig.n - 1, 1)
        axes = eig.vectors[:, :k] * (scale / np.sqrt(cov_values[:k]))
        frozen = scores(source.embeddings, eig, axes)
        return TransformResult(
            fusion="frozen_plus_id",
            frozen=frozen,
            diagnostics=describe(eig, frozen),
            params={"covariance": "1/(n-1)", "semantic_dims": k - params["null_dim"]},
            stats={
                "rank": eig.rank,
                "solver": eig.solver,
                "cov_eigenvalues_top": [float(v) for v in cov_values[:16]],
            },
        )
