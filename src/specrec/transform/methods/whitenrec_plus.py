"""WhitenRec+ adapter input: the frozen fully whitened and group-whitened views (no item table)."""

from __future__ import annotations

from specrec.transform.base import (
    TRANSFORMS,
    Option,
    Transform,
    TransformInput,
    TransformResult,
    integer,
)
from specrec.transform.diagnostics import describe
from specrec.transform.methods.group_whiten import whitened_views
from specrec.transform.methods.whiten import EPS


@TRANSFORMS.register("whitenrec-plus")
class WhitenRecPlus(Transform):
    """`/basis/full` = Ē W, `/basis/group` = Ē W_G  [N+1, D], Ē = E − 1μᵀ, C = ĒᵀĒ/n (DWSRec's
    biased covariance); W = ZCA of C, W_G = blockdiag over G contiguous column groups of the
    ZCA of C_gg; ZCA = P_r (Λ_r + ε λ₁ I)^{-1/2} P_rᵀ over the numerical rank r.

    Training projects both views with one shared MLP and fuses them per item by attention
    (models/embedders/whitenrec_plus.py); `views=full` there is WhitenRec as its paper trains it.
    Diagnostics describe the group view, the one relaxed whitening keeps structure in.
    """

    name = "whitenrec-plus"
    options = (Option("groups", 4, integer(1), "G contiguous column groups"), EPS)

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        emb = source.embeddings
        views = whitened_views(source, params["groups"], params["eps"])
        basis = views.project(emb)
        return TransformResult(
            fusion="adapter",
            basis=basis,
            diagnostics=describe(views.eig, basis["group"]),
            params={"covariance": "1/n"},
            stats={"rank": views.eig.rank, "group_sizes": views.sizes,
                   "features_dim": int(basis["full"].shape[1])},
        )
