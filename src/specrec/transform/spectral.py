"""Spectral numerics for transforms: streamed D×D Gram, top-k eigenpairs, never an N×N matrix."""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np
from scipy import linalg

from specrec.embed.store import EmbeddingsFile
from specrec.errors import SpecrecError
from specrec.transform.eigensolver import eigen_of_gram
from specrec.transform.gram import CosineSum, Moments, mean_cosine, streamed_moments

CHUNK_BYTES = 1 << 25
"""Rows per streamed block outside the Gram: 32 MiB (1,024 float64 or 2,048 float32 rows at
D = 4,096), so a projection's centred block is still in cache when its product reads it (1.3×
faster than 256 MiB blocks here)."""

SOLVERS = ("auto", "exact", "mixed", "randomized")

MIXED_ABOVE_FLOPS = 1e11
"""`auto` takes `mixed` when the float64 Gram would cost more than this (2·N·D² flops; 100k × 4096
is 3.4e12, ML-100K × 384 is 4e8): a few seconds of float64 work on two cores."""

MIXED_RANK_TOL = 1e-9
"""`mixed` numerical rank: #{λᵢ > λ₁ · D · MIXED_RANK_TOL}, above the float32 product noise."""

MIXED_VALUE_TOL = 32 * float(np.finfo(np.float32).eps)
"""...and above λ₁ · MIXED_VALUE_TOL: the float32 tridiagonalisation that gives `mixed` its
eigenvalues is off by a few float32 ε · λ₁ (about 1.5e-7 λ₁ at D = 4,096)."""

GRAM_EPS = float(np.sqrt(16 * np.finfo(np.float64).eps))
"""The float64 Gram route's own floor, per √max(N, D): an eigenvalue of XᵀX (or XXᵀ) formed and
solved in float64 is good to about c · max(N, D) · ε₆₄ · λ₁ (forming it, then a backward-stable
eigensolver; c = 16), so a singular value below √(c · max(N, D) · ε₆₄) · σ₁ is noise of order
√ε₆₄ · σ₁. It is 6e-8, under float32's ε (1.2e-7): it binds only for float64 matrices."""


def chunk_rows(dim: int, itemsize: int = 8) -> int:
    return max(16, CHUNK_BYTES // (itemsize * dim))


def resolve_solver(solver: str, emb: EmbeddingsFile, top: int | None) -> str:
    """`auto` -> `mixed` for a top-k solve of a large N ≥ D input, else `exact`."""
    if solver not in SOLVERS:
        raise SpecrecError(f"unknown solver '{solver}'; choose one of: {', '.join(SOLVERS)}")
    if solver != "auto":
        return solver
    n, dim = emb.n_items, emb.dim
    large = n >= dim and 2.0 * n * dim * dim > MIXED_ABOVE_FLOPS
    return "mixed" if large and top is not None else "exact"


@dataclass
class Eigen:
    """Eigenpairs of M = XᵀX (X = E, or Ē when `centered`): M = V diag(values) Vᵀ.

    `values` are the squared singular values of X, descending: all min(N, D) of them when
    `complete`, else only the top ones (randomized solver; `trace` = Σ all values stays exact).
    `rank` is the numerical rank (see `numerical_rank`); every value at index ≥ `rank` is
    exactly 0 (rounding noise is not reported as data). `vectors [D, m]` are the top-m right
    singular vectors, each signed so that its largest-|.| entry is positive. `solver` is the
    one that ran (`auto` resolved).
    """

    values: np.ndarray
    vectors: np.ndarray
    mean: np.ndarray
    n: int
    centered: bool
    rank: int
    trace: float
    complete: bool
    mean_cosine: float
    solver: str = "exact"

    @property
    def singular_values(self) -> np.ndarray:
        return np.sqrt(np.clip(self.values, 0.0, None))

    def require_rank(self, k: int, what: str = "dim") -> None:
        """Refuse k > numerical rank: the extra directions would be rounding noise."""
        if k > self.rank:
            kind = "centred" if self.centered else "uncentred"
            raise SpecrecError(
                f"{what} {k} exceeds the numerical rank {self.rank} of the {kind} embeddings "
                f"({self.n} items); use --dim {self.rank} or less"
            )


def stored_eps(emb: EmbeddingsFile) -> float:
    """Machine epsilon of the stored embeddings (float16/float32): the input's own precision."""
    with h5py.File(emb.h5_path, "r") as f:
        dtype = f["embeddings"].dtype
    return float(np.finfo(dtype if dtype.kind == "f" else np.float64).eps)


def numerical_rank(
    values: np.ndarray, shape: tuple[int, int], eps: float, mixed: bool = False
) -> int:
    """#{σᵢ > σ₁ · √max(N, D) · max(ε, GRAM_EPS)}: directions above the rounding noise of the
    input (ε = its machine epsilon) and of the float64 Gram the values came from.

    With float32 block products (`mixed`) the floor is the products' and the float32
    eigenvalues' own noise instead: #{σᵢ² > σ₁² · max(D · MIXED_RANK_TOL, MIXED_VALUE_TOL)}.
    """
    sigma = np.sqrt(np.clip(values, 0.0, None))
    if sigma.size == 0 or sigma[0] == 0.0:
        return 0
    if mixed:
        floor = max(shape[1] * MIXED_RANK_TOL, MIXED_VALUE_TOL)
        return int(np.count_nonzero(sigma**2 > sigma[0] ** 2 * floor))
    floor = sigma[0] * np.sqrt(max(shape)) * max(eps, GRAM_EPS)
    return int(np.count_nonzero(sigma > floor))


def below_rank_zeroed(values: np.ndarray, rank: int) -> np.ndarray:
    """Descending `values` clipped at 0, with every one at index ≥ `rank` exactly 0."""
    values = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
    values[rank:] = 0.0
    return values


def fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Flip each column so that its largest-|.| entry is positive (sklearn's `svd_flip` rule)."""
    if vectors.size == 0:
        return vectors
    rows = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[rows, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return vectors * signs


def decompose(
    emb: EmbeddingsFile,
    *,
    center: bool,
    top: int | None,
    solver: str = "exact",
    seed: int = 0,
    rows: int | None = None,
) -> Eigen:
    """Eigenpairs of the (centred) second-moment matrix of rows 1..N, top-`top` vectors.

    exact, N >= D: streamed D×D Gram in float64, then `eigen_of_gram`.
    mixed, N >= D: the same with float32 block products summed in float64 (`streamed_moments`).
    exact or mixed, N < D: the N×N Gram XXᵀ = U S² Uᵀ in float64, then V = Xᵀ U S⁻¹ (only for
    the top vectors).
    randomized: subspace iteration on XᵀX for the top vectors only (`randomized_eigen`).
    auto: `resolve_solver`.
    """
    solver = resolve_solver(solver, emb, top)
    if solver == "randomized":
        if top is None:
            raise SpecrecError(
                "the randomized solver finds the top-k directions only; use --solver exact"
            )
        return randomized_eigen(emb, center=center, top=top, seed=seed, rows=rows)
    if emb.n_items >= emb.dim:
        moments = streamed_moments(emb, center=center, rows=rows, mixed=solver == "mixed")
        return eigen_from_moments(emb, moments, top, overwrite=True)
    return _small_n_eigen(emb, center=center, top=top)


def eigen_from_moments(
    emb: EmbeddingsFile, moments: Moments, top: int | None, *, overwrite: bool = False
) -> Eigen:
    """Eigen of streamed moments (`overwrite` lets it destroy `moments.gram` to save memory)."""
    values, vectors = eigen_of_gram(moments.gram, top, overwrite=overwrite, fast=moments.mixed)
    solver = "mixed" if moments.mixed else "exact"
    return _finish(
        emb, values, vectors, moments.mean, moments.centered, moments.mean_cosine, solver=solver
    )


def _finish(
    emb: EmbeddingsFile,
    values: np.ndarray,
    vectors: np.ndarray,
    mean: np.ndarray,
    center: bool,
    cosine: float,
    trace: float | None = None,
    solver: str = "exact",
) -> Eigen:
    """Package eigenpairs: clip, numerical rank, values below it 0, signs; `trace` given =
    spectrum incomplete."""
    eps = stored_eps(emb)
    rank = numerical_rank(values, (emb.n_items, emb.dim), eps, mixed=solver == "mixed")
    values = below_rank_zeroed(values, rank)
    return Eigen(
        values=values,
        vectors=fix_signs(vectors),
        mean=mean if center else np.zeros(emb.dim),
        n=emb.n_items,
        centered=center,
        rank=rank,
        trace=float(values.sum() if trace is None else trace),
        complete=trace is None,
        mean_cosine=cosine,
        solver=solver,
    )


def _small_n_eigen(emb: EmbeddingsFile, *, center: bool, top: int | None) -> Eigen:
    """N < D: eigendecompose XXᵀ (N×N, N small) and map the top vectors back: V = XᵀU S⁻¹."""
    x = emb.load(np.float64)[1:]
    cosine = mean_cosine(x)
    mean = x.mean(axis=0)
    if center:
        x -= mean
    values, left = linalg.eigh(x @ x.T, check_finite=False)
    values, left = np.clip(values[::-1], 0.0, None), left[:, ::-1]
    rank = numerical_rank(values, x.shape, stored_eps(emb))
    m = rank if top is None else min(top, rank)
    vectors = (x.T @ left[:, :m]) / np.sqrt(values[:m])
    if top is not None and top > m:  # beyond the rank: let require_rank report it
        vectors = np.hstack([vectors, np.zeros((emb.dim, top - m))])
    return _finish(emb, values, vectors, mean, center, cosine)


def randomized_eigen(
    emb: EmbeddingsFile,
    *,
    center: bool,
    top: int,
    seed: int,
    power_iters: int = 4,
    rows: int | None = None,
) -> Eigen:
    """Top-k eigenpairs of XᵀX by randomized subspace iteration (Halko et al. 2011, Alg. 4.4).

    Z₀ = orth(Ω), Ω ~ N(0,1)^{D×l} (seeded), l = min(2k + 10, N, D); Zₜ₊₁ = orth(XᵀX Zₜ) for
    `power_iters` rounds; then Rayleigh–Ritz: eig(ZᵀXᵀXZ) = W Θ Wᵀ, V = Z W. E is held in memory
    as float32 (the input's own size); block products are float32, sums across blocks float64.
    """
    dim, n = emb.dim, emb.n_items
    width = min(2 * top + 10, n, dim)
    x = emb.load(np.float32)
    step = rows or chunk_rows(dim)
    total, squares, cosine = np.zeros(dim), 0.0, CosineSum(dim)
    for start in range(1, n + 1, step):
        block = x[start : start + step].astype(np.float64)
        cosine.update(block)
        total += block.sum(axis=0)
        squares += float(np.einsum("ij,ij->", block, block))
    mean = total / n if center else np.zeros(dim)
    mean32 = mean.astype(np.float32)
    trace = squares - n * float(mean @ mean)

    def gram_times(z: np.ndarray) -> np.ndarray:
        z32, acc = z.astype(np.float32), np.zeros_like(z)
        for start in range(1, n + 1, step):
            block = x[start : start + step] - mean32 if center else x[start : start + step]
            acc += (block.T @ (block @ z32)).astype(np.float64)
        return acc

    rng = np.random.default_rng(seed)
    z, _ = np.linalg.qr(rng.standard_normal((dim, width)))
    for _ in range(power_iters):
        z, _ = np.linalg.qr(gram_times(z))
    ritz, w = linalg.eigh(z.T @ gram_times(z), check_finite=False)
    # values: the top max(k, 10) Ritz values (top-10 share diagnostics); vectors: the top k.
    values, vectors = ritz[::-1][: max(top, 10)], (z @ w[:, ::-1])[:, :top]
    return _finish(
        emb, values, vectors, mean, center, cosine.value(), trace=trace, solver="randomized"
    )


def project(
    emb: EmbeddingsFile,
    weights: np.ndarray,
    *,
    mean: np.ndarray | None = None,
    dtype: type = np.float64,
    single: bool = False,
    rows: int | None = None,
) -> np.ndarray:
    """Second streamed pass: table [N+1, c] with rows (x − μ) W for items 1..N and row 0 zeros.

    `dtype=float32` runs the products in single precision and stores float32 (for wide outputs);
    `single` runs float32 products into a float64 table (what the `mixed` and `randomized`
    solvers use: their axes carry float32-level noise already). Each block is centred into a
    reused buffer in the products' precision (one pass over the stored rows), then multiplied.
    """
    table = np.zeros((emb.n_items + 1, weights.shape[1]), dtype=dtype)
    work = np.float32 if single or np.dtype(dtype) == np.float32 else np.float64
    w = np.asarray(weights, dtype=work)
    shift = np.zeros(emb.dim, dtype=work) if mean is None else np.asarray(mean, dtype=work)
    step = rows or chunk_rows(emb.dim, np.dtype(work).itemsize)
    buffer = np.empty((min(step, emb.n_items), emb.dim), dtype=work)
    for start, pieces in emb.iter_stored(step, check=False):
        at = start
        for piece in pieces:
            block = buffer[: len(piece)]
            np.subtract(piece, shift, out=block)
            with np.errstate(invalid="ignore", over="ignore"):  # reported just below
                table[at : at + len(piece)] = block @ w
            at += len(piece)
        if not np.isfinite(table[start : at]).all():  # NaN/Inf in a row reaches its outputs
            emb.check_rows(start, pieces)
    return table


def scores(emb: EmbeddingsFile, eig: Eigen, weights: np.ndarray) -> np.ndarray:
    """Table [N+1, c] of (x − μ) W for items 1..N (μ = `eig.mean`, zeros when uncentred), row 0
    zeros, by a streamed pass in the solver's precision (float32 products unless `exact`)."""
    mean = eig.mean if eig.centered else None
    return project(emb, weights, mean=mean, single=eig.solver != "exact")
