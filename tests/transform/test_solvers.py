"""The `mixed` solver (float32 block products, float64 sums) against `exact`, and `auto`."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from bounds import (
    BLOCK_ROWS,
    EPS32,
    EPS64,
    U32,
    cov_error,
    float32_projection_error,
    gram_eig_error,
    mean_cosine_error,
    mixed_gram_error,
    products_bound,
    scores_bound,
    sin_theta,
    whitened_tolerance,
    within,
)
from transform_synthetic import anisotropic

from specrec.embed.store import open_embeddings
from specrec.transform import chebyshev, eigensolver, spectral
from specrec.transform.eigensolver import eigen_of_gram
from specrec.transform.store import read_table
from specrec.transform.transform import transform


def _reference(matrix: np.ndarray, center: bool) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs (descending) of the (centred) Gram by numpy, for gaps and magnitudes."""
    x = matrix - matrix.mean(axis=0) if center else matrix
    values, vectors = np.linalg.eigh(x.T @ x)
    return values[::-1], vectors[:, ::-1]


def _assert_mixed_values(mixed, exact, error: float) -> None:
    """`mixed` values within `error` of `exact` above its rank, exactly 0 below it, and its rank
    what its floor F·λ₁ allows: each exact value clear of the floor by `error` on the right side."""
    floor = max(len(exact.mean) * spectral.MIXED_RANK_TOL, spectral.MIXED_VALUE_TOL)
    rank = mixed.rank
    within(mixed.values[:rank], exact.values[:rank], error)
    assert np.all(mixed.values[rank:] == 0.0)
    top = exact.values[0]
    kept = np.count_nonzero(exact.values - error > floor * (top + error))
    possible = np.count_nonzero(exact.values + error > floor * (top - error))
    assert kept <= rank <= possible


def _mixed_error(matrix: np.ndarray, center: bool) -> tuple[float, float]:
    """Bounds on |λ̂ − λ| between `mixed` and `exact`: (the top k, the rest). Their Grams
    differ by ≤ δ₃₂ and each is ≤ δ₆₄ off; the top k are Ritz values of the float64 Gram with
    residual ≤ FILTER_TOL·λ₁ (or float64 eigenvalues), the rest from the float32
    tridiagonalisation of fl₃₂(G): ≤ U32·‖|G|‖ + D·U32·λ₁ (dense float64 below D = 64)."""
    values, _ = _reference(matrix, center)
    x = np.abs(matrix - matrix.mean(axis=0) if center else matrix)
    base = mixed_gram_error(matrix, center) + 2 * gram_eig_error(matrix, center)
    single = U32 * np.linalg.norm(x.T @ x, 2) + matrix.shape[1] * U32 * values[0]
    return base + chebyshev.FILTER_TOL * values[0], base + single


@pytest.mark.parametrize("center", [True, False])
def test_mixed_matches_exact_within_float32_product_noise(make_embeddings, center):
    matrix = anisotropic(400, 48, seed=4, decay=1.0)
    emb = open_embeddings(make_embeddings(matrix))
    exact = spectral.decompose(emb, center=center, top=6, solver="exact")
    mixed = spectral.decompose(emb, center=center, top=6, solver="mixed")
    assert (exact.solver, mixed.solver) == ("exact", "mixed")
    top_error, error = _mixed_error(matrix, center)
    _assert_mixed_values(mixed, exact, error)
    within(mixed.values[:6], exact.values[:6], top_error)
    # same axes and signs: aligned unit vectors differ by ≤ √2·sin θ (Davis–Kahan), norms D·ε
    values, _ = _reference(matrix, center)
    sin = sin_theta(values, top_error, 6)
    within(mixed.vectors, exact.vectors, np.sqrt(2) * sin + 2 * 48 * EPS64)
    # means: float32 column sums of the (shifted) blocks, γ_b each; float64 for exact
    shift = matrix[:BLOCK_ROWS].mean(axis=0).astype(np.float32) if center else 0.0
    m = np.abs(matrix - shift).mean(axis=0)
    within(mixed.mean, exact.mean, (BLOCK_ROWS + 2) * EPS32 * m + 402 * EPS64 * m)
    # both sum the unit rows of the stored float32 blocks in float32
    cosine = 2 * mean_cosine_error(matrix, BLOCK_ROWS, EPS32)
    within(mixed.mean_cosine, exact.mean_cosine, cosine)
    assert mixed.rank == exact.rank == 48


def test_mixed_numerical_rank_ignores_float32_product_noise(make_embeddings):
    matrix = anisotropic(300, 40, seed=5, rank=10, offset=3.0)
    emb = open_embeddings(make_embeddings(matrix))
    mixed = spectral.decompose(emb, center=True, top=3, solver="mixed")
    exact = spectral.decompose(emb, center=True, top=3, solver="exact")
    # the floor's design: above the products' noise as it grows (~√b ε₃₂); the worst case
    # γ_b·ε₃₂ would reach it here, so `_assert_mixed_values` alone allows up to 40
    assert mixed.rank == exact.rank == 10
    _assert_mixed_values(mixed, exact, _mixed_error(matrix, True)[1])


def test_auto_takes_mixed_only_for_large_top_k_solves():
    def fake(n, d):
        return SimpleNamespace(n_items=n, dim=d)

    assert spectral.resolve_solver("auto", fake(100_000, 4096), 64) == "mixed"
    assert spectral.resolve_solver("auto", fake(100_000, 4096), None) == "exact"  # all axes
    assert spectral.resolve_solver("auto", fake(1349, 384), 64) == "exact"  # small: float64
    assert spectral.resolve_solver("auto", fake(3000, 8192), 64) == "exact"  # N < D route
    assert spectral.resolve_solver("exact", fake(100_000, 4096), 64) == "exact"


def test_auto_is_recorded_as_the_solver_that_ran(emb_path, matrix, tmp_path, monkeypatch):
    small = transform(method="pca", embeddings=emb_path, out=tmp_path / "a", dim=4)
    assert small.config["solver"] == "auto" and small.stats["solver"] == "exact"
    monkeypatch.setattr(spectral, "MIXED_ABOVE_FLOPS", 0.0)  # this input now counts as large
    large = transform(method="pca", embeddings=emb_path, out=tmp_path / "b", dim=4)
    assert large.stats["solver"] == "mixed"
    a, b = read_table(tmp_path / "a").item_table, read_table(tmp_path / "b").item_table
    assert np.all(b[0] == 0)
    centred = matrix - matrix.mean(axis=0)
    values, vectors = _reference(matrix, True)
    sin = sin_theta(values, _mixed_error(matrix, True)[0], 4)
    # the axes' angle, mixed's float32 projection, both streamed means (γ_b in float32, γ_N in
    # float64), both tables stored as float32
    spread = np.abs(matrix - matrix[:BLOCK_ROWS].mean(axis=0)).mean(axis=0)
    mean_error = ((BLOCK_ROWS + 2) * EPS32 + 152 * EPS64) * spread
    bound = scores_bound(centred, vectors[:, :4], sin) + 2 * U32 * np.abs(a[1:])
    bound += float32_projection_error(matrix, matrix.mean(axis=0), vectors[:, :4])
    bound += mean_error @ np.abs(vectors[:, :4])
    within(b[1:], a[1:], bound)


def test_whiten_without_features_needs_only_the_top_axes(emb_path, matrix, tmp_path):
    meta = transform(method="whiten", embeddings=emb_path, out=tmp_path / "t", dim=5)
    table = read_table(tmp_path / "t")
    assert "features" not in table.basis and "features_dim" not in meta.stats
    transform(method="whiten", embeddings=emb_path, out=tmp_path / "f", dim=5,
              params={"features": "pca"})
    full = read_table(tmp_path / "f")
    n, mean, eps = len(matrix), matrix.mean(axis=0), 1e-6
    centred = matrix - mean
    values, vectors = _reference(matrix, True)
    scale = 1.0 / np.sqrt(values[:5] / n + eps * values[0] / n)
    # top-k MRRR and the full eigh on the same Gram: d·u·λ₁ each, so the axes by Davis–Kahan and
    # the scales (λ + ελ₁)^{-1/2} by δ/λ; then each table stored as float32
    delta = 24 * EPS64 * values[0]
    bound = scores_bound(centred, vectors[:, :5], sin_theta(values, delta, 5), scale,
                         delta / values[:5])
    stored = 2 * U32 * np.abs(table.item_table[1:])
    within(table.item_table[1:], full.item_table[1:], bound + stored)
    # the same axes, once by float64 products and once by float32 ones (`features`)
    weights = vectors[:, :5] * scale
    stored = 2 * U32 * np.abs(full.item_table[1:])
    projection = float32_projection_error(matrix, mean, weights) + products_bound(centred, weights)
    within(full.item_table[1:], full.basis["features"][1:, :5], projection + stored)
    # C = ĒᵀĒ/n whitened with the ridge ε·λ₁: cov = diag(λ/(λ + ελ₁)) up to `whitened_tolerance`
    # (and λ̂'s own δ/λ), plus the float32 table
    cov = np.cov(table.item_table[1:], rowvar=False, bias=True)
    expected = np.diag(values[:5] / (values[:5] + eps * values[0]))
    delta = gram_eig_error(matrix, True)
    whitened = whitened_tolerance(values[:5], delta, 24) + delta / values[4]
    stored = cov_error(table.item_table[1:], U32 * np.abs(table.item_table[1:]), ddof=0)
    within(cov, expected, whitened + stored)


@pytest.mark.parametrize("center", [True, False])
def test_scores_in_the_solvers_precision(make_embeddings, center):
    matrix = anisotropic(300, 20, seed=6, offset=5.0)
    emb = open_embeddings(make_embeddings(matrix))
    mean = matrix.mean(axis=0) if center else 0.0
    for solver in ("exact", "mixed"):
        eig = spectral.decompose(emb, center=center, top=4, solver=solver)
        weights = eig.vectors[:, :4]
        table = spectral.scores(emb, eig, weights)
        expected = (matrix - mean) @ weights
        assert table.shape == (301, 4) and table.dtype == np.float64 and np.all(table[0] == 0)
        # float64: x − μ and 20 products on both sides; mixed: `float32_projection_error`. The
        # streamed mean μ̂ moves every row by (μ̂ − μ)W: γ_b of |x − s| in its precision
        rows = BLOCK_ROWS + 2
        shifted = np.abs(matrix - matrix[:BLOCK_ROWS].mean(axis=0)).mean(axis=0)
        shift = shifted if center else np.zeros(20)  # uncentred: no mean, nothing moves
        products = products_bound(matrix - mean, weights)
        if solver == "exact":
            moved = (302 * EPS64 * shift) @ np.abs(weights)
            bound = products + moved
        else:
            moved = (rows * EPS32 * shift + 302 * EPS64 * shift) @ np.abs(weights)
            single = float32_projection_error(matrix, mean if center else None, weights)
            bound = single + products + moved
        within(table[1:], expected, bound)


def _known(dim: int, values: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A symmetric matrix Q diag(values) Qᵀ with a seeded random orthonormal Q."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return np.asfortranarray((q * values) @ q.T), q


def _sin_theta(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.linalg.norm(got - want @ (want.T @ got), 2))


def _filter_bounds(q: np.ndarray, values: np.ndarray, top: int) -> tuple:
    """Bounds for `filtered_top` on G = fl(Q diag(values) Qᵀ): (|θ − valuesᵢ|, the residual a
    test recomputes, sin∠ to the top-`top` columns of Q).

    G's eigenvalues are within δ_c = ‖γ_D|QΛ||Q|ᵀ‖ + 2D·ε·λ₁ of `values` (Q orthonormal to D·ε),
    Q's columns within δ_c/gap of its eigenvectors. The filter stops at a computed residual
    ≤ FILTER_TOL·λ₁, true to (D + b)·ε·‖|G|‖: r. A Ritz value is then within r²/(gap − r) of an
    eigenvalue (Kato–Temple), plus its own (D + b)·ε·λ₁; the block within √k·r/(gap − r) of the
    top-k eigenvectors (Davis–Kahan, residual form), D·ε for the orthonormality."""
    dim, width, lam = len(values), chebyshev.block_width(top, len(values)), values[0]
    made_up = np.abs(q * values) @ np.abs(q).T
    made = dim * EPS64 * np.linalg.norm(made_up, 2) + 2 * dim * EPS64 * lam
    size = np.linalg.norm(made_up, 2)  # ≥ ‖|G|‖₂
    r = chebyshev.FILTER_TOL * lam + (dim + width) * EPS64 * size
    gaps = np.array([np.min(np.abs(np.delete(values, i) - values[i])) for i in range(top)])
    value = r**2 / (gaps - r) + (dim + width) * EPS64 * lam + made
    residual = chebyshev.FILTER_TOL * lam + 2 * (dim + width) * EPS64 * size
    sin = (np.sqrt(top) * r + made) / (values[top - 1] - values[top] - r - made) + dim * EPS64
    return value, residual, sin


@pytest.mark.parametrize("decay", [1.0, 2.0])
def test_chebyshev_filter_finds_the_top_eigenpairs(decay):
    values = 1.0 / np.arange(1, 513) ** decay
    gram, q = _known(512, values)
    value_bound, residual_bound, sin_bound = _filter_bounds(q, values, 8)
    for start in (None, q[:, : chebyshev.block_width(8, 512)] + 1e-4):  # random / near start
        found = chebyshev.filtered_top(gram, values, 8, start=start)
        assert found is not None
        theta, vectors = found
        within(theta, values[:8], value_bound)
        residual = np.linalg.norm(gram @ vectors - vectors * theta, axis=0).max()
        assert residual <= residual_bound
        assert _sin_theta(vectors, q[:, :8]) <= sin_bound


def test_chebyshev_filter_declines_a_flat_spectrum_at_the_block_edge():
    values = np.r_[np.linspace(2.0, 1.5, 4), np.ones(252)]  # λ_k = λ_{b+1}: no gap to filter
    gram, _ = _known(256, values)
    assert chebyshev.filtered_top(gram, values, 8) is None


def test_fast_eigen_matches_the_float64_route():
    values = np.r_[40.0, 1.0 / np.arange(1, 192) ** 0.7]
    gram, q = _known(192, values, seed=3)
    exact_values, exact_vectors = eigen_of_gram(gram, 10)
    fast_values, fast_vectors = eigen_of_gram(gram, 10, fast=True)
    # the float64 route: d·u·λ₁ off G's eigenvalues (Weyl), its vectors that over the gap
    value_bound, _, sin_bound = _filter_bounds(q, values, 10)
    exact = 192 * EPS64 / 2 * values[0]
    within(fast_values[:10], exact_values[:10], value_bound + exact)
    # the rest come from the float32 tridiagonalisation of fl₃₂(G): u₃₂·‖|G|‖ + d·u₃₂·λ₁
    single = U32 * np.linalg.norm(np.abs(gram), 2) + 192 * U32 * values[0]
    within(fast_values, exact_values, single + exact)
    assert _sin_theta(fast_vectors, exact_vectors) <= sin_bound + exact / (values[9] - values[10])
    flat = np.r_[np.linspace(2.0, 1.5, 4), np.ones(188)]  # declined by the filter: float64 route
    gram, _ = _known(192, flat, seed=3)
    np.testing.assert_array_equal(eigen_of_gram(gram, 10, fast=True)[0], eigen_of_gram(gram, 10)[0])


@pytest.mark.parametrize("center", [True, False])
def test_mixed_matches_exact_on_the_fast_eigen_route(make_embeddings, center, monkeypatch):
    routes = []

    def spy(*args, **kwargs):
        found = chebyshev.filtered_top(*args, **kwargs)
        routes.append(found is not None)
        return found

    monkeypatch.setattr(eigensolver, "filtered_top", spy)
    matrix = anisotropic(1500, 256, seed=8, decay=1.0, offset=3.0)
    emb = open_embeddings(make_embeddings(matrix))
    exact = spectral.decompose(emb, center=center, top=8, solver="exact")
    mixed = spectral.decompose(emb, center=center, top=8, solver="mixed")
    assert routes == [True]  # only `mixed` takes it, and the filter converged
    # mixed counts only what clears its float32 floor (the uncentred tail lies below it here)
    top_error, error = _mixed_error(matrix, center)
    _assert_mixed_values(mixed, exact, error)
    within(mixed.values[:8], exact.values[:8], top_error)
    sin = sin_theta(_reference(matrix, center)[0], top_error, 8)
    within(mixed.vectors, exact.vectors, np.sqrt(2) * sin + 2 * 256 * EPS64)
    assert exact.rank == 256
