"""The `mixed` solver (float32 block products, float64 sums) against `exact`, and `auto`."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from transform_synthetic import anisotropic

from specrec.embed.store import open_embeddings
from specrec.transform import chebyshev, eigensolver, spectral
from specrec.transform.eigensolver import eigen_of_gram
from specrec.transform.store import read_table
from specrec.transform.transform import transform


@pytest.mark.parametrize("center", [True, False])
def test_mixed_matches_exact_within_float32_product_noise(make_embeddings, center):
    emb = open_embeddings(make_embeddings(anisotropic(400, 48, seed=4, decay=1.0)))
    exact = spectral.decompose(emb, center=center, top=6, solver="exact")
    mixed = spectral.decompose(emb, center=center, top=6, solver="mixed")
    assert (exact.solver, mixed.solver) == ("exact", "mixed")
    # every eigenvalue within 1e-6 of λ₁; the kept ones to 1e-5 relative; same axes and signs
    assert np.abs(mixed.values - exact.values).max() < 1e-6 * exact.values[0]
    np.testing.assert_allclose(mixed.values[:6], exact.values[:6], rtol=1e-5)
    np.testing.assert_allclose(mixed.vectors, exact.vectors, atol=1e-4)
    np.testing.assert_allclose(mixed.mean, exact.mean, atol=1e-6)
    assert mixed.mean_cosine == pytest.approx(exact.mean_cosine, abs=1e-6)
    assert mixed.rank == exact.rank == 48


def test_mixed_numerical_rank_ignores_float32_product_noise(make_embeddings):
    matrix = anisotropic(300, 40, seed=5, rank=10, offset=3.0)
    emb = open_embeddings(make_embeddings(matrix))
    mixed = spectral.decompose(emb, center=True, top=3, solver="mixed")
    assert mixed.rank == 10
    noise = mixed.values[10:].max() / mixed.values[0]
    assert 0.0 <= noise < 40 * spectral.MIXED_RANK_TOL  # below the rank floor λ₁·D·tol


def test_auto_takes_mixed_only_for_large_top_k_solves():
    def fake(n, d):
        return SimpleNamespace(n_items=n, dim=d)

    assert spectral.resolve_solver("auto", fake(100_000, 4096), 64) == "mixed"
    assert spectral.resolve_solver("auto", fake(100_000, 4096), None) == "exact"  # all axes
    assert spectral.resolve_solver("auto", fake(1349, 384), 64) == "exact"  # small: float64
    assert spectral.resolve_solver("auto", fake(3000, 8192), 64) == "exact"  # N < D route
    assert spectral.resolve_solver("exact", fake(100_000, 4096), 64) == "exact"


def test_auto_is_recorded_as_the_solver_that_ran(emb_path, tmp_path, monkeypatch):
    small = transform(method="pca", embeddings=emb_path, out=tmp_path / "a", dim=4)
    assert small.config["solver"] == "auto" and small.stats["solver"] == "exact"
    monkeypatch.setattr(spectral, "MIXED_ABOVE_FLOPS", 0.0)  # this input now counts as large
    large = transform(method="pca", embeddings=emb_path, out=tmp_path / "b", dim=4)
    assert large.stats["solver"] == "mixed"
    a, b = read_table(tmp_path / "a").item_table, read_table(tmp_path / "b").item_table
    np.testing.assert_allclose(b, a, atol=1e-4 * np.abs(a).max())


def test_whiten_without_features_needs_only_the_top_axes(emb_path, tmp_path):
    meta = transform(method="whiten", embeddings=emb_path, out=tmp_path / "t", dim=5)
    table = read_table(tmp_path / "t")
    assert "features" not in table.basis and "features_dim" not in meta.stats
    transform(method="whiten", embeddings=emb_path, out=tmp_path / "f", dim=5,
              params={"features": "pca"})
    full = read_table(tmp_path / "f")
    np.testing.assert_allclose(table.item_table, full.item_table, atol=1e-9)
    np.testing.assert_allclose(table.item_table[1:], full.basis["features"][1:, :5], atol=1e-5)
    cov = np.cov(table.item_table[1:], rowvar=False, bias=True)
    np.testing.assert_allclose(cov, np.eye(5), atol=2e-3)


@pytest.mark.parametrize("center", [True, False])
def test_scores_in_the_solvers_precision(make_embeddings, center):
    matrix = anisotropic(300, 20, seed=6, offset=5.0)
    emb = open_embeddings(make_embeddings(matrix))
    mean = matrix.mean(axis=0) if center else 0.0
    for solver, tol in (("exact", 1e-12), ("mixed", 1e-5)):
        eig = spectral.decompose(emb, center=center, top=4, solver=solver)
        table = spectral.scores(emb, eig, eig.vectors[:, :4])
        expected = (matrix - mean) @ eig.vectors[:, :4]
        assert table.shape == (301, 4) and table.dtype == np.float64 and np.all(table[0] == 0)
        np.testing.assert_allclose(table[1:], expected, atol=tol * np.abs(expected).max())


def _known(dim: int, values: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A symmetric matrix Q diag(values) Qᵀ with a seeded random orthonormal Q."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return np.asfortranarray((q * values) @ q.T), q


def _sin_theta(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.linalg.norm(got - want @ (want.T @ got), 2))


@pytest.mark.parametrize("decay", [1.0, 2.0])
def test_chebyshev_filter_finds_the_top_eigenpairs(decay):
    values = 1.0 / np.arange(1, 513) ** decay
    gram, q = _known(512, values)
    for start in (None, q[:, : chebyshev.block_width(8, 512)] + 1e-4):  # random / near start
        found = chebyshev.filtered_top(gram, values, 8, start=start)
        assert found is not None
        theta, vectors = found
        np.testing.assert_allclose(theta, values[:8], rtol=1e-12)
        residual = np.linalg.norm(gram @ vectors - vectors * theta, axis=0).max()
        assert residual <= chebyshev.FILTER_TOL * values[0]
        assert _sin_theta(vectors, q[:, :8]) < 1e-8


def test_chebyshev_filter_declines_a_flat_spectrum_at_the_block_edge():
    values = np.r_[np.linspace(2.0, 1.5, 4), np.ones(252)]  # λ_k = λ_{b+1}: no gap to filter
    gram, _ = _known(256, values)
    assert chebyshev.filtered_top(gram, values, 8) is None


def test_fast_eigen_matches_the_float64_route():
    values = np.r_[40.0, 1.0 / np.arange(1, 192) ** 0.7]
    gram, _ = _known(192, values, seed=3)
    exact_values, exact_vectors = eigen_of_gram(gram, 10)
    fast_values, fast_vectors = eigen_of_gram(gram, 10, fast=True)
    np.testing.assert_allclose(fast_values[:10], exact_values[:10], rtol=1e-12)
    # the rest come from the float32 tridiagonalisation: a few float32 ε of λ₁
    assert np.abs(fast_values - exact_values).max() < 1e-6 * exact_values[0]
    assert _sin_theta(fast_vectors, exact_vectors) < 1e-9
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
    emb = open_embeddings(make_embeddings(anisotropic(1500, 256, seed=8, decay=1.0, offset=3.0)))
    exact = spectral.decompose(emb, center=center, top=8, solver="exact")
    mixed = spectral.decompose(emb, center=center, top=8, solver="mixed")
    assert routes == [True]  # only `mixed` takes it, and the filter converged
    assert np.abs(mixed.values - exact.values).max() < 1e-6 * exact.values[0]
    np.testing.assert_allclose(mixed.values[:8], exact.values[:8], rtol=1e-5)
    np.testing.assert_allclose(mixed.vectors, exact.vectors, atol=1e-4)
    # mixed counts only what clears its float32 floor (the uncentred tail lies below it here)
    floor = max(256 * spectral.MIXED_RANK_TOL, spectral.MIXED_VALUE_TOL) * exact.values[0]
    assert abs(mixed.rank - np.count_nonzero(exact.values > floor)) <= 1
    assert exact.rank == 256
