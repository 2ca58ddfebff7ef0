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
    optional,
    real,
)
from specrec.transform.diagnostics import describe
from specrec.transform.spectral import Eigen, decompose, scores
from specrec.transform.weighted import weighted_eigen


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

    `null_thres` t (the code's `--null_thres`, DreamRec 0.25): d_n = #{j ≤ D : λ_j(C) ≤ t} over
    all D eigenvalues of C (the exact zeros beyond the rank included) replaces `null_dim`.
    `popularity` (the code's `item_frequency_flag`): f_i = c_i / Σc (c = training counts, needs
    --dataset), μ = Σ f_i sE_i and C = np.cov(rows (sE_i − μ)√f_i), as the code computes it; the
    table is still (sE − μ) P_k Λ_k^{-1/2}.
    """

    name = "alphafuse"
    options = (
        Option("scale", 40.0, real(0.0, strict=True), "multiply E before the covariance"),
        Option("null_dim", 64, integer(1), "ID dims added on the last null_dim components"),
        Option("null_thres", None, optional(real(0.0)),
               "null_dim = the number of eigenvalues of C at or below this (replaces null_dim)"),
        Option("popularity", False, boolean, "popularity-weighted mean and covariance"),
        Option("cover", False, boolean, "replace (not add to) the last null_dim components"),
        Option("id_init", "zeros", choice("zeros", "normal"), "initial ID table"),
        SOLVER,
    )

    def variants(self, params: dict, dim: int) -> list[tuple[str | None, dict]]:
        if params["null_thres"] is None and params["null_dim"] > dim:
            raise SpecrecError(
                f"--null-dim {params['null_dim']} exceeds --dim {dim}; the ID part lives inside "
                "the "
                f"table: use --null-dim {dim} or less (AlphaFuse: dim 128, null-dim 64)"
            )
        return [(None, params)]

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        k, scale = source.dim, params["scale"]
        eig = self.eigen(source, params)
        eig.require_rank(k)
        cov_values = scale**2 * eig.values / max(eig.n - 1, 1)
        null_dim = params["null_dim"]
        if params["null_thres"] is not None:
            if not eig.complete:
                raise SpecrecError("--param null_thres counts every eigenvalue of C; the "
                                   "randomized solver finds the top ones only: use --solver exact")
            null_dim = null_space_size(cov_values, source.embeddings.dim, params["null_thres"], k)
        axes = eig.vectors[:, :k] * (scale / np.sqrt(cov_values[:k]))
        frozen = scores(source.embeddings, eig, axes)
        return TransformResult(
            fusion="frozen_plus_id",
            frozen=frozen,
            diagnostics=describe(eig, frozen),
            params={"covariance": "1/(n-1)", "semantic_dims": k - null_dim, "null_dim": null_dim,
                    "weights": "popularity (train counts)" if params["popularity"] else "uniform"},
            stats={
                "rank": eig.rank,
                "solver": eig.solver,
                "cov_eigenvalues_top": [float(v) for v in cov_values[:16]],
            },
        )

    def eigen(self, source: TransformInput, params: dict) -> Eigen:
        """C's eigenpairs, popularity-weighted when asked (from the dataset's training counts)."""
        top = source.dim  # every eigenvalue comes back from the exact solvers anyway
        if not params["popularity"]:
            return decompose(source.embeddings, center=True, top=top, solver=params["solver"],
                             seed=source.seed)
        if source.dataset is None:
            raise SpecrecError("alphafuse --param popularity=true weights items by their "
                               "training counts: pass --dataset DATASET")
        from specrec.data.dataset import load_dataset  # polars: only here

        counts = load_dataset(source.dataset).popularity("train")[1:]
        return weighted_eigen(source.embeddings, counts.astype(np.float64), top)


def null_space_size(cov_values: np.ndarray, dim: int, threshold: float, k: int) -> int:
    """#{eigenvalues of C ≤ threshold} among all D of them (those not returned are 0 ≤ t)."""
    size = dim - int(np.count_nonzero(cov_values > threshold))
    if size < 1:
        raise SpecrecError(f"--param null_thres={threshold:g}: every eigenvalue of C is above it "
                           f"(the smallest is {cov_values.min():.3g}); raise it or use --null-dim")
    if size > k:
        raise SpecrecError(f"--param null_thres={threshold:g} gives a null space of {size} dims, "
                           f"more than --dim {k} (the ID part lives inside the table); lower "
                           "it, or give --null-dim")
    return size
