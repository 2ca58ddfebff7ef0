"""WhitenRec+ (ICDE'24; DWSRec code): fully whitened and group-whitened views of the embeddings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specrec.embed.store import EmbeddingsFile
from specrec.errors import SpecrecError
from specrec.transform.base import (
    TRANSFORMS,
    Option,
    Transform,
    TransformInput,
    TransformResult,
    integer,
)
from specrec.transform.diagnostics import describe
from specrec.transform.eigensolver import eigen_of_gram
from specrec.transform.methods.whiten import EPS, warn_if_wide, whitening_scale
from specrec.transform.gram import streamed_moments
from specrec.transform.spectral import (
    Eigen,
    eigen_from_moments,
    fix_signs,
    numerical_rank,
    project,
    stored_eps,
)


def zca(values: np.ndarray, vectors: np.ndarray, rank: int, eps: float) -> np.ndarray:
    """W = P_r (Λ_r + ε λ₁ I)^{-1/2} P_rᵀ from covariance eigenpairs (descending), r = rank."""
    if rank == 0:
        return np.zeros((vectors.shape[0], vectors.shape[0]))
    axes = vectors[:, :rank] * whitening_scale(values[:rank], eps)
    return axes @ vectors[:, :rank].T


@TRANSFORMS.register("group-whiten")
class GroupWhiten(Transform):
    """Two views of Ē = E − 1μᵀ, C = ĒᵀĒ/n, columns cut into G contiguous groups g:

    full  (`/basis/full`)  = Ē W,   W  = ZCA of C          (full whitening, DWSRec G = 1)
    group (`/basis/group`) = Ē W_G, W_G = blockdiag(ZCA of C_gg) (relaxed whitening)
    ZCA of a covariance: P_r (Λ_r + ε λ₁ I)^{-1/2} P_rᵀ over its numerical rank r.
    `/item_table` = PCA-k scores of the group view, Ē W_G Q_k, Q_k = top-k eigenvectors of
    W_Gᵀ C W_G (fusion init). Groups are contiguous, D/G columns each (G must divide D, as
    DWSRec's equal blocks).
    """

    name = "group-whiten"
    options = (Option("groups", 4, integer(1), "G contiguous column groups"), EPS)

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        emb, k = source.embeddings, source.dim
        views = whitened_views(source, params["groups"], params["eps"])
        eig, cov, grouped, noise = views.eig, views.cov, views.grouped, stored_eps(emb)
        eig.require_rank(k)
        values, axes = eigen_of_gram(grouped.T @ cov @ grouped, k)
        group_rank = numerical_rank(values, (emb.n_items, emb.dim), noise)
        if k > group_rank:
            raise SpecrecError(
                f"dim {k} exceeds the rank {group_rank} of the group-whitened view; "
                f"use --dim {group_rank}"
            )
        table = project(emb, grouped @ fix_signs(axes[:, :k]), mean=eig.mean)
        return TransformResult(
            fusion="init",
            item_table=table,
            basis=views.project(emb),
            diagnostics=describe(eig, table),
            params={"covariance": "1/n", "item_table_view": "pca-k of group-whitened"},
            stats={"rank": eig.rank, "solver": eig.solver, "group_sizes": views.sizes},
        )


@dataclass
class WhitenedViews:
    """The ZCA matrices of both views (D×D), C = ĒᵀĒ/n and its eigenpairs, the group sizes."""

    eig: Eigen
    cov: np.ndarray
    full: np.ndarray
    grouped: np.ndarray
    sizes: list[int]

    def project(self, emb: EmbeddingsFile) -> dict[str, np.ndarray]:
        """`full` = Ē W and `group` = Ē W_G as float32 [N+1, D] (row 0 zeros)."""
        mean = self.eig.mean
        return {"full": project(emb, self.full, mean=mean, dtype=np.float32),
                "group": project(emb, self.grouped, mean=mean, dtype=np.float32)}


def whitened_views(source: TransformInput, groups: int, eps: float) -> WhitenedViews:
    """W = ZCA of C and W_G = blockdiag(ZCA of C_gg) over G contiguous column groups."""
    emb = source.embeddings
    if groups > emb.dim:
        raise SpecrecError(f"--groups {groups} exceeds the embedding dim {emb.dim}; use fewer")
    if emb.dim % groups:
        divisors = [g for g in range(2, min(emb.dim, 129)) if emb.dim % g == 0][:8]
        raise SpecrecError(f"--groups {groups} does not divide the embedding dim {emb.dim} into "
                           f"equal blocks; use a divisor ({', '.join(map(str, divisors))}, ...)")
    warn_if_wide(source, "group whitening")
    moments = streamed_moments(emb, center=True)
    cov = moments.gram / moments.n
    eig = eigen_from_moments(emb, moments, None, overwrite=True)
    if eig.rank == 0:
        raise SpecrecError(f"embeddings '{emb.path}' have no variance to whiten (all rows equal)")
    full = zca(eig.values / eig.n, eig.vectors, eig.rank, eps)
    grouped = np.zeros_like(cov)
    sizes, noise = [], stored_eps(emb)
    for cols in np.split(np.arange(emb.dim), groups):
        values, vectors = eigen_of_gram(cov[np.ix_(cols, cols)], None)
        rank = numerical_rank(values, (emb.n_items, len(cols)), noise)
        grouped[np.ix_(cols, cols)] = zca(values, vectors, rank, eps)
        sizes.append(len(cols))
    return WhitenedViews(eig, cov, full, grouped, sizes)
