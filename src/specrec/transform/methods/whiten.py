"""WhitenRec (ICDE'24): PCA or ZCA whitening of the centred embeddings, ε-regularised."""

from __future__ import annotations

import numpy as np

from specrec.transform.base import (
    SOLVER,
    TRANSFORMS,
    Option,
    Transform,
    TransformInput,
    TransformResult,
    choice,
    real,
)
from specrec.transform.diagnostics import describe
from specrec.transform.spectral import decompose, project, scores

EPS = Option("eps", 1e-6, real(0.0), "ridge: eigenvalues λᵢ + eps·λ₁ before the inverse sqrt")


def whitening_scale(values: np.ndarray, eps: float) -> np.ndarray:
    """(λᵢ + ε·λ₁)^{-1/2} for covariance eigenvalues λ (descending, all > 0 or ε > 0)."""
    return 1.0 / np.sqrt(values + eps * values[0])


def warn_if_wide(source: TransformInput, what: str) -> None:
    emb = source.embeddings
    if emb.n_items <= emb.dim:
        source.log(
            f"warning: {what} with N = {emb.n_items} items <= D = {emb.dim} dims: the covariance "
            "is "
            "rank-deficient; only its non-null directions are whitened (ε-regularised)"
        )


@TRANSFORMS.register("whiten")
class Whiten(Transform):
    """Whitening of Ē = E − 1μᵀ with C = ĒᵀĒ/n (biased, as DWSRec) = P Λ Pᵀ, r = numerical rank.

    `/item_table` = whitened PCA-k, Ē P_k (Λ_k + ε λ₁ I)^{-1/2} (fusion init): needs only the
    top-k axes. `features` also stores the full whitened view as `/basis/features` (the frozen
    input of a WhitenRec-style adapter; costs all D axes and a second N × D matrix):
      pca: X_w = Ē P_r (Λ_r + ε λ₁ I)^{-1/2}        [N+1, r]
      zca: X_w = Ē P_r (Λ_r + ε λ₁ I)^{-1/2} P_rᵀ   [N+1, D]
    """

    name = "whiten"
    options = (
        Option("features", "none", choice("none", "pca", "zca"), "also store the full view"),
        EPS,
        SOLVER,
    )

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        emb, k, view = source.embeddings, source.dim, params["features"]
        warn_if_wide(source, "whitening")
        top = None if view != "none" else k
        eig = decompose(emb, center=True, top=top, solver=params["solver"], seed=source.seed)
        eig.require_rank(k)
        rank = eig.rank if view != "none" else k
        scale = whitening_scale(eig.values[:rank] / eig.n, params["eps"])
        axes = eig.vectors[:, :rank] * scale
        table = scores(emb, eig, axes[:, :k])
        basis, stats = {}, {"rank": eig.rank, "solver": eig.solver}
        if view != "none":
            weights = axes if view == "pca" else axes @ eig.vectors[:, :rank].T
            basis["features"] = project(emb, weights, mean=eig.mean, dtype=np.float32)
            stats["features_dim"] = int(basis["features"].shape[1])
        return TransformResult(
            fusion="init",
            item_table=table,
            basis=basis,
            diagnostics=describe(eig, table),
            params={"covariance": "1/n", "item_table_view": "whitened-pca-k"},
            stats=stats,
        )
