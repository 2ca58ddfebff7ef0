"""Each adapter transform stores the frozen inputs its embedder reads, parameters in attrs."""

from __future__ import annotations

import numpy as np
import pytest
from adapters_synthetic import DIM, N_ITEMS, K, anisotropic, write_embeddings

from specrec.artifacts import read_meta
from specrec.errors import SpecrecError
from specrec.transform.store import read_diagnostics, read_table
from specrec.transform.transform import transform


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
    np.testing.assert_allclose(features[1:], scale * matrix, rtol=1e-6)
    assert table.params["scale"] == scale and table.params["dim"] == K
    diag = read_diagnostics(tables[method])  # s·E has E's spectrum times s
    np.testing.assert_allclose(
        diag["output_singular_values"], scale * diag["input_singular_values"], rtol=1e-4
    )


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
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.cov(features, rowvar=False), np.eye(DIM), atol=1e-4)
    # AlphaFuse's WhitenRec: (40E − μ) P Λ^{-1/2}, np.cov eigenpairs: the same up to column signs
    values, vectors = np.linalg.eigh(np.cov(40 * matrix, rowvar=False))
    expected = (40 * matrix - 40 * matrix.mean(axis=0)) @ vectors[:, ::-1] / np.sqrt(values[::-1])
    np.testing.assert_allclose(_align(features, expected), expected, atol=2e-3)


def test_whitenrec_default_eps_regularises_the_small_directions(tables, matrix):
    features = read_table(tables["whitenrec"]).basis["features"][1:].astype(np.float64)
    variances = np.diag(np.cov(features, rowvar=False))
    values = np.linalg.eigvalsh(np.cov(matrix, rowvar=False))[::-1]
    np.testing.assert_allclose(variances, values / (values + 1e-6 * values[0]), atol=1e-4)
    assert variances.min() < 0.99  # the smallest direction is damped, not blown up


def test_wide_embeddings_keep_the_numerical_rank(tmp_path):
    wide = write_embeddings(tmp_path / "wide", anisotropic(N_ITEMS, 40, seed=5))
    whitened = _run("whitenrec", wide, tmp_path / "w", eps=0.0).basis["features"][1:]
    assert whitened.shape == (N_ITEMS, N_ITEMS - 1)  # centred: rank N − 1
    np.testing.assert_allclose(
        np.cov(whitened.astype(np.float64), rowvar=False), np.eye(N_ITEMS - 1), atol=1e-3
    )
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
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(_align(features[1:], u * s), u * s, atol=1e-4)
    five = _run("llmemb", emb_path, tmp_path / "five", pca_dim=5).basis["features"]
    assert five.shape == (N_ITEMS + 1, 5)
    np.testing.assert_allclose(five, features[:, :5], atol=1e-5)  # same axes, same signs
    decomposition = pytest.importorskip("sklearn.decomposition")
    expected = decomposition.PCA(n_components=5, svd_solver="full").fit_transform(matrix)
    np.testing.assert_allclose(five[1:], expected, atol=1e-4)


def test_spectran_stores_the_uncentred_svd(tables, emb_path, matrix, tmp_path):
    table = read_table(tables["spectran"])
    left, sigma = table.basis["U"].astype(np.float64), table.basis["S"].astype(np.float64)
    assert left.shape == (N_ITEMS + 1, DIM) and sigma.shape == (DIM,) and np.all(left[0] == 0)
    np.testing.assert_allclose(left.T @ left, np.eye(DIM), atol=1e-4)
    u, s, _ = np.linalg.svd(matrix, full_matrices=False)  # not centred, as the paper
    np.testing.assert_allclose(sigma, s, rtol=1e-5)
    np.testing.assert_allclose(_align(left[1:], u), u, atol=1e-4)
    np.testing.assert_allclose(left[1:] @ (left[1:].T @ matrix), matrix, atol=1e-4)  # U Uᵀ E = E
    assert np.all(np.diff(sigma) <= 0)
    diag = read_diagnostics(tables["spectran"])  # output = the truncated-SVD view U_k Σ_k
    np.testing.assert_allclose(diag["output_singular_values"], s[:K], rtol=1e-4)
    capped = _run("spectran", emb_path, tmp_path / "cap", rank=6)
    assert capped.basis["U"].shape == (N_ITEMS + 1, 6) and capped.params["rank"] == 6
    np.testing.assert_allclose(capped.basis["U"], table.basis["U"][:, :6], atol=1e-6)
