"""LLMEmb adapter input: frozen centred PCA scores of E (sklearn PCA, not whitened), p ≤ rank."""

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
)
from specrec.transform.diagnostics import describe
from specrec.transform.spectral import decompose, project


@TRANSFORMS.register("llmemb")
class LLMEmb(Transform):
    """`/basis/features` X = (E − 1μᵀ) P_p [N+1, p], P_p = the top-p principal axes (sklearn's
    `PCA(n_components=p)`, sign rule included), p = min(`pca_dim`, numerical rank) (the stored
    width; `pca_dim` keeps the value asked for).

    Training builds item = Linear(h→k)(Linear(p→h)(X)) with no activation, plus the alignment
    loss to a teacher run (models/embedders/llmemb.py). LLMEmb: p = 1536 of SCFT-LLaMA's 4096.
    """

    name = "llmemb"
    options = (Option("pca_dim", 1536, integer(1), "PCA components (capped at the rank)"), SOLVER)

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        emb = source.embeddings
        wanted = min(params["pca_dim"], emb.dim, emb.n_items)
        eig = decompose(emb, center=True, top=wanted, solver=params["solver"], seed=source.seed)
        used = min(wanted, eig.rank)
        if used == 0:
            raise SpecrecError(
                f"embeddings '{emb.path}' have no variance (all rows are equal); nothing to project"
            )
        if used < params["pca_dim"]:
            source.log(f"llmemb: pca_dim {params['pca_dim']} capped at the numerical rank, {used}")
        features = project(emb, eig.vectors[:, :used], mean=eig.mean, dtype=np.float32)
        explained = float(eig.values[:used].sum() / eig.trace) if eig.trace > 0 else 0.0
        return TransformResult(
            fusion="adapter",
            basis={"features": features},
            diagnostics=describe(eig, features),
            stats={
                "rank": eig.rank,
                "solver": eig.solver,
                "features_dim": used,
                "explained_variance": explained,
            },
        )
