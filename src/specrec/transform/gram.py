"""Streamed second moments of the embeddings: the D×D Gram by BLAS syrk, sums in float64."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import get_blas_funcs

from specrec.embed.store import EmbeddingsFile

GRAM_BLOCK_BYTES = 1 << 28
"""Rows per Gram block: 256 MiB (8,192 float64 or 16,384 float32 rows at D = 4,096). Large blocks
matter: every block reads and writes the whole D×D sum once."""

MIRROR_PANEL = 512
"""Column panel width for mirroring the upper triangle (no full-matrix temporaries)."""


def gram_rows(dim: int, itemsize: int = 8) -> int:
    return max(16, GRAM_BLOCK_BYTES // (itemsize * dim))


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
    """Exact mean pairwise cosine over all pairs i ≠ j, streamed: (‖Σx̂‖² − #nonzero)/(n(n−1)).

    Sums within a block run in the block's precision (the stored float32, at least), across
    blocks in float64: the value is good to about 1e-7.
    """

    def __init__(self, dim: int) -> None:
        self.total = np.zeros(dim)
        self.nonzero = 0
        self.n = 0

    def update(self, block: np.ndarray) -> None:
        if block.dtype.itemsize < 4:  # float16 storage: sum in float32
            block = block.astype(np.float32)
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        self.total += column_sums(block, inverse)
        self.nonzero += int(np.count_nonzero(norms))
        self.n += block.shape[0]

    def value(self) -> float:
        if self.n < 2:
            return 0.0
        return float((self.total @ self.total - self.nonzero) / (self.n * (self.n - 1)))


def column_sums(block: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Σᵢ wᵢ xᵢ over the rows of a C-ordered block (w = 1 when None), by scipy's BLAS gemv.

    The transforms call BLAS through scipy only inside their passes: numpy and scipy each bundle
    an OpenBLAS whose idle threads spin for a while after every call, so alternating the two in
    a loop makes them fight over the cores (the Gram pass ran 25% slower on 2 cores).
    """
    if weights is None:
        weights = np.ones(block.shape[0], dtype=block.dtype)
    gemv = get_blas_funcs("gemv", (block,))
    return gemv(1.0, block.T, np.asarray(weights, dtype=block.dtype))


def mean_cosine(matrix: np.ndarray) -> float:
    """Exact mean pairwise cosine of the rows of an in-memory matrix."""
    acc = CosineSum(matrix.shape[1])
    acc.update(np.asarray(matrix, dtype=np.float64))
    return acc.value()


MAX_PIECES = 4
"""A block that arrives in more pieces than this (rows not stored back to back) is gathered into
one buffer first: every BLAS call reads and writes the whole D×D triangle once."""


class GramSum:
    """Σ blockᵀblock over the blocks, upper triangle by BLAS syrk (N·D² flops, half a GEMM).

    float64 blocks accumulate in place; a float32 block (given as a list of row pieces) is summed
    by float32 syrk calls into one float32 part, which is then added into the float64 total.
    """

    def __init__(self, dim: int) -> None:
        self.total = np.zeros((dim, dim), order="F")
        self.part: np.ndarray | None = None

    def add(self, block: np.ndarray | list[np.ndarray]) -> None:
        pieces = block if isinstance(block, list) else [block]
        syrk = get_blas_funcs("syrk", (pieces[0],))
        if pieces[0].dtype == np.float64:  # piece.T is Fortran-ordered: no copy
            for piece in pieces:
                self.total = syrk(
                    1.0, piece.T, beta=1.0, c=self.total, trans=0, lower=0, overwrite_c=1
                )
            return
        if self.part is None:
            self.part = np.zeros(self.total.shape, dtype=pieces[0].dtype, order="F")
        for index, piece in enumerate(pieces):
            beta = 0.0 if index == 0 else 1.0
            self.part = syrk(1.0, piece.T, beta=beta, c=self.part, trans=0, lower=0, overwrite_c=1)
        self.total += self.part  # only the upper triangle is ever written

    def rank_one(self, alpha: float, vector: np.ndarray) -> None:
        """total += α v vᵀ on the upper triangle (BLAS syr, no D×D temporary)."""
        syr = get_blas_funcs("syr", (self.total,))
        self.total = syr(alpha, np.asarray(vector, dtype=np.float64), a=self.total, lower=0,
                         overwrite_a=1)

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
    rate); the sums across blocks, the mean and the correction are float64 either way. Rows come
    straight from the file's pages where it allows (`EmbeddingsFile.iter_stored`).
    """
    n, dim = emb.n_items, emb.dim
    dtype = np.float32 if mixed else np.float64
    step = rows or gram_rows(dim, np.dtype(dtype).itemsize)
    gram, total, cosine = GramSum(dim), np.zeros(dim), CosineSum(dim)
    buffer = np.empty((min(step, n), dim), dtype=dtype)
    ones = np.ones(len(buffer), dtype=dtype)
    shift: np.ndarray | None = None
    for start, pieces in emb.iter_stored(step, check=False):
        for piece in pieces:
            cosine.update(piece)
        if center and shift is None:
            count = sum(len(piece) for piece in pieces)
            first = sum(piece.sum(axis=0, dtype=np.float64) for piece in pieces) / count
            shift = first.astype(dtype)
        block = _prepared(pieces, buffer, shift)
        sums = sum(column_sums(part, ones[: len(part)]) for part in block)
        if not np.isfinite(sums).all():  # NaN/Inf anywhere in the block reaches its sums
            emb.check_rows(start, pieces)
        total += sums
        gram.add(block)
    mean = total / n
    if center:
        gram.rank_one(-float(n), mean)
        mean = mean + shift
    return Moments(
        n=n, mean=mean, gram=gram.result(), centered=center, mean_cosine=cosine.value(),
        mixed=mixed,
    )


def _prepared(
    pieces: list[np.ndarray], buffer: np.ndarray, shift: np.ndarray | None
) -> list[np.ndarray]:
    """The block's rows in `buffer`'s dtype, minus `shift` when given: the stored pieces
    themselves when nothing changes and they are few, else gathered into `buffer` in one pass."""
    if shift is None and len(pieces) <= MAX_PIECES and pieces[0].dtype == buffer.dtype:
        return pieces
    at = 0
    for piece in pieces:
        out = buffer[at : at + len(piece)]
        if shift is None:
            np.copyto(out, piece)
        else:
            np.subtract(piece, shift, out=out)
        at += len(piece)
    return [buffer[:at]]
