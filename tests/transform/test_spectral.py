"""Spectral numerics: streamed moments, the three eigen routes, rank, signs, projection."""

from __future__ import annotations

import numpy as np
import pytest
from bounds import (
    BLOCK_ROWS,
    EPS32,
    EPS64,
    axes_tolerance,
    centring_error,
    dot_bound,
    float32_projection_error,
    gram_eig_error,
    gram_sv_tolerance,
    perturbed_product,
    products_bound,
    randomized_promise,
    ritz_bounds,
    sin_theta,
    within,
)
from transform_synthetic import anisotropic

from specrec.embed.store import open_embeddings
from specrec.errors import SpecrecError
from specrec.transform import spectral
from specrec.transform.eigensolver import eigen_of_gram
from specrec.transform.gram import GramSum, streamed_moments


def test_gram_sum_is_the_full_symmetric_sum_in_both_precisions():
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((m, 7)) for m in (5, 16, 1)]
    exact = GramSum(7)
    for block in blocks:
        exact.add(block)
    stacked = np.vstack(blocks)
    reference, sums = stacked.T @ stacked, dot_bound(stacked.T, stacked)  # γ₂₂ each
    within(exact.result(), reference, 2 * sums)
    single = GramSum(7)
    for block in blocks:
        single.add(block.astype(np.float32))
    result = single.result()
    assert result.dtype == np.float64 and np.array_equal(result, result.T)
    # entries rounded to float32 (ε₃₂ per product), a float32 syrk over ≤ 16 rows, float64 across
    absolute = np.abs(stacked).T @ np.abs(stacked)
    within(result, reference, (16 + 2) * EPS32 * absolute + sums)


def test_streamed_centred_moments_survive_a_dominant_mean(make_embeddings):
    # mean norm 1e3 against unit-scale spread: EᵀE − nμμᵀ would lose ~6 digits
    matrix = anisotropic(200, 12, seed=4, offset=1e3)
    emb = open_embeddings(make_embeddings(matrix))
    moments = streamed_moments(emb, center=True)
    n, mean = len(matrix), matrix.mean(axis=0)
    centred = matrix - mean
    shifted = np.abs(matrix - matrix[:BLOCK_ROWS].mean(axis=0))  # rows minus the first block's mean
    m = shifted.mean(axis=0)
    # ours: γ_N of the shifted sums plus the shift; numpy's mean: γ_N of |x|
    spread = np.abs(matrix).mean(axis=0)
    within(moments.mean, mean, (n + 1) * EPS64 * m + EPS64 * np.abs(mean) + n * EPS64 * spread)
    # ours: (N + 2)·ε·|E − s|ᵀ|E − s| plus the correction's (2N + 3)·ε·n·m mᵀ, of the spread's
    # size; EᵀE − nμμᵀ would carry ε·|E|ᵀ|E|, the mean's (1e6 times). The reference: fl(E − μ̂)
    ours = (n + 2) * EPS64 * (shifted.T @ shifted) + (2 * n + 3) * EPS64 * n * np.outer(m, m)
    moved = EPS64 / 2 * np.abs(centred) + n * EPS64 * spread
    reference = perturbed_product(centred.T, moved.T, centred, moved)
    reference += dot_bound(centred.T, centred)
    within(moments.gram, centred.T @ centred, ours + reference)
    raw = streamed_moments(emb, center=False)
    within(raw.gram, matrix.T @ matrix, 2 * dot_bound(matrix.T, matrix))


@pytest.mark.parametrize("dim,top", [(100, 5), (130, 17), (64, 1), (40, 6)])
def test_eigen_of_gram_top_k_matches_eigh(dim, top):
    rng = np.random.default_rng(dim)
    a = rng.standard_normal((dim + 20, dim)) * (1.0 + np.arange(dim)) ** -0.7
    gram = a.T @ a
    before = gram.copy()
    values, vectors = eigen_of_gram(gram, top)
    expected_values, expected_vectors = np.linalg.eigh(gram)
    # both backward stable on the same matrix: eigenvalues within d·u·λ₁ each (Weyl), vectors by
    # Davis–Kahan, plus their norms and the dot product (d·ε each)
    delta = dim * EPS64 * expected_values.max()
    within(values, expected_values[::-1], delta)
    overlap = np.abs(np.sum(vectors * expected_vectors[:, ::-1][:, :top], axis=0))
    within(overlap, 1.0, sin_theta(expected_values[::-1], delta, top) ** 2 + 3 * dim * EPS64)
    np.testing.assert_array_equal(gram, before)  # input untouched without overwrite


@pytest.mark.parametrize("shape", [(150, 24), (12, 40)])
@pytest.mark.parametrize("center", [True, False])
def test_decompose_matches_numpy_svd(make_embeddings, shape, center):
    matrix = anisotropic(*shape, seed=9)
    eig = spectral.decompose(open_embeddings(make_embeddings(matrix)), center=center, top=5)
    x = matrix - matrix.mean(axis=0) if center else matrix
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    rank, n = eig.rank, max(shape)
    assert rank == min(shape[0] - int(center), shape[1])
    # the Gram's eigenvalues are off by ≤ δ; numpy's own centring by ≤ c (Weyl)
    delta, c = gram_eig_error(matrix, center), centring_error(matrix) if center else 0.0
    within(eig.singular_values[:rank], s[:rank], gram_sv_tolerance(s, n, delta)[:rank] + c)
    # below the rank: exactly 0, where the reference has only its own noise (n·ε·σ₁ + c)
    assert np.all(eig.values[rank:] == 0.0) and len(eig.values) == len(s)
    assert np.all(s[rank:] <= n * EPS64 * s[0] + c)
    overlap = np.abs(np.sum(eig.vectors * vt[:5].T, axis=0))
    within(overlap, 1.0, axes_tolerance(s, 5, n, delta + (2 * s[0] + c) * c))
    # Σ of the values: ≤ δ each, the zeroed ones' true size; the reference sum γ_{N·D}
    squares = float((x**2).sum())
    trace_bound = len(s) * delta + float(np.sum(s[rank:] ** 2)) + x.size * EPS64 * squares
    assert eig.complete
    within(eig.trace, squares, trace_bound + (2 * np.sqrt(squares) + c) * c)


def test_numerical_rank_of_a_rank_deficient_input(make_embeddings):
    matrix = anisotropic(60, 40, seed=5, rank=10, offset=0.0)
    emb = open_embeddings(make_embeddings(matrix))
    raw = spectral.decompose(emb, center=False, top=3)
    assert raw.rank == 10 and np.all(raw.values[10:] == 0.0) and raw.values[9] > 0
    eig = spectral.decompose(emb, center=True, top=3)
    assert eig.rank == 10 and np.all(eig.values[10:] == 0.0) and eig.values[9] > 0
    eig.require_rank(10)
    with pytest.raises(SpecrecError, match="numerical rank 10 of the centred"):
        eig.require_rank(11)


def test_fix_signs_makes_the_largest_entry_positive():
    vectors = np.array([[0.1, -0.9], [-0.8, 0.2], [0.3, 0.1]])
    fixed = spectral.fix_signs(vectors)
    np.testing.assert_array_equal(fixed, [[-0.1, 0.9], [0.8, -0.2], [-0.3, -0.1]])


def test_randomized_top_k_agrees_with_exact(make_embeddings):
    matrix = anisotropic(300, 40, seed=1, decay=1.5)
    emb = open_embeddings(make_embeddings(matrix))
    exact = spectral.decompose(emb, center=True, top=4)
    fast = spectral.decompose(emb, center=True, top=4, solver="randomized", seed=0)
    # the Ritz pairs' residuals on the float64 Gram: within the float32 products' promise, and
    # they bound the distance to the exact pairs (whose own is `gram_eig_error`)
    residual, value_bound, sin = ritz_bounds(matrix, True, fast.values, fast.vectors, 4)
    assert np.all(residual <= randomized_promise(matrix, True, 4, seed=0)[0])
    within(fast.values[:4], exact.values[:4], value_bound + gram_eig_error(matrix, True))
    overlap = np.abs(np.sum(fast.vectors * exact.vectors[:, :4], axis=0))
    exact_sin = sin_theta(exact.values, gram_eig_error(matrix, True), 4)
    within(overlap, 1.0, (sin + exact_sin) ** 2 + 3 * 40 * EPS64)
    # trace: Σx² over N·D terms minus n·μᵀμ (γ_{N·D} + (2N + 3)·ε of Σx²); exact: Σ of D values
    squares = float((matrix**2).sum())
    trace_bound = (matrix.size + 2 * 300 + 3) * EPS64 * squares + 40 * gram_eig_error(matrix, True)
    assert not fast.complete
    within(fast.trace, exact.trace, trace_bound)
    again = spectral.decompose(emb, center=True, top=4, solver="randomized", seed=0)
    np.testing.assert_array_equal(again.vectors, fast.vectors)


def test_project_streams_rows_with_a_zero_padding_row(make_embeddings):
    matrix = anisotropic(50, 8, seed=2)
    emb = open_embeddings(make_embeddings(matrix))
    weights = np.random.default_rng(0).standard_normal((8, 3))
    mean = matrix.mean(axis=0)
    table = spectral.project(emb, weights, mean=mean)
    assert table.shape == (51, 3) and np.all(table[0] == 0)
    products = products_bound(matrix - mean, weights)  # x − μ (u), then γ₈, on both sides
    within(table[1:], (matrix - mean) @ weights, products)
    single = spectral.project(emb, weights, mean=mean, dtype=np.float32)
    assert single.dtype == np.float32
    within(single[1:], table[1:], float32_projection_error(matrix, mean, weights) + products)


def test_unknown_solver_and_randomized_without_top(make_embeddings):
    emb = open_embeddings(make_embeddings(anisotropic(20, 4)))
    with pytest.raises(SpecrecError, match="unknown solver"):
        spectral.decompose(emb, center=True, top=2, solver="magic")
    with pytest.raises(SpecrecError, match="top-k directions only"):
        spectral.decompose(emb, center=True, top=None, solver="randomized")


def test_eigen_of_gram_with_trivial_reflectors():
    # a block-diagonal matrix: dsytrd returns τ = 0 for the already-reduced columns
    rng = np.random.default_rng(3)
    gram = np.diag(np.arange(1.0, 101.0))
    block = rng.standard_normal((10, 10))
    gram[:10, :10] = block @ block.T + 200 * np.eye(10)
    values, vectors = eigen_of_gram(gram, 12)
    expected_values = np.linalg.eigvalsh(gram)
    lam = expected_values.max()
    within(values, expected_values[::-1], 100 * EPS64 * lam)  # d·u·λ₁ each (Weyl)
    # v an exact eigenvector of G + E, ‖E‖ ≤ d·u·λ₁, λ (dsterf) another d·u·λ₁ off its own: so
    # ‖G v − λ v‖ ≤ d·ε·λ₁; plus our G @ v and v·λ
    products = dot_bound(gram, vectors) + EPS64 * np.abs(vectors * values[:12])
    within(gram @ vectors, vectors * values[:12], 100 * EPS64 * lam + products)
