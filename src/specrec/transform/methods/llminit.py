"""LLMInit (arXiv 2503.01814): the item table from selected raw dims (or whitened PCA)."""

from __future__ import annotations

import math

import numpy as np

from specrec.embed.store import EmbeddingsFile
from specrec.errors import SpecrecError
from specrec.transform.base import (
    SOLVER,
    TRANSFORMS,
    Option,
    Transform,
    TransformInput,
    TransformResult,
    choice,
)
from specrec.transform.diagnostics import describe
from specrec.transform.spectral import chunk_rows, decompose, scores

VARIANTS = ("var", "uni", "rand", "whitened-pca")
POPULAR_SHARE = 0.2
"""var: dims ranked by variance over this share of the most popular items (training split)."""


@TRANSFORMS.register("llminit")
class LLMInit(Transform):
    """Item table = E[:, dims] for k selected dims, kept in ascending index order (fusion init):

    var  : the k dims of largest variance over the top-20% most popular items (train split)
    uni  : dims 0, s, 2s, …, (k−1)s with s = ⌊D/k⌋
    rand : k dims drawn without replacement (seeded; the LLMInit repo draws with replacement)
    whitened-pca : T = (E − 1μᵀ) P_k Λ_k^{-1/2}, C = ĒᵀĒ/(N−1) = P Λ Pᵀ — what AlphaFuse's
                   code calls "LLMInit" (its `SI` pipeline); not a selection.
    Raw values are used as they are (the LLMInit repo min-max normalises to [0, 1] first).
    """

    name = "llminit"
    options = (Option("variant", "var", choice(*VARIANTS), " | ".join(VARIANTS)), SOLVER)

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        emb, k, variant = source.embeddings, source.dim, params["variant"]
        if variant == "whitened-pca":
            eig = decompose(emb, center=True, top=k, solver=params["solver"], seed=source.seed)
            eig.require_rank(k)
            scale = np.sqrt((eig.n - 1) / eig.values[:k])
            table = scores(emb, eig, eig.vectors[:, :k] * scale)
            return TransformResult(
                fusion="init",
                item_table=table,
                diagnostics=describe(eig, table),
                params={"covariance": "1/(n-1)"},
                stats={"rank": eig.rank, "solver": eig.solver},
            )
        if k > emb.dim:
            raise SpecrecError(
                f"dim {k} exceeds the embedding dim {emb.dim}; use --dim {emb.dim} or less"
            )
        dims = select_dims(variant, source)
        table = gather_columns(emb, dims)
        top = k if params["solver"] == "randomized" else 0  # input spectrum, for diagnostics only
        eig = decompose(emb, center=True, top=top, solver=params["solver"], seed=source.seed)
        return TransformResult(
            fusion="init",
            item_table=table,
            diagnostics=describe(eig, table),
            params={"dims": [int(d) for d in dims]},
            stats={"dims": [int(d) for d in dims]},
        )


def select_dims(variant: str, source: TransformInput) -> np.ndarray:
    emb, k = source.embeddings, source.dim
    if variant == "uni":
        return np.arange(k) * (emb.dim // k)
    if variant == "rand":
        rng = np.random.default_rng(source.seed)
        return np.sort(rng.choice(emb.dim, size=k, replace=False))
    if source.dataset is None:
        raise SpecrecError(
            "llminit --variant var ranks dims over popular training items: pass --dataset, "
            "or use --variant uni|rand|whitened-pca"
        )
    from specrec.data.dataset import load_dataset  # polars: only here, not in every transform

    popularity = load_dataset(source.dataset).popularity("train")[1:]
    n_top = max(1, math.ceil(POPULAR_SHARE * emb.n_items))
    popular = np.zeros(emb.n_items + 1, dtype=bool)
    popular[1 + np.argsort(-popularity, kind="stable")[:n_top]] = True
    variance = subset_variance(emb, popular)
    return np.sort(np.argsort(-variance, kind="stable")[:k])


def subset_variance(emb: EmbeddingsFile, rows: np.ndarray) -> np.ndarray:
    """Per-dim variance (1/m) of the rows flagged in `rows [N+1]`, streamed with a shift."""
    count, total, squares, shift = 0, np.zeros(emb.dim), np.zeros(emb.dim), None
    for start, block in emb.iter_rows(chunk_rows(emb.dim)):
        picked = block[rows[start : start + block.shape[0]]]
        if not len(picked):
            continue
        if shift is None:
            shift = picked[0].copy()
        picked -= shift
        count += len(picked)
        total += picked.sum(axis=0)
        squares += (picked**2).sum(axis=0)
    mean = total / count
    return squares / count - mean**2


def gather_columns(emb: EmbeddingsFile, dims: np.ndarray) -> np.ndarray:
    table = np.zeros((emb.n_items + 1, len(dims)))
    for start, block in emb.iter_rows(chunk_rows(emb.dim)):
        table[start : start + block.shape[0]] = block[:, dims]
    return table
