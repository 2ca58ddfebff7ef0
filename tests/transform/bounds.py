"""Rounding-error bounds that every tolerance in the transform tests is built from.

Conventions (Higham, Accuracy and Stability of Numerical Algorithms, 2002): u = ε/2 is the unit
roundoff, so a sum of n products is off by at most γ_n |a|ᵀ|b| ≤ n·ε·|a|ᵀ|b| (§3.1), whatever the
BLAS kernel or summation order; a backward-stable LAPACK routine on a d×d matrix A is exact for
some A + E with ‖E‖₂ ≤ p(d)·u·‖A‖₂, and p(d) = d here (LAPACK's "modest function of d"). So the
bounds hold on any CPU; they are not what one machine produced. They are worst cases, except
`ritz_bounds` (a posteriori, from residuals) and `randomized_promise` (the randomized solver's
a priori residual level, against which those residuals are checked).
"""

from __future__ import annotations

import numpy as np

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)
U32 = EPS32 / 2
"""float32 unit roundoff: storing a float64 value as float32 moves it by at most U32 of itself."""
U16 = float(np.finfo(np.float16).eps) / 2
BLOCK_ROWS = 16
"""Rows per streamed block in these tests (conftest's `small_blocks`)."""


def within(actual, desired, bound) -> None:
    """Assert |actual − desired| ≤ bound elementwise (`bound` broadcasts), naming the worst one."""
    actual, desired = np.asarray(actual, dtype=np.float64), np.asarray(desired, dtype=np.float64)
    bound = np.broadcast_to(np.asarray(bound, dtype=np.float64), actual.shape)
    excess = np.abs(actual - desired) - bound
    if excess.size and excess.max() > 0:
        at = np.unravel_index(np.argmax(excess), excess.shape)
        raise AssertionError(
            f"at {at}: |{actual[at]!r} − {desired[at]!r}| = {abs(actual[at] - desired[at]):.3g} "
            f"> bound {bound[at]:.3g}"
        )


def dot_bound(a, b, eps: float = EPS64) -> np.ndarray:
    """|fl(a @ b) − a @ b| ≤ γ_n |a| @ |b| ≤ n·ε·|a| @ |b| elementwise, n = the inner size."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape[-1] * eps * (np.abs(a) @ np.abs(b))


def perturbed_product(a, da, b, db) -> np.ndarray:
    """|(a + δa)(b + δb) − ab| ≤ |a||δb| + |δa||b| + |δa||δb| for |δa| ≤ da, |δb| ≤ db."""
    a, b = np.abs(np.asarray(a, dtype=np.float64)), np.abs(np.asarray(b, dtype=np.float64))
    return a @ db + da @ b + da @ db


def products_bound(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """|δ| between two float64 evaluations of (x − μ) W, x − μ given: the difference (u) and the
    D products (γ_D) on each side: 2·(D + 1)·ε·|x − μ| @ |W| elementwise."""
    return 2 * (x.shape[1] + 1) * EPS64 * (np.abs(x) @ np.abs(weights))


def scores_bound(x: np.ndarray, vectors: np.ndarray, sin, scale=1.0, relative=0.0) -> np.ndarray:
    """|δT| for T = x V diag(scale) (x centred, V [D, k] orthonormal) when the axes are within
    `sin` of V and the scales within `relative` of themselves: ‖xᵢ‖·(√2·sinⱼ + 2D·ε) (aligned
    unit vectors differ by ≤ √2·sin θ, their norms by D·ε), `products_bound`, and |T|·relative."""
    rows = np.linalg.norm(x, axis=1)[:, None]
    axes = rows * (np.sqrt(2) * np.asarray(sin) + 2 * x.shape[1] * EPS64)
    table = np.abs(x @ vectors) * np.abs(scale)
    return (axes + products_bound(x, vectors)) * np.abs(scale) + table * relative


def float32_projection_error(x: np.ndarray, mean, weights: np.ndarray) -> np.ndarray:
    """|δ| of `spectral.project` in float32 ((x − μ) W with μ, W rounded to float32, the
    difference and the D-term products in float32, the result rounded once more): ≤ (D + 3)·ε₃₂·
    (|x − μ| + |μ|) @ |W| elementwise."""
    mean = np.zeros(x.shape[1]) if mean is None else np.asarray(mean, dtype=np.float64)
    size = np.abs(x - mean) + np.abs(mean)
    return (x.shape[1] + 3) * EPS32 * (size @ np.abs(weights))


def centring_error(x: np.ndarray) -> float:
    """‖fl(x − mean x) − (x − μ)‖₂: the float64 mean is off by ≤ N·ε·mean|x| per column (γ_N),
    each difference by u·|x − μ|; ≤ u·‖X̄‖_F + √N·‖N·ε·mean|x|‖₂."""
    n = len(x)
    xbar = x - x.mean(axis=0)
    spread = np.linalg.norm(np.abs(x).mean(axis=0))
    return EPS64 / 2 * float(np.linalg.norm(xbar)) + np.sqrt(n) * n * EPS64 * float(spread)


def gram_eig_error(x: np.ndarray, center: bool) -> float:
    """|δλ| for every eigenvalue of the Gram `spectral.decompose` forms and solves in float64 from
    x [N, D], n = max(N, D). Uncentred: forming XᵀX (or XXᵀ) costs ‖γ_N |X|ᵀ|X|‖₂ ≤ N·u·‖X‖_F²,
    the eigensolver D·u·σ₁²: ≤ n·ε·‖X‖_F². Centred: rows shifted by s, the first block's mean, then
    the rank-one correction n(μ − s)(μ − s)ᵀ with μ − s from the shifted sums: ≤ (3N + D + 4)·ε·
    ‖X − s‖_F² (s of `BLOCK_ROWS` rows; one block has s = μ, and ‖X − μ‖_F is the least); the
    N < D route centres x itself instead (`centring_error` c: 2σ₁c + c² more).
    """
    n_rows, dim = x.shape
    if not center:
        return max(n_rows, dim) * EPS64 * float(np.sum(x**2))
    shifted = x - x[:BLOCK_ROWS].mean(axis=0)
    c, sigma = centring_error(x), float(np.linalg.norm(x - x.mean(axis=0), 2))
    return (3 * n_rows + dim + 4) * EPS64 * float(np.sum(shifted**2)) + (2 * sigma + c) * c


def gram_entry_error(x: np.ndarray, center: bool, rows: int = BLOCK_ROWS,
                     mixed: bool = False) -> np.ndarray:
    """|δG| elementwise of `gram.streamed_moments` against the exact (centred) Gram of x. Rows
    shifted by s, the first block's mean (float32 for `mixed`, else float64), or 0 uncentred:
    the products of fl(x − s) carry γ_n + ε·|X − s|ᵀ|X − s| (n = b, one float32 syrk per block,
    for `mixed`; N in float64), and μ − s from column sums ((n + 1)·ε·m, m = mean|x − s|) puts
    (2n + 3)·ε·N·m mᵀ into the correction N(μ − s)(μ − s)ᵀ; sums across blocks float64."""
    eps, terms = (EPS32, rows) if mixed else (EPS64, len(x))
    shift = x[:rows].mean(axis=0) if center else np.zeros(x.shape[1])
    y = np.abs(x - (shift.astype(np.float32) if mixed else shift))
    bound = (terms + 2) * eps * (y.T @ y) + len(x) * EPS64 * (y.T @ y)
    if center:
        m = y.mean(axis=0)
        bound += (2 * terms + 3) * eps * len(x) * np.outer(m, m)
    return bound


def mixed_gram_error(x: np.ndarray, center: bool, rows: int = BLOCK_ROWS) -> float:
    """‖δG‖₂ of the `mixed` Gram against the exact one: ‖`gram_entry_error`‖₂ (a nonnegative
    bound on |δG| bounds ‖δG‖₂ by its own norm)."""
    return float(np.linalg.norm(gram_entry_error(x, center, rows, mixed=True), 2))


def gram_sv_tolerance(s, n: int, delta: float | None = None) -> np.ndarray:
    """|σ̂ᵢ − σᵢ| between σ̂ = √λ̂ through a float64 Gram whose eigenvalues are off by ≤ `delta`
    (default n·ε·Σσ², uncentred `gram_eig_error`) and a reference SVD (itself off by n·ε·σ₁):
    |δλ|/(σ̂ + σ) ≤ min(δλ/σᵢ, √δλ), i.e. about √(nε)·σ₁ for σᵢ near 0. s = the reference
    singular values, descending."""
    s = np.asarray(s, dtype=np.float64)
    delta = n * EPS64 * float(np.sum(s**2)) if delta is None else delta
    with np.errstate(divide="ignore"):
        gram = np.minimum(np.sqrt(delta), delta / s)
    return gram + n * EPS64 * s[0]


def sin_theta(values, delta: float, count: int) -> np.ndarray:
    """sin∠(v̂ᵢ, vᵢ) ≤ δ / (gapᵢ − δ) for the leading `count` eigenvectors of a symmetric matrix
    with eigenvalues `values` (descending) perturbed by ‖E‖₂ ≤ δ (Davis–Kahan); 1 if gapᵢ ≤ δ."""
    values = np.asarray(values, dtype=np.float64)
    gaps = np.array([
        np.min(np.abs(np.delete(values, i) - values[i])) if len(values) > 1 else np.inf
        for i in range(count)
    ])
    with np.errstate(divide="ignore"):
        return np.where(gaps > delta, np.minimum(delta / (gaps - delta), 1.0), 1.0)


def axes_tolerance(s, count: int, n: int, delta: float) -> np.ndarray:
    """|1 − |v̂ᵢᵀvᵢ|| between right singular vectors through a float64 Gram (eigenvalues off by
    ≤ `delta`; for N < D, v̂ = Xᵀû/σ̂, whose angle grows by σ₁/σᵢ) and a reference SVD's:
    1 − cos θ ≤ sin²θ, plus the norm of v̂ (LAPACK: n·ε; Xᵀû/σ̂: σ̂'s relative error), the
    reference's norm and the dot product's rounding (n·ε each)."""
    s = np.asarray(s, dtype=np.float64)
    both = delta + 2 * n * EPS64 * s[0] ** 2  # the reference SVD: backward error n·ε·σ₁ on X
    angle = np.minimum(sin_theta(s**2, both, count) * s[0] / s[:count], 1.0)
    norm = gram_sv_tolerance(s, n, delta)[:count] / s[:count]
    return angle**2 + norm + 3 * n * EPS64


def whitened_tolerance(values, delta: float, dim: int) -> np.ndarray:
    """|Ŵᵀ G Ŵ − I|ⱼₖ ≤ (δ + 2d·ε·λ₁)/√(λⱼλₖ) for Ŵ = V̂ Λ̂^{-1/2} from the eigenpairs of G + E,
    ‖E‖₂ ≤ δ (backward stability: V̂ᵀ(G + E)V̂ = Λ̂, V̂ within d·ε of orthonormal), λ descending:
    the error of a whitened or standardised table's covariance (and of U_k = X V̂ Ŝ⁻¹)."""
    values = np.asarray(values, dtype=np.float64)
    return (delta + 2 * dim * EPS64 * values[0]) / np.sqrt(np.outer(values, values))


def pca_bound(matrix: np.ndarray, k: int, *, center: bool = True, scale=1.0, relative=0.0,
              float32: bool = False) -> np.ndarray:
    """|T̂ − T| for T̂ = X̄ V̂_k diag(scale) by `spectral.decompose` and `scores` (or `project` in
    float32), stored as float32, against T = U_k S_k diag(scale) from numpy's SVD, columns aligned.

    Axes: Davis–Kahan on ours (`gram_eig_error`) plus the reference (n·ε·σ₁ backward error, and
    its centring c), ×σ₁/σⱼ and σ̂'s relative error for the N < D route (v̂ = Xᵀû/σ̂). The
    streamed mean (shifted by any s: γ_N of |x − s|, then s) moves rows by (μ̂ − μ)V; U S = X̄ V
    to n·ε·σ₁ + c; float32 storage U32·|T|.
    """
    n_rows, dim = matrix.shape
    n, mean = max(matrix.shape), matrix.mean(axis=0)
    x = matrix - mean if center else matrix
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    c = centring_error(matrix) if center else 0.0
    delta = gram_eig_error(matrix, center) + (2 * s[0] + c) * c + 2 * n * EPS64 * s[0] ** 2
    sin = np.minimum(sin_theta(s**2, delta, k) * s[0] / s[:k], 1.0)
    norm = gram_sv_tolerance(s, n, delta)[:k] / s[:k]
    vectors = vt[:k].T
    bound = scores_bound(x, vectors, sin + norm, scale, relative)
    if center:
        spread = np.abs(matrix - matrix[:BLOCK_ROWS].mean(axis=0)).mean(axis=0)
        moved = (n_rows + 2) * EPS64 * (spread + 2 * np.abs(matrix).mean(axis=0))
        bound += (moved @ np.abs(vectors)) * np.abs(scale)
    if float32:
        bound += float32_projection_error(matrix, mean if center else None, vectors * scale)
    bound += (n * EPS64 * s[0] + c) * np.abs(scale)
    return bound + U32 * (np.abs(x @ vectors * scale) + bound)  # |fl₃₂(t) − t| ≤ u·|t|


def cov_error(f: np.ndarray, df, ddof: int = 1) -> np.ndarray:
    """|np.cov(f + δf) − np.cov(f)| for |δf| ≤ df: the centred entries move by ≤ df + mean(df),
    then `perturbed_product`; plus np.cov's own float64 rounding ((N + 2)·ε·|f̄|ᵀ|f̄|)."""
    n = len(f)
    fbar = np.abs(f - f.mean(axis=0))
    moved = np.broadcast_to(df, f.shape) + np.broadcast_to(df, f.shape).mean(axis=0)
    own = (n + 2) * EPS64 * (fbar.T @ fbar)
    return (perturbed_product(fbar.T, moved.T, fbar, moved) + own) / (n - ddof)


def erank_tolerance(erank: float, count: int, rel: float) -> float:
    """|δ erank| when every σᵢ of `count` moves by ≤ `rel` of itself: each pᵢ by ≤ 2·rel·pᵢ, so
    |δH| ≤ 2·rel·Σpᵢ|1 + log pᵢ| ≤ 2·rel·(1 + log count); plus the float64 evaluation
    ((2·count + 4)·ε·(1 + log count), relative)."""
    spread = 1.0 + np.log(count)
    return erank * (np.expm1(2 * rel * spread) + (2 * count + 4) * EPS64 * spread)


def mean_cosine_error(x: np.ndarray, rows: int, eps: float, stored: float = 0.0) -> float:
    """|δ| of `gram.CosineSum` over x with blocks of `rows` in precision ε: norms (D·ε) and unit
    rows, block column sums (γ_rows), so ‖δ Σx̂‖ ≤ (rows + D + 2)·ε·‖Σ|x̂|‖; the value moves by
    (2‖Σx̂‖‖δ‖ + ‖δ‖²)/(n(n − 1)), the float64 sums across blocks add N·ε₆₄ of ‖Σ|x̂|‖. `stored`:
    the rows themselves rounded by that much relative (their unit rows move by twice that)."""
    n, dim = x.shape
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    total = np.linalg.norm(unit.sum(axis=0))
    spread = np.linalg.norm(np.abs(unit).sum(axis=0))
    delta = ((rows + dim + 2) * eps + n * EPS64 + 2 * stored) * spread
    return float((2 * total * delta + delta**2) / (n * (n - 1)))


def ritz_bounds(matrix: np.ndarray, center: bool, theta, axes, top: int):
    """A-posteriori bounds for approximate top eigenpairs (θ, v̂) of the (centred) Gram G of
    `matrix`, whose eigenvalues λ (numpy, descending) and any eigensolver's are within δ =
    `gram_eig_error` of G's: r = ‖G v̂ − θ v̂‖ + its rounding (D + 1)·ε·‖|G|‖ + δ; then
    |θᵢ − λᵢ| ≤ rᵢ + δ (a unit v̂ has an eigenvalue within r, the i-th while r < gap/2), and
    sin∠(v̂ᵢ, vᵢ) ≤ rᵢ/(gapᵢ − rᵢ) (Davis–Kahan, residual form). Returns (r, |δθ|, sin)."""
    x = matrix - matrix.mean(axis=0) if center else matrix
    gram = x.T @ x
    values = np.linalg.eigvalsh(gram)[::-1]
    delta = gram_eig_error(matrix, center)
    theta, axes = np.asarray(theta[:top]), np.asarray(axes[:, :top])
    size = np.linalg.norm(np.abs(x).T @ np.abs(x), 2)
    r = np.linalg.norm(gram @ axes - axes * theta, axis=0)
    r = r + (x.shape[1] + 1) * EPS64 * size + delta
    gaps = np.array([np.min(np.abs(np.delete(values, i) - values[i])) for i in range(top)])
    assert np.all(r < gaps / 2), "the residual does not single out the i-th eigenpair"
    return r, r + delta, np.minimum(r / (gaps - r), 1.0)


def randomized_promise(matrix: np.ndarray, center: bool, top: int, seed: int,
                       count: int | None = None, iters: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """What `spectral.randomized_eigen` (l = 2·top + 10) promises a priori for its leading `count`
    Ritz pairs: (residual on the float64 Gram, |θᵢ − λᵢ|). One float32 G·Z is off by ≤ n₃₂ =
    √l·(D + b + 4)·ε₃₂·‖|X̄|ᵀ|X̄|‖₂ (z and x − μ rounded, γ_D then γ_b); the seeded start Z₀
    converges to the top-i axes as tanᵢ ≤ (λ_{l+1}/λᵢ)^q·‖V_{>l}ᵀZ₀(V_lᵀZ₀)⁻¹‖ (Halko et al. 2011
    §9, the oversampling spent on λ_{i+1..l}); a Ritz pair then has residual ≤ λ₁·tanᵢ and value
    within λ₁·tanᵢ² (Knyazev), each plus n₃₂, twice over for the noisy last iterate."""
    x = matrix - matrix.mean(axis=0) if center else matrix
    values, vectors = np.linalg.eigh(x.T @ x)
    values, vectors = values[::-1], vectors[:, ::-1]
    dim, width = matrix.shape[1], min(2 * top + 10, *matrix.shape)
    noise = np.sqrt(width) * (dim + BLOCK_ROWS + 4) * EPS32 * np.linalg.norm(
        np.abs(x).T @ np.abs(x), 2
    )
    start = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, width)))[0]
    pick = np.linalg.inv(vectors[:, :width].T @ start)
    tan0 = np.linalg.norm(vectors[:, width:].T @ start @ pick, 2)
    tan = tan0 * (values[width] / values[: count or top]) ** iters
    return 2 * (noise + values[0] * tan), 2 * (noise + values[0] * tan**2)
