"""Eigenpairs of a popularity-weighted covariance (AlphaFuse's `item_frequency_flag`)."""

from __future__ import annotations

import numpy as np

from specrec.embed.store import EmbeddingsFile
from specrec.errors import SpecrecError
from specrec.transform.gram import CosineSum, GramSum, Moments, gram_rows
from specrec.transform.spectral import Eigen, eigen_from_moments


def weighted_eigen(emb: EmbeddingsFile, counts: np.ndarray, top: int | None) -> Eigen:
    """f = c / Σc;  μ = Σ_i f_i e_i;  x_i = (e_i − μ)√f_i;  M = Σ_i (x_i − x̄)(x_i − x̄)ᵀ.

    M/(N−1) is numpy's `np.cov` of the rows x_i (it centres them again, by x̄ = mean_i x_i), as
    AlphaFuse's code computes it; `mean` = μ centres the table. Two float64 passes over the rows.
    """
    if counts.shape != (emb.n_items,) or not np.all(counts >= 0) or not counts.sum() > 0:
        raise SpecrecError("popularity weights need a non-negative training count per item and "
                           "at least one training interaction; check the dataset")
    weights = counts / counts.sum()
    step = gram_rows(emb.dim)
    mean, cosine = np.zeros(emb.dim), CosineSum(emb.dim)
    for start, pieces in emb.iter_stored(step):
        at = start - 1
        for piece in pieces:
            cosine.update(piece)
            mean += weights[at : at + len(piece)] @ piece.astype(np.float64)
            at += len(piece)
    roots = np.sqrt(weights)
    total, gram = np.zeros(emb.dim), GramSum(emb.dim)
    for start, pieces in emb.iter_stored(step, check=False):
        at = start - 1
        for piece in pieces:
            block = (piece.astype(np.float64) - mean) * roots[at : at + len(piece), None]
            total += block.sum(axis=0)
            gram.add(block)
            at += len(piece)
    gram.rank_one(-1.0 / emb.n_items, total)  # Σ(x − x̄)(x − x̄)ᵀ = Σxxᵀ − (Σx)(Σx)ᵀ/N
    moments = Moments(n=emb.n_items, mean=mean, gram=gram.result(), centered=True,
                      mean_cosine=cosine.value(), mixed=False)
    return eigen_from_moments(emb, moments, top, overwrite=True)
