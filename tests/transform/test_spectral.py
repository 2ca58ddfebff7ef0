"""Spectral numerics: streamed moments, the three eigen routes, rank, signs, projection."""

from __future__ import annotations

import numpy as np
import pytest
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
    np.testing.assert_allclose(exact.result(), stacked.T @ stacked, rtol=1e-13, atol=1e-13)
    single = GramSum(7)
    for block in blocks:
        single.add(block.astype(np.float32))
    result = single.result()
    assert result.dtype == np.float64 and np.array_equal(result, result.T)
    np.testing.assert_allclose(result, stacked.T @ stacked, atol=1e-5)


def test_streamed_centred_moments_survive_a_dominant_mean(make_embeddings):
    # mean norm 1e3 against unit-scale spread: EᵀE − nμμᵀ would lose ~6 digits
    matrix = anisotropic(200, 12, seed=4, offset=1e3)
    emb = open_embeddings(make_embeddings(matrix))
    moments = streamed_moments(emb, center=True)
    centred = matrix - matrix.mean(axis=0)
    np.testing.assert_allclose(moments.mean, matrix.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        moments.gram, centred.T @ centred, atol=1e-9 * np.abs(centred.T @ centred).max()
    )
    raw = streamed_moments(emb, center=False)
    np.testing.assert_allclose(raw.gram, matrix.T @ matrix, rtol=1e-12)


@pytest.mark.parametrize("dim,top", [(100, 5), (130, 17), (64, 1), (40, 6)])
def test_eigen_of_gram_top_k_matches_eigh(dim, top):
    rng = np.random.default_rng(dim)
    a = rng.standard_normal((dim + 20, dim)) * (1.0 + np.arange(dim)) ** -0.7
    gram = a.T @ a
    values, vectors = eigen_of_gram(gram, top)
    expected_values, expected_vectors = np.linalg.eigh(gram)
    np.testing.assert_allclose(values, expected_values[::-1], atol=1e-10 * expected_values.max())
    overlap = np.abs(np.sum(vectors * expected_vectors[:, ::-1][:, :top], axis=0))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-9)
    np.testing.assert_allclose(gram, a.T @ a)  # input untouched without overwrite


@pytest.mark.parametrize("shape", [(150, 24), (12, 40)])
@pytest.mark.parametrize("center", [True, False])
def test_decompose_matches_numpy_svd(make_embeddings, shape, center):
    matrix = anisotropic(*shape, seed=9)
    eig = spectral.decompose(open_embeddings(make_embeddings(matrix)), center=center, top=5)
    x = matrix - matrix.mean(axis=0) if center else matrix
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    np.testing.assert_allclose(eig.singular_values[: len(s)], s, atol=1e-9 * s[0])
    overlap = np.abs(np.sum(eig.vectors * vt[:5].T, axis=0))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-8)
    assert eig.rank == min(shape[0] - int(center), shape[1])
    assert eig.complete and eig.trace == pytest.approx(float((x**2).sum()), rel=1e-10)


def test_numerical_rank_of_a_rank_deficient_input(make_embeddings):
    matrix = anisotropic(60, 40, seed=5, rank=10, offset=0.0)
    emb = open_embeddings(make_embeddings(matrix))
    assert spectral.decompose(emb, center=False, top=3).rank == 10
    eig = spectral.decompose(emb, center=True, top=3)
    assert eig.rank == 10
    eig.require_rank(10)
    with pytest.raises(SpecrecError, match="numerical rank 10 of the centred"):
        eig.require_rank(11)


def test_fix_signs_makes_the_largest_entry_positive():
    vectors = np.array([[0.1, -0.9], [-0.8, 0.2], [0.3, 0.1]])
    fixed = spectral.fix_signs(vectors)
    np.testing.assert_array_equal(fixed, [[-0.1, 0.9], [0.8, -0.2], [-0.3, -0.1]])


def test_randomized_top_k_agrees_with_exact(make_embeddings):
    emb = open_embeddings(make_embeddings(anisotropic(300, 40, seed=1, decay=1.5)))
    exact = spectral.decompose(emb, center=True, top=4)
    fast = spectral.decompose(emb, center=True, top=4, solver="randomized", seed=0)
    np.testing.assert_allclose(fast.values[:4], exact.values[:4], rtol=1e-6)  # float32 products
    np.testing.assert_allclose(
        np.abs(np.sum(fast.vectors * exact.vectors[:, :4], axis=0)), 1.0, atol=1e-6
    )
    assert not fast.complete and fast.trace == pytest.approx(exact.trace, rel=1e-10)
    again = spectral.decompose(emb, center=True, top=4, solver="randomized", seed=0)
    np.testing.assert_array_equal(again.vectors, fast.vectors)


def test_project_streams_rows_with_a_zero_padding_row(make_embeddings):
    matrix = anisotropic(50, 8, seed=2)
    emb = open_embeddings(make_embeddings(matrix))
    weights = np.random.default_rng(0).standard_normal((8, 3))
    mean = matrix.mean(axis=0)
    table = spectral.project(emb, weights, mean=mean)
    assert table.shape == (51, 3) and np.all(table[0] == 0)
    np.testing.assert_allclose(table[1:], (matrix - mean) @ weights, rtol=1e-12)
    single = spectral.project(emb, weights, mean=mean, dtype=np.float32)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single[1:], table[1:], rtol=1e-4, atol=1e-5)


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
    expected_values, expected_vectors = np.linalg.eigh(gram)
    np.testing.assert_allclose(values, expected_values[::-1], atol=1e-10)
    np.testing.assert_allclose(gram @ vectors, vectors * values[:12], atol=1e-9)
