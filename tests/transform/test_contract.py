"""The contract every registered transform passes, plus each method's own identity."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from bounds import (
    EPS64,
    U32,
    cov_error,
    float32_projection_error,
    gram_eig_error,
    pca_bound,
    dot_bound,
    erank_tolerance,
    perturbed_product,
    products_bound,
    scores_bound,
    sin_theta,
    whitened_tolerance,
    within,
)
from sklearn.decomposition import PCA

from specrec.artifacts import read_meta
from specrec.transform.base import TRANSFORMS
from specrec.transform.store import TABLE_FILE, read_diagnostics, read_table
from specrec.transform.transform import transform

K = 6
CONTRACT_PARAMS = {"alphafuse": {"null_dim": 3}}
"""Options a method needs to run at K = 6 on 24-d inputs (defaults otherwise)."""


def _run(method, emb_path, dataset_path, out, **params):
    params = {**CONTRACT_PARAMS.get(method, {}), **params}
    return transform(
        method=method,
        embeddings=emb_path,
        out=out,
        dim=K,
        dataset=dataset_path,
        params=params,
        seed=3,
    )


def _main_array(table):
    return table.item_table if table.item_table is not None else table.frozen


def _align(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """`actual` with each column's sign matched to `expected` (SVD signs are arbitrary)."""
    signs = np.sign(np.sum(actual * expected, axis=0))
    return actual * signs


@pytest.mark.parametrize("method", TRANSFORMS.names())
class TestTransformContract:
    def test_shapes_padding_and_fusion(self, method, emb_path, dataset_path, tmp_path, matrix):
        meta = _run(method, emb_path, dataset_path, tmp_path / "t")
        table = read_table(tmp_path / "t")
        assert table.fusion in ("init", "frozen_plus_id", "adapter")
        assert table.method == method
        assert meta.config["method"] == method and meta.config["dim"] == K
        rows = matrix.shape[0] + 1
        if table.fusion == "adapter":  # the adapter's stored inputs: item-indexed arrays pad row 0
            assert table.basis  # (`user_*` arrays are indexed by the dataset's users instead)
            arrays = [a for name, a in table.basis.items()
                      if a.ndim == 2 and not name.startswith("user_")]
            assert arrays and all(a.shape[0] == rows for a in arrays)
        else:
            arrays = [_main_array(table)]
            assert arrays[0].shape == (rows, K) and arrays[0].dtype == np.float32
        for array in arrays:
            assert np.all(array[0] == 0)
            assert np.all(np.isfinite(array))
            assert np.abs(array[1:]).sum(axis=0).min() > 0  # no dead column

    def test_deterministic_bytes(self, method, emb_path, dataset_path, tmp_path):
        _run(method, emb_path, dataset_path, tmp_path / "a")
        _run(method, emb_path, dataset_path, tmp_path / "b")
        with (
            h5py.File(tmp_path / "a" / TABLE_FILE) as fa,
            h5py.File(tmp_path / "b" / TABLE_FILE) as fb,
        ):
            names_a, names_b = [], []
            fa.visit(names_a.append)
            fb.visit(names_b.append)
            assert names_a == names_b
            for name in names_a:
                if isinstance(fa[name], h5py.Dataset):
                    assert fa[name][...].tobytes() == fb[name][...].tobytes(), name
            attrs = [{k: np.asarray(v).tolist() for k, v in f.attrs.items()} for f in (fa, fb)]
            assert attrs[0] == attrs[1]
        assert (tmp_path / "a" / TABLE_FILE).read_bytes() == (
            tmp_path / "b" / TABLE_FILE
        ).read_bytes()

    def test_items_fingerprint_carried(self, method, emb_path, dataset_path, tmp_path):
        meta = _run(method, emb_path, dataset_path, tmp_path / "t")
        expected = read_meta(emb_path).items_fingerprint
        assert meta.items_fingerprint == expected
        assert read_table(tmp_path / "t").items_fingerprint == expected
        with h5py.File(tmp_path / "t" / TABLE_FILE) as f:
            assert f.attrs["items_fingerprint"] == expected
        assert meta.inputs["embeddings"]["fingerprint"] == read_meta(emb_path).fingerprint

    def test_round_trip_params_and_diagnostics(self, method, emb_path, dataset_path, tmp_path):
        meta = _run(method, emb_path, dataset_path, tmp_path / "t")
        again = read_table(tmp_path / "t")
        assert again.meta.fingerprint == meta.fingerprint
        for key, value in meta.config.items():
            if key != "method":
                assert again.params[key] == value, key
        diag = read_diagnostics(tmp_path / "t")
        for key in (
            "input_mean_cosine",
            "output_mean_cosine",
            "input_effective_rank",
            "output_effective_rank",
            "input_top10_share",
            "output_top10_share",
        ):
            assert np.isfinite(diag[key]), key
            assert meta.stats["diagnostics"][key] == diag[key]  # the same float, twice stored
        assert len(diag["input_singular_values"]) >= min(K, 10)
        count = len(diag["output_singular_values"])  # erank ≤ count, to its float64 evaluation
        assert 1.0 <= diag["output_effective_rank"] <= count + erank_tolerance(count, count, 0.0)
        if meta.stats["fusion"] != "adapter":
            assert len(diag["input_singular_values"]) == 24
            assert len(diag["output_singular_values"]) == K

    def test_up_to_date_output_is_skipped(self, method, emb_path, dataset_path, tmp_path):
        first = _run(method, emb_path, dataset_path, tmp_path / "t")
        second = _run(method, emb_path, dataset_path, tmp_path / "t")
        assert second.created_utc == first.created_utc  # not rebuilt


# -- each method's identity --------------------------------------------------------------------


def _table(out):
    return _main_array(read_table(out)).astype(np.float64)


def _eigen(matrix, ddof=0):
    """Covariance eigenpairs (descending) by numpy, and the Gram's eigenvalue bound δ in the
    same units (ours and numpy's: `gram_eig_error` each, numpy's eigh D·u·λ₁ within it)."""
    n = len(matrix)
    values, vectors = np.linalg.eigh(np.cov(matrix, rowvar=False, ddof=ddof))
    delta = 2 * gram_eig_error(matrix, True) / (n - ddof)
    return values[::-1], vectors[:, ::-1], delta


def _whitened_cov_bound(matrix, values, vectors, delta, features, weights, rotate=False):
    """|cov(features) − I| for float32 features (Ē Ŵ): `whitened_tolerance` (rotated by |V|
    for ZCA) plus the float32 projection's and storage's errors through `cov_error`."""
    tol = whitened_tolerance(values, delta, matrix.shape[1])
    if rotate:
        tol = np.abs(vectors) @ tol @ np.abs(vectors).T
    moved = float32_projection_error(matrix, matrix.mean(axis=0), weights)
    return tol + cov_error(features, moved + U32 * np.abs(features), ddof=0)


def test_pca_equals_numpy_centred_svd(emb_path, dataset_path, tmp_path, matrix):
    _run("pca", emb_path, dataset_path, tmp_path / "t")
    centred = matrix - matrix.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    expected = u[:, :K] * s[:K]
    table = _table(tmp_path / "t")[1:]
    within(_align(table, expected), expected, pca_bound(matrix, K))


def test_pca_matches_sklearn_including_signs(emb_path, dataset_path, tmp_path, matrix):
    _run("llm2x", emb_path, dataset_path, tmp_path / "t")
    expected = PCA(n_components=K, svd_solver="full").fit_transform(matrix)
    within(_table(tmp_path / "t")[1:], expected, pca_bound(matrix, K))  # an SVD, as numpy's


def test_whiten_covariance_is_identity(emb_path, dataset_path, tmp_path, matrix):
    _run("whiten", emb_path, dataset_path, tmp_path / "t", features="pca", eps=0.0)
    table = read_table(tmp_path / "t")
    features = table.basis["features"][1:].astype(np.float64)
    assert features.shape[1] == 24
    values, vectors, delta = _eigen(matrix)
    weights = vectors / np.sqrt(values)
    bound = _whitened_cov_bound(matrix, values, vectors, delta, features, weights)
    within(np.cov(features, rowvar=False, bias=True), np.eye(24), bound)
    # the same axes by float64 products (item_table) and float32 ones (features), both stored
    stored = U32 * (np.abs(table.item_table[1:]) + np.abs(features[:, :K]))
    projection = float32_projection_error(matrix, matrix.mean(axis=0), weights[:, :K])
    centred = matrix - matrix.mean(axis=0)
    products = products_bound(centred, weights[:, :K])
    within(table.item_table[1:], features[:, :K], projection + stored + products)
    assert table.params["covariance"] == "1/n"


def test_whiten_default_eps_is_nearly_identity_and_zca_too(emb_path, dataset_path, tmp_path,
                                                           matrix):
    _run("whiten", emb_path, dataset_path, tmp_path / "p", features="pca")
    pca = read_table(tmp_path / "p").basis["features"][1:].astype(np.float64)
    values, vectors, delta = _eigen(matrix)
    ridge = values + 1e-6 * values[0]  # ε = 1e-6·λ₁: cov = diag(λ/(λ + ελ₁)), λ̂'s own δ/λ
    weights = vectors / np.sqrt(ridge)
    bound = _whitened_cov_bound(matrix, values, vectors, delta, pca, weights) + delta / values[-1]
    cov = np.cov(pca, rowvar=False, bias=True)
    within(cov, np.diag(values / ridge), bound)
    assert np.any(np.abs(cov - np.eye(24)) > bound)  # the ridge shows above the noise
    _run("whiten", emb_path, dataset_path, tmp_path / "z", features="zca", eps=0.0)
    _run("whiten", emb_path, dataset_path, tmp_path / "p0", features="pca", eps=0.0)
    zca = read_table(tmp_path / "z").basis["features"][1:].astype(np.float64)
    pca = read_table(tmp_path / "p0").basis["features"][1:].astype(np.float64)
    weights = vectors / np.sqrt(values)
    zca_weights = weights @ vectors.T
    bound = _whitened_cov_bound(matrix, values, vectors, delta, zca, zca_weights, rotate=True)
    within(np.cov(zca, rowvar=False, bias=True), np.eye(24), bound)
    # ZCA is the PCA-whitened view rotated back: same Gram between items (V̂ᵀV̂ = I to 2D·ε),
    # different coordinates; each view off by its float32 projection and storage
    mean = matrix.mean(axis=0)
    dz = float32_projection_error(matrix, mean, zca_weights) + U32 * np.abs(zca)
    dp = float32_projection_error(matrix, mean, weights) + U32 * np.abs(pca)
    gram_bound = perturbed_product(zca, dz, zca.T, dz.T) + perturbed_product(pca, dp, pca.T, dp.T)
    gram_bound += dot_bound(zca, zca.T) + dot_bound(pca, pca.T)
    gram_bound += 2 * 24 * EPS64 * (np.abs(pca) @ np.abs(pca).T)
    within(zca @ zca.T, pca @ pca.T, gram_bound)
    assert np.any(np.abs(zca - pca) > dz + dp)  # the coordinates differ beyond the noise


def test_group_whiten_blocks_and_full_view(emb_path, dataset_path, tmp_path, matrix):
    _run("group-whiten", emb_path, dataset_path, tmp_path / "t", groups=3, eps=0.0)
    table = read_table(tmp_path / "t")
    group = table.basis["group"][1:].astype(np.float64)
    full = table.basis["full"][1:].astype(np.float64)
    values, vectors, delta = _eigen(matrix)
    zca = (vectors / np.sqrt(values)) @ vectors.T
    bound = _whitened_cov_bound(matrix, values, vectors, delta, full, zca, rotate=True)
    within(np.cov(full, rowvar=False, bias=True), np.eye(24), bound)
    blocks, whitened = np.zeros((24, 24)), np.zeros((24, 24))
    for start in (0, 8, 16):
        block = slice(start, start + 8)
        values, vectors, delta = _eigen(matrix[:, block])
        blocks[block, block] = (vectors / np.sqrt(values)) @ vectors.T
        tol = whitened_tolerance(values, delta, 8)
        whitened[block, block] = np.abs(vectors) @ tol @ np.abs(vectors).T
    stored = float32_projection_error(matrix, matrix.mean(axis=0), blocks) + U32 * np.abs(group)
    cov = np.cov(group, rowvar=False, bias=True)
    inside = np.kron(np.eye(3), np.ones((8, 8))) > 0
    within(cov[inside], np.eye(24)[inside], (whitened + cov_error(group, stored, ddof=0))[inside])
    assert np.abs(cov[:8, 8:]).max() > 0.05  # across groups stays correlated (relaxed whitening)
    # the table: PCA-k of the group view, against the SVD of the stored view (off by `stored`)
    centred = group - group.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    expected = u[:, :K] * s[:K]
    moved = 2 * float(np.linalg.norm(stored))  # ‖δȲ‖₂ ≤ ‖δY‖_F, twice with the centring
    # ours: the Gram W_GᵀĜW_G, off by ‖W_G‖²·δ; numpy's SVD n·ε·σ₁; the stored view (Weyl)
    view = np.linalg.norm(blocks, 2) ** 2 * gram_eig_error(matrix, True) + 150 * EPS64 * s[0] ** 2
    sin = sin_theta(s**2, view + (2 * s[0] + moved) * moved, K)
    rows = 2 * np.linalg.norm(stored, axis=1)[:, None]
    bound = scores_bound(centred, vt[:K].T, sin) + rows + 150 * EPS64 * s[0]
    bound = bound + U32 * (np.abs(expected) + bound)  # the table stored as float32
    within(_align(table.item_table[1:], expected), expected, bound)


def test_alphafuse_frozen_is_standardised(emb_path, dataset_path, tmp_path, matrix):
    _run("alphafuse", emb_path, dataset_path, tmp_path / "t", id_init="normal")
    table = read_table(tmp_path / "t")
    assert table.fusion == "frozen_plus_id" and table.item_table is None
    frozen = table.frozen[1:].astype(np.float64)
    values, vectors, delta = _eigen(40 * matrix, ddof=1)
    centred = 40 * matrix - 40 * matrix.mean(axis=0)
    # products, the streamed mean and float32 storage per entry; a column mean sees their mean
    entry = pca_bound(matrix, K, scale=40 / np.sqrt(values[:K]))
    within(frozen.mean(axis=0), 0.0, entry.mean(axis=0))
    tol = whitened_tolerance(values[:K], delta, 24) + cov_error(frozen, entry)
    within(frozen.var(axis=0, ddof=1), 1.0, np.diag(tol))
    within(np.cov(frozen, rowvar=False), np.eye(K), tol)
    expected = centred @ vectors[:, :K] / np.sqrt(values[:K])
    # numpy's covariance eigenpairs of 40·E: the same bound as the SVD's, scales to δ/λ
    bound = pca_bound(matrix, K, scale=40 / np.sqrt(values[:K]), relative=delta / values[:K])
    within(_align(frozen, expected), expected, bound)
    assert table.params["null_dim"] == 3 and table.params["cover"] is False
    assert table.params["id_init"] == "normal"
