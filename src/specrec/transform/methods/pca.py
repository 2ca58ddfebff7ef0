"""PCA (LLM2X, Boz et al. 2024): centred principal-component scores initialise the item table."""

from __future__ import annotations

from specrec.transform.base import SOLVER, TRANSFORMS, Transform, TransformInput, TransformResult
from specrec.transform.diagnostics import describe
from specrec.transform.spectral import decompose, scores


@TRANSFORMS.register("pca", "llm2x")
class PCA(Transform):
    """T = (E − 1μᵀ) P_k = U_k S_k, P_k = top-k eigenvectors of the centred ĒᵀĒ (fusion init).

    Equals sklearn's `PCA(n_components=k).fit_transform(E)` including the sign rule (the
    largest-|.| entry of each principal axis P[:, j] is positive). Not whitened, not normalised.
    """

    name = "pca"
    options = (SOLVER,)

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        k = source.dim
        eig = decompose(
            source.embeddings, center=True, top=k, solver=params["solver"], seed=source.seed
        )
        eig.require_rank(k)
        table = scores(source.embeddings, eig, eig.vectors[:, :k])
        explained = eig.values[:k].sum() / eig.trace if eig.trace > 0 else 0.0
        return TransformResult(
            fusion="init",
            item_table=table,
            diagnostics=describe(eig, table),
            stats={"rank": eig.rank, "solver": eig.solver, "explained_variance": float(explained)},
        )
