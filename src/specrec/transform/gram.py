"""Streamed second moments of the embeddings: the D×D Gram by BLAS syrk, sums in float64."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import get_blas_funcs

from specrec.embed.store import EmbeddingsFile

GRAM_BLOCK_BYTES = 1 << 28
"""Rows per Gram block: 256 MiB of float64 (8,192 rows at D = 4,096). Large blocks matter: every
block reads and writes the whole D×D sum once."""

MIRROR_PANEL = 512
"""Column panel width for mirroring the upper triangle (no full-matrix temporaries)."""


def gram_rows(dim: int) -> int:
    return max(16, GRAM_BLOCK_BYTES // (8 * dim))


@dataclass
class Moments:
    """Streamed moments of the rows 1..N: `gram` = XᵀX with X = E, or Ē = E − 1μᵀ when centred."""

    n: int
    mean: np.ndarray
    gram: np.ndarray
    centered: bool
    mean_cosine: float
    mixed: bool = False


class CosineSum:
    """Exact mean pairwise cosine over all pairs i ≠ j, streamed: (‖Σx̂‖² − #nonzero)/(n(n−1))."""

    def __init__(self, dim: int) -> None:
        self.total = np.zeros(dim)
        self.nonzero = 0
        self.n = 0

    def update(self, block: np.ndarray) -> None:
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        self.total += inverse @ block
        self.nonzero += int(np.count_nonzero(norms))
        self.n += block.shape[0]

    def value(self) -> float:
        if self.n < 2:
            return 0.0
        return float((self.total @ self.total - self.nonzero) / (self.n * (self.n - 1)))


def mean_cosine(matrix: np.ndarray) -> float:
    """Exact mean pairwise cosine of the rows of an in-memory matrix."""
    acc = CosineSum(matrix.shape[1])
    acc.update(np.asarray(matrix, dtype=np.float64))
    return acc.value()


class GramSum:
    """Σ blockᵀblock over the blocks, upper triangle by BLAS syrk (N·D² flops, half a GEMM).

    float64 blocks accumulate in place; a float32 block is one float32 syrk (the products and the
    sum over its rows in single precision) added into the float64 total.
    """

    def __init__(self, dim: int) -> None:
        self.total = np.zeros((dim, dim), order="F")
        self.part: np.ndarray | None = None

    def add(self, block: np.ndarray) -> None:
        syrk = get_blas_funcs("syrk", (block,))
        if block.dtype == np.float64:  # block.T is Fortran-ordered: no copy
            self.total = syrk(1.0, block.T, beta=1.0, c=self.total, trans=0, lower=0, overwrite_c=1)
            return
        if self.part is None:
            self.part = np.zeros(self.total.shape, dtype=block.dtype, order="F")
        self.part = syrk(1.0, block.T, beta=0.0, c=self.part, trans=0, lower=0, overwrite_c=1)
        self.total += self.part  # only the upper triangle is ever written

    def result(self) -> np.ndarray:
        """The full symmetric sum: the upper triangle mirrored in place, panel by panel."""
        total, self.total, self.part = self.total, None, None
        dim = total.shape[0]
        for start in range(0, dim, MIRROR_PANEL):
            stop = min(start + MIRROR_PANEL, dim)
            square = total[start:stop, start:stop]
            square[...] = np.triu(square) + np.triu(square, 1).T
            total[stop:, start:stop] = total[start:stop, stop:].T
        return total


def streamed_moments(
    emb: EmbeddingsFile,
    *,
    center: bool,
    rows: int | None = None,
    mixed: bool = False,
) -> Moments:
    """One pass over rows 1..N: Gram EᵀE, or the centred ĒᵀĒ via a shifted pass.

    Centring uses the shift s = mean of the first block: ĒᵀĒ = Σ(x−s)(x−s)ᵀ − n(μ−s)(μ−s)ᵀ,
    which avoids the cancellation of EᵀE − nμμᵀ when the common mean dominates (anisotropy).
    Block products are float64, or float32 when `mixed` (the stored precision, twice the BLAS
    rate); the sums across blocks, the mean and the correction are float64 either way.
    """
    n, dim = emb.n_items, emb.dim
    dtype = np.float32 if mixed else np.float64
    gram, total, cosine = GramSum(dim), np.zeros(dim), CosineSum(dim)
    shift = np.zeros(dim, dtype=dtype)
    for start, block in emb.iter_rows(rows or gram_rows(dim), dtype, reuse=True):
        cosine.update(block)
        if center:
            if start == 1:
                shift = block.mean(axis=0, dtype=np.float64).astype(dtype)
            block -= shift
        total += block.sum(axis=0, dtype=np.float64)
        gram.add(block)
    matrix = gram.result()
    mean = total / n
    if center:
        matrix -= n * np.outer(mean, mean)
        mean = mean + shift
    return Moments(
        n=n, mean=mean, gram=matrix, centered=center, mean_cosine=cosine.value(), mixed=mixed
    )
