"""Each adapter transform stores the frozen inputs its embedder reads, parameters in attrs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from adapters_synthetic import DIM, N_ITEMS, K, anisotropic, write_embeddings
from sklearn.decomposition import PCA

from specrec.artifacts import read_meta
from specrec.errors import SpecrecError
from specrec.transform.store import read_diagnostics, read_table
from specrec.transform.transform import transform


def _load_bounds():
    """tests/transform/bounds.py, the error bounds every transform tolerance is built from."""
    spec = importlib.util.spec_from_file_location(
        "transform_bounds", Path(__file__).parents[1] / "transform" / "bounds.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


B = _load_bounds()


def _cov_eigen(matrix: np.ndarray, ddof: int = 1):
    """np.cov eigenpairs (descending) and the Gram's eigenvalue bound in the same units (ours
    and numpy's `gram_eig_error` each)."""
    values, vectors = np.linalg.eigh(np.cov(matrix, rowvar=False, ddof=ddof))
    return values[::-1], vectors[:, ::-1], 2 * B.gram_eig_error(matrix, True) / (len(matrix) - ddof)


def _whitened(matrix, features, values, vectors, delta, ddof=1):
    """|cov(features) − I| for float32-projected whitened features Ē V Λ^{-1/2}."""
    weights = vectors / np.sqrt(values)
    moved = B.float32_projection_error(matrix, matrix.mean(axis=0), weights)
    moved = moved + B.U32 * np.abs(features)
    tol = B.whitened_tolerance(values, delta, matrix.shape[1])
    return tol + B.cov_error(features, moved, ddof=ddof), moved


def _align(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """`actual` with each column's sign matched to `expected` (singular vectors have no sign)."""
    return actual * np.sign(np.sum(actual * expected, axis=0))


def _run(method, emb, out, **params):
    transform(method=method, embeddings=emb, out=out, dim=K, params=params, log=lambda m: None)
    return read_table(out)


@pytest.mark.parametrize(
    "method, scale", [("morec", 40.0), ("unisrec", 40.0), ("rlmrec", 40.0), ("alpharec", 1.0)]
)
def test_scaled_features_are_stored_as_basis(method, scale, tables, matrix):
    table = read_table(tables[method])
    assert (table.method, table.fusion) == (method, "adapter")
    assert table.item_table is None and table.frozen is None and set(table.basis) == {"features"}
    features = table.basis["features"]
    assert features.shape == (N_ITEMS + 1, DIM) and features.dtype == np.float32
    assert np.all(features[0] == 0)
    B.within(features[1:], scale * matrix, B.U32 * np.abs(scale * matrix))  # one float32 product
    assert table.params["scale"] == scale and table.params["dim"] == K
    diag = read_diagnostics(tables[method])  # s·E has E's spectrum times s
    # both spectra through a float64 Gram (`gram_sv_tolerance`, s² times for s·E), the features
    # off s·E by ≤ U32·|s·E| (‖δ‖₂ ≤ its Frobenius norm, twice with the centring: Weyl)
    s = np.linalg.svd(matrix - matrix.mean(axis=0), compute_uv=False)
    gram = B.gram_sv_tolerance(s, N_ITEMS, B.gram_eig_error(matrix, True))
    stored = 2 * B.U32 * scale * np.linalg.norm(matrix)
    bound = 2 * scale * gram + stored
    B.within(diag["output_singular_values"], scale * diag["input_singular_values"], bound)


def test_alpharec_ratio_is_stored_and_auto_resolves_by_input_dim(tables, emb_path, tmp_path):
    assert read_table(tables["alpharec"]).params["ratio"] == "auto"
    assert read_meta(tables["alpharec"]).stats["ratio"] == 8.0  # D = 24 ≤ 1024: BERT-like
    assert (
        _run("alpharec", emb_path, tmp_path / "half", ratio=0.5, scale=2.0).params["ratio"] == 0.5
    )
    for bad in ({"ratio": -1}, {"ratio": "wide"}, {"scale": 0}):
        with pytest.raises(SpecrecError, match="alpharec"):
            _run("alpharec", emb_path, tmp_path / "bad", **bad)
        assert not (tmp_path / "bad").exists()


def test_whitenrec_features_have_identity_covariance(emb_path, matrix, tmp_path):
    table = _run("whitenrec", emb_path, tmp_path / "w", eps=0.0)
    features = table.basis["features"][1:].astype(np.float64)
    assert features.shape == (N_ITEMS, DIM) and table.params["covariance"] == "1/(n-1)"
    values, vectors, delta = _cov_eigen(matrix)
    tol, moved = _whitened(matrix, features, values, vectors, delta)
    # a column mean: the streamed mean's (μ̂ − μ)W and the entries' own errors, averaged
    entry = B.pca_bound(matrix, DIM, scale=1 / np.sqrt(values), float32=True)
    B.within(features.mean(axis=0), 0.0, (entry + moved).mean(axis=0))
    B.within(np.cov(features, rowvar=False), np.eye(DIM), tol)
    # AlphaFuse's WhitenRec: (40E − μ) P Λ^{-1/2}, np.cov eigenpairs: the same up to column signs
    values, vectors, delta = _cov_eigen(40 * matrix)
    expected = (40 * matrix - 40 * matrix.mean(axis=0)) @ vectors / np.sqrt(values)
    bound = B.pca_bound(matrix, DIM, scale=40 / np.sqrt(values), relative=delta / values,
                        float32=True)
    B.within(_align(features, expected), expected, bound)


def test_whitenrec_default_eps_regularises_the_small_directions(tables, matrix):
    features = read_table(tables["whitenrec"]).basis["features"][1:].astype(np.float64)
    variances = np.diag(np.cov(features, rowvar=False))
    values, vectors, delta = _cov_eigen(matrix)
    ridge = values + 1e-6 * values[0]
    tol, _ = _whitened(matrix, features, ridge, vectors, delta)
    bound = np.diag(tol) + delta / values  # λ/(λ + ελ₁) moves by ≤ δ/λ with λ̂
    B.within(variances, values / ridge, bound)
    assert np.any(variances < 1.0 - bound)  # the smallest direction is damped, not blown up


def test_wide_embeddings_keep_the_numerical_rank(tmp_path):
    matrix = anisotropic(N_ITEMS, 40, seed=5)
    wide = write_embeddings(tmp_path / "wide", matrix)
    whitened = _run("whitenrec", wide, tmp_path / "w", eps=0.0).basis["features"][1:]
    assert whitened.shape == (N_ITEMS, N_ITEMS - 1)  # centred: rank N − 1
    # through the 30×30 Gram ĒĒᵀ: its N − 1 nonzero eigenvalues are the covariance's
    _, sigma, vt = np.linalg.svd(matrix - matrix.mean(axis=0), full_matrices=False)
    values, vectors = sigma[: N_ITEMS - 1] ** 2 / (N_ITEMS - 1), vt[: N_ITEMS - 1].T
    delta = B.gram_eig_error(matrix, True) / (N_ITEMS - 1)
    features = whitened.astype(np.float64)
    tol, _ = _whitened(matrix, features, values, vectors, delta)
    B.within(np.cov(features, rowvar=False), np.eye(N_ITEMS - 1), tol)
    spectral = _run("spectran", wide, tmp_path / "s")
    assert spectral.basis["U"].shape == (N_ITEMS + 1, N_ITEMS) and spectral.basis["S"].shape == (
        N_ITEMS,
    )
    assert _run("llmemb", wide, tmp_path / "l").basis["features"].shape == (
        N_ITEMS + 1,
        N_ITEMS - 1,
    )


def test_llmemb_features_are_centred_pca_scores(tables, emb_path, matrix, tmp_path):
    table = read_table(tables["llmemb"])
    features = table.basis["features"]
    assert features.shape == (N_ITEMS + 1, DIM) and np.all(features[0] == 0)  # 1536 capped at 24
    assert table.params["pca_dim"] == 1536 and table.params["solver"] == "auto"
    centred = matrix - matrix.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    B.within(_align(features[1:], u * s), u * s, B.pca_bound(matrix, DIM, float32=True))
    five = _run("llmemb", emb_path, tmp_path / "five", pca_dim=5).basis["features"]
    assert five.shape == (N_ITEMS + 1, 5)
    # same axes, same signs: top-5 MRRR and the full eigh on one Gram (d·u·λ₁ each, Davis–Kahan),
    # each projected in float32 and stored
    sin = B.sin_theta(s**2, DIM * B.EPS64 * s[0] ** 2, 5)
    projection = B.float32_projection_error(matrix, matrix.mean(axis=0), vt[:5].T)
    bound = B.scores_bound(centred, vt[:5].T, sin) + 2 * projection
    bound = bound + 2 * B.U32 * (np.abs(features[1:, :5]) + bound)
    B.within(five[1:], features[1:, :5], bound)
    assert np.all(five[0] == 0)
    expected = PCA(n_components=5, svd_solver="full").fit_transform(matrix)
    B.within(five[1:], expected, B.pca_bound(matrix, 5, float32=True))  # an SVD, as numpy's


def test_spectran_stores_the_uncentred_svd(tables, emb_path, matrix, tmp_path):
    table = read_table(tables["spectran"])
    left, sigma = table.basis["U"].astype(np.float64), table.basis["S"].astype(np.float64)
    assert left.shape == (N_ITEMS + 1, DIM) and sigma.shape == (DIM,) and np.all(left[0] == 0)
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)  # not centred, as the paper
    delta = B.gram_eig_error(matrix, False)
    error = B.gram_sv_tolerance(s, N_ITEMS, delta)
    # U = E V̂ Σ̂⁻¹: a whitened view of E (`whitened_tolerance`), projected in float32, stored
    moved = B.float32_projection_error(matrix, None, vt.T / s) + B.U32 * np.abs(left[1:])
    orthonormal = B.whitened_tolerance(s**2, delta, DIM)
    orthonormal += B.perturbed_product(left[1:].T, moved.T, left[1:], moved)
    B.within(left.T @ left, np.eye(DIM), orthonormal + B.dot_bound(left.T, left))
    B.within(sigma, s, error + B.U32 * (s + error))  # through the Gram, stored as float32
    bound = B.pca_bound(matrix, DIM, center=False, scale=1 / s, relative=error / s, float32=True)
    B.within(_align(left[1:], u), u, bound)
    # U Uᵀ E = E (rank D): through Û = U + δU, |δU| ≤ `bound`, and two float64 products
    inner = left[1:].T @ matrix
    size = np.abs(left[1:])
    rebuilt = bound @ (np.abs(u).T @ np.abs(matrix)) + size @ (bound.T @ np.abs(matrix))
    rebuilt += size @ B.dot_bound(left[1:].T, matrix) + B.dot_bound(left[1:], inner)
    B.within(left[1:] @ inner, matrix, rebuilt)
    assert np.all(np.diff(sigma) <= 0)
    # output = the truncated-SVD view U_k Σ_k = E V̂_k: ‖δ‖₂ ≤ its Frobenius norm (Weyl), plus
    # the spectrum's own float64 Gram route
    diag = read_diagnostics(tables["spectran"])
    view = np.linalg.norm((bound[:, :K] + B.U32 * np.abs(u[:, :K])) * s[:K] + np.abs(
        u[:, :K]) * (error[:K] + B.U32 * s[:K]))
    spectrum = B.gram_sv_tolerance(s[:K], N_ITEMS)
    B.within(diag["output_singular_values"], s[:K], view + spectrum)
    capped = _run("spectran", emb_path, tmp_path / "cap", rank=6)
    assert capped.basis["U"].shape == (N_ITEMS + 1, 6) and capped.params["rank"] == 6
    # top-6 MRRR and the full eigh on one Gram: d·u·λ₁ each, so Davis–Kahan and δσ/σ; each
    # projected in float32 and stored
    sin = B.sin_theta(s**2, DIM * B.EPS64 * s[0] ** 2, 6)
    scale = 1 / s[:6]
    same = B.scores_bound(matrix, vt[:6].T, sin, scale, DIM * B.EPS64 * s[0] ** 2 / s[:6] ** 2)
    same += 2 * B.float32_projection_error(matrix, None, vt[:6].T * scale)
    same = same + 2 * B.U32 * (np.abs(left[1:, :6]) + same)
    B.within(capped.basis["U"][1:], table.basis["U"][1:, :6], same)
