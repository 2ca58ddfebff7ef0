"""The contract every registered transform passes, plus each method's own identity."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

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
            assert table.basis
            arrays = [a for a in table.basis.values() if a.ndim == 2]
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
            assert meta.stats["diagnostics"][key] == pytest.approx(diag[key])
        assert len(diag["input_singular_values"]) >= min(K, 10)
        assert 1.0 <= diag["output_effective_rank"] <= len(diag["output_singular_values"]) + 1e-9
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


def test_pca_equals_numpy_centred_svd(emb_path, dataset_path, tmp_path, matrix):
    _run("pca", emb_path, dataset_path, tmp_path / "t")
    centred = matrix - matrix.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    expected = u[:, :K] * s[:K]
    table = _table(tmp_path / "t")[1:]
    np.testing.assert_allclose(_align(table, expected), expected, atol=2e-5 * s[0])


def test_pca_matches_sklearn_including_signs(emb_path, dataset_path, tmp_path, matrix):
    decomposition = pytest.importorskip("sklearn.decomposition")
    _run("llm2x", emb_path, dataset_path, tmp_path / "t")
    expected = decomposition.PCA(n_components=K, svd_solver="full").fit_transform(matrix)
    np.testing.assert_allclose(_table(tmp_path / "t")[1:], expected, atol=1e-4)


def test_whiten_covariance_is_identity(emb_path, dataset_path, tmp_path):
    _run("whiten", emb_path, dataset_path, tmp_path / "t", features="pca", eps=0.0)
    table = read_table(tmp_path / "t")
    features = table.basis["features"][1:].astype(np.float64)
    assert features.shape[1] == 24
    np.testing.assert_allclose(np.cov(features, rowvar=False, bias=True), np.eye(24), atol=1e-4)
    np.testing.assert_allclose(table.item_table[1:], features[:, :K], atol=1e-6)
    assert table.params["covariance"] == "1/n"


def test_whiten_default_eps_is_nearly_identity_and_zca_too(emb_path, dataset_path, tmp_path):
    _run("whiten", emb_path, dataset_path, tmp_path / "p", features="pca")
    pca = read_table(tmp_path / "p").basis["features"][1:].astype(np.float64)
    cov = np.cov(pca, rowvar=False, bias=True)
    np.testing.assert_allclose(cov, np.eye(24), atol=2e-3)  # ε = 1e-6·λ₁ on a 1:24² spectrum
    assert not np.allclose(cov, np.eye(24), atol=1e-6)
    _run("whiten", emb_path, dataset_path, tmp_path / "z", features="zca", eps=0.0)
    _run("whiten", emb_path, dataset_path, tmp_path / "p0", features="pca", eps=0.0)
    zca = read_table(tmp_path / "z").basis["features"][1:].astype(np.float64)
    pca = read_table(tmp_path / "p0").basis["features"][1:].astype(np.float64)
    np.testing.assert_allclose(np.cov(zca, rowvar=False, bias=True), np.eye(24), atol=1e-4)
    # ZCA is the PCA-whitened view rotated back: same Gram between items, different coordinates.
    np.testing.assert_allclose(zca @ zca.T, pca @ pca.T, atol=1e-3)
    assert not np.allclose(zca, pca, atol=1e-2)


def test_group_whiten_blocks_and_full_view(emb_path, dataset_path, tmp_path):
    _run("group-whiten", emb_path, dataset_path, tmp_path / "t", groups=3, eps=0.0)
    table = read_table(tmp_path / "t")
    group = table.basis["group"][1:].astype(np.float64)
    full = table.basis["full"][1:].astype(np.float64)
    np.testing.assert_allclose(np.cov(full, rowvar=False, bias=True), np.eye(24), atol=1e-4)
    cov = np.cov(group, rowvar=False, bias=True)
    for start in (0, 8, 16):
        block = slice(start, start + 8)
        np.testing.assert_allclose(cov[block, block], np.eye(8), atol=1e-4)
    assert np.abs(cov[:8, 8:]).max() > 0.05  # across groups stays correlated (relaxed whitening)
    centred = group - group.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    expected = u[:, :K] * s[:K]
    np.testing.assert_allclose(_align(table.item_table[1:], expected), expected, atol=1e-3)


def test_alphafuse_frozen_is_standardised(emb_path, dataset_path, tmp_path, matrix):
    _run("alphafuse", emb_path, dataset_path, tmp_path / "t", id_init="normal")
    table = read_table(tmp_path / "t")
    assert table.fusion == "frozen_plus_id" and table.item_table is None
    frozen = table.frozen[1:].astype(np.float64)
    np.testing.assert_allclose(frozen.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(frozen.var(axis=0, ddof=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.cov(frozen, rowvar=False), np.eye(K), atol=1e-5)
    values, vectors = np.linalg.eigh(np.cov(40 * matrix, rowvar=False))
    expected = (
        (40 * matrix - 40 * matrix.mean(axis=0))
        @ vectors[:, ::-1][:, :K]
        / np.sqrt(values[::-1][:K])
    )
    np.testing.assert_allclose(_align(frozen, expected), expected, atol=1e-4)
    assert table.params["null_dim"] == 3 and table.params["cover"] is False
    assert table.params["id_init"] == "normal"
