"""Top-k eigenvectors of a symmetric matrix whose spectrum is known, by Chebyshev-filtered subspaces."""

from __future__ import annotations

import numpy as np

FILTER_TOL = 1e-11
"""Converged when every returned pair has ‖G v − θ v‖ ≤ FILTER_TOL · λ₁: the top-k subspace is then
within sin θ ≤ FILTER_TOL · λ₁ / (λ_k − λ_{k+1}) of the matrix's own (Davis–Kahan)."""

ROUND_GROWTH = 1e4
"""Per round, λ₁'s component may outgrow λ_k's by at most this: the round's QR keeps the weak
axes to ~ε · ROUND_GROWTH, well below FILTER_TOL."""


def block_width(top: int, dim: int) -> int:
    """Vectors iterated for the top k: b = min(2k + 16, D); the rate depends on λ_k / λ_{b+1}."""
    return min(dim, 2 * top + 16)


def filtered_top(
    gram: np.ndarray,
    values: np.ndarray,
    top: int,
    *,
    start: np.ndarray | None = None,
    seed: int = 0,
    tol: float = FILTER_TOL,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The top-`top` eigenpairs (θ descending, V [D, top]) of symmetric `gram`, given all its
    eigenvalues `values` (descending, to a few units of float32 ε · λ₁), or None when this would
    cost more than a dense tridiagonal solve or does not converge (the caller then uses one).

    A block of b = `block_width` vectors (`start` [D, b], e.g. single-precision eigenvectors,
    or a seeded Gaussian one), orthonormalised, is refined in rounds: a
    Rayleigh–Ritz step eig(QᵀGQ) = W Θ Wᵀ, V = QW; then Y = p_m(G) V, Q = orth(Y), where p_m is
    the degree-m Chebyshev polynomial bounded by 1 on [α, β] = [λ_min − δ, λ_{b+1}] and scaled
    to 1 at λ₁ (three-term recurrence, Zhou & Saad 2007): unwanted directions shrink by
    1/T_m(t_k) per round, t_k = (2λ_k − α − β)/(β − α), m the largest degree whose λ₁/λ_k
    growth T_m(t₁)/T_m(t_k) stays within ROUND_GROWTH. Each degree costs one G·Y product.
    """
    dim = gram.shape[0]
    width = block_width(top, dim)
    lam1 = float(values[0])
    if top < 1 or width >= dim or lam1 <= 0.0:
        return None
    low = min(float(values[-1]), 0.0) - 1e-5 * lam1  # below every eigenvalue, float32 errors included
    high = float(values[width])
    centre, half = (high + low) / 2.0, (high - low) / 2.0
    t_top, t_k = (lam1 - centre) / half, (float(values[top - 1]) - centre) / half
    if t_k <= 1.0 + 1e-3:  # λ_k inside the damped interval: a flat spectrum at the block edge
        return None
    degree = 1
    while _growth(t_top, t_k, degree + 1) <= ROUND_GROWTH:
        degree += 1
    per_round = float(np.cosh(degree * np.arccosh(t_k)))
    rounds = int(np.ceil(np.log(1e3 / tol) / np.log(per_round))) + 2
    if rounds * degree * width > 2 * dim:  # more G·Y work than a dense tridiagonalisation
        return None
    if start is None:
        start = np.random.default_rng(seed).standard_normal((dim, width))
    q = _orthonormal(np.asarray(start, dtype=np.float64))
    for round_ in range(rounds + 1):
        gq = gram @ q
        theta, w = np.linalg.eigh((q.T @ gq + gq.T @ q) / 2.0)
        theta, w = theta[::-1], w[:, ::-1]
        v, gv = q @ w, gq @ w
        residual = np.linalg.norm(gv[:, :top] - v[:, :top] * theta[:top], axis=0).max()
        if residual <= tol * lam1:
            return theta[:top].copy(), v[:, :top].copy()
        if round_ == rounds:
            break
        q = _orthonormal(_chebyshev(gram, v, gv, degree, centre, half, t_top))
    return None


def _orthonormal(y: np.ndarray) -> np.ndarray:
    """An orthonormal basis of span(Y): Cholesky QR twice (Y R⁻¹ with RᵀR = YᵀY; exact to ε once
    cond(Y) ≲ 1e6, which ROUND_GROWTH keeps), Householder QR if YᵀY is not positive definite.
    numpy's LAPACK only, like every product here: see `gram.column_sums` on mixing BLAS pools."""
    for _ in range(2):
        try:
            lower = np.linalg.cholesky(y.T @ y)
        except np.linalg.LinAlgError:
            return np.linalg.qr(y)[0]
        y = np.linalg.solve(lower, y.T).T
    return y


def _growth(t_top: float, t_k: float, degree: int) -> float:
    """T_m(t₁) / T_m(t_k) for m = `degree` (both arguments > 1)."""
    return float(np.cosh(degree * np.arccosh(t_top)) / np.cosh(degree * np.arccosh(t_k)))


def _chebyshev(
    gram: np.ndarray, y0: np.ndarray, g_y0: np.ndarray, degree: int, centre: float, half: float,
    t_top: float,
) -> np.ndarray:
    """Ŷ_m = T_m(t(G)) Y₀ / T_m(t₁), t(G) = (G − cI)/e, by the scaled recurrence
    σ₁ = 1/t₁, σ_{j+1} = 1/(2t₁ − σ_j), Ŷ₁ = σ₁ t(G) Y₀, Ŷ_{j+1} = 2σ_{j+1} t(G) Ŷ_j − σ_{j+1}σ_j Ŷ_{j−1}
    (G Y₀ given: the first degree costs no product)."""
    sigma = 1.0 / t_top
    previous, current = y0, (g_y0 - centre * y0) * (sigma / half)
    for _ in range(degree - 1):
        following = 1.0 / (2.0 * t_top - sigma)
        step = gram @ current
        step -= centre * current
        step *= 2.0 * following / half
        step -= (sigma * following) * previous
        previous, current, sigma = current, step, following
    return current
