"""WhitenRec adapter input (AlphaFuse's baseline): the frozen, fully PCA-whitened embeddings."""

from __future__ import annotations

import numpy as np

from specrec.errors import SpecrecError
from specrec.transform.base import TRANSFORMS, Transform, TransformInput, TransformResult
from specrec.transform.diagnostics import describe
from specrec.transform.methods.whiten import EPS, warn_if_wide, whitening_scale
from specrec.transform.spectral import decompose, project


@TRANSFORMS.register("whitenrec")
class WhitenRec(Transform):
    """`/basis/features` Z = Ē P_r (Λ_r + ε λ₁ I)^{-1/2} [N+1, r], Ē = E − 1μᵀ,
    C = ĒᵀĒ/(N−1) = P Λ Pᵀ (np.cov, as AlphaFuse), r = numerical rank (all D directions when E
    has full column rank; ε guards the near-null ones).

    Training builds item = GELU(Linear(r→k)(Z)). AlphaFuse whitens 40·E; with ε relative to λ₁
    the result does not depend on that factor, so there is no `scale` option.
    """

    name = "whitenrec"
    options = (EPS,)

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        emb = source.embeddings
        warn_if_wide(source, "whitening")
        eig = decompose(emb, center=True, top=None)
        if eig.rank == 0:
            raise SpecrecError(
                f"embeddings '{emb.path}' have no variance to whiten (all rows are equal)"
            )
        rank = eig.rank
        scale = whitening_scale(eig.values[:rank] / max(eig.n - 1, 1), params["eps"])
        features = project(emb, eig.vectors[:, :rank] * scale, mean=eig.mean, dtype=np.float32)
        return TransformResult(
            fusion="adapter",
            basis={"features": features},
            diagnostics=describe(eig, features),
            params={"covariance": "1/(n-1)"},
            stats={"rank": rank, "features_dim": rank},
        )
