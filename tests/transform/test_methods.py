"""Method specifics: LLMInit variants, rank-deficient whitening, AlphaFuse options."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bounds import (
    EPS64,
    U32,
    cov_error,
    float32_projection_error,
    gram_eig_error,
    products_bound,
    whitened_tolerance,
    within,
)
from transform_synthetic import anisotropic

from specrec.data.dataset import load_dataset
from specrec.errors import SpecrecError
from specrec.transform.store import read_table
from specrec.transform.transform import transform

K = 6


def _run(method, emb, out, dataset=None, dim=K, **params):
    return transform(
        method=method, embeddings=emb, out=out, dim=dim, dataset=dataset, params=params, seed=11
    )


def test_llminit_var_picks_high_variance_dims_of_popular_items(
    emb_path, dataset_path, matrix, tmp_path
):
    meta = _run("llminit", emb_path, tmp_path / "t", dataset_path, variant="var")
    popularity = load_dataset(dataset_path).popularity("train")[1:]
    top = np.argsort(-popularity, kind="stable")[: math.ceil(0.2 * len(popularity))]
    expected = np.sort(np.argsort(-matrix[top].var(axis=0), kind="stable")[:K])
    table = read_table(tmp_path / "t")
    assert table.params["dims"] == expected.tolist() == meta.stats["dims"]
    assert table.params["variant"] == "var"
    np.testing.assert_array_equal(table.item_table[1:], matrix[:, expected])  # copied values
    everyone = np.sort(np.argsort(-matrix.var(axis=0), kind="stable")[:K])
    assert not np.array_equal(everyone, expected)  # popularity matters on this data


def test_llminit_uni_and_rand(emb_path, matrix, tmp_path):
    _run("llminit", emb_path, tmp_path / "u", variant="uni")
    uni = read_table(tmp_path / "u")
    assert uni.params["dims"] == [0, 4, 8, 12, 16, 20]
    np.testing.assert_array_equal(uni.item_table[1:], matrix[:, ::4])
    picks = []
    for seed in (1, 1, 2):
        transform(
            method="llminit",
            embeddings=emb_path,
            out=tmp_path / f"r{seed}",
            dim=K,
            params={"variant": "rand"},
            seed=seed,
        )
        picks.append(read_table(tmp_path / f"r{seed}").params["dims"])
    assert picks[0] == picks[1] != picks[2]
    assert len(set(picks[2])) == K and picks[2] == sorted(picks[2])


def test_llminit_whitened_pca_equals_alphafuse_semantics(emb_path, matrix, tmp_path):
    _run("llminit", emb_path, tmp_path / "w", variant="whitened-pca")
    _run("alphafuse", emb_path, tmp_path / "a", null_dim=2)
    table = read_table(tmp_path / "w").item_table[1:].astype(np.float64)
    n, dim = matrix.shape
    centred = matrix - matrix.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    values, vectors = values[::-1][:K], vectors[:, ::-1][:, :K]
    weights = vectors * np.sqrt((n - 1) / values)
    # the same eigenpairs and float64 products, scales √((N−1)/λ) two ways (a few ε apart), each
    # table rounded to float32 once
    bound = products_bound(centred, weights) + 8 * EPS64 * np.abs(centred @ weights)
    bound = bound + 2 * U32 * (np.abs(table) + bound)
    within(table, read_table(tmp_path / "a").frozen[1:], bound)
    stored = U32 * np.abs(table)
    cov_bound = whitened_tolerance(values, gram_eig_error(matrix, True), dim)
    within(np.cov(table, rowvar=False), np.eye(K), cov_bound + cov_error(table, stored))


def test_llminit_var_needs_a_dataset(emb_path, tmp_path):
    with pytest.raises(SpecrecError, match="pass --dataset"):
        _run("llminit", emb_path, tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_whiten_with_fewer_items_than_dims_uses_the_non_null_directions(make_embeddings, tmp_path):
    matrix = anisotropic(20, 40, seed=3)
    lines = []
    transform(
        method="whiten",
        embeddings=make_embeddings(matrix),
        out=tmp_path / "t",
        dim=5,
        params={"eps": 0.0, "features": "pca"},
        log=lines.append,
    )
    assert any("rank-deficient" in line for line in lines)
    table = read_table(tmp_path / "t")
    features = table.basis["features"][1:].astype(np.float64)
    assert features.shape == (20, 19)  # centred rank N − 1
    # through the 20×20 Gram ĒĒᵀ: its 19 nonzero eigenvalues are ĒᵀĒ's; V = ĒᵀU S⁻¹
    mean = matrix.mean(axis=0)
    _, sigma, vt = np.linalg.svd(matrix - mean, full_matrices=False)
    values, weights = sigma[:19] ** 2, vt[:19].T * np.sqrt(20) / sigma[:19]
    tol = whitened_tolerance(values, gram_eig_error(matrix, True), 40)
    moved = float32_projection_error(matrix, mean, weights) + U32 * np.abs(features)
    cov = np.cov(features, rowvar=False, bias=True)
    within(cov, np.eye(19), tol + cov_error(features, moved, ddof=0))


def test_group_whiten_equal_groups_only_and_not_too_many(emb_path, tmp_path):
    meta = _run("group-whiten", emb_path, tmp_path / "t", groups=6)
    assert meta.stats["group_sizes"] == [4] * 6
    with pytest.raises(SpecrecError, match=r"--groups 5 does not divide the embedding dim 24 .*"
                                           r"\(2, 3, 4, 6, 8, 12"):
        _run("group-whiten", emb_path, tmp_path / "u", groups=5)
    with pytest.raises(SpecrecError, match="--groups 25 exceeds the embedding dim 24"):
        _run("group-whiten", emb_path, tmp_path / "x", groups=25)
    assert not (tmp_path / "u").exists() and not (tmp_path / "x").exists()


def test_alphafuse_null_dim_must_fit_in_the_table(emb_path, tmp_path):
    with pytest.raises(SpecrecError, match="--null-dim 64 exceeds --dim 6"):
        _run("alphafuse", emb_path, tmp_path / "t")  # default null_dim 64
    meta = _run("alphafuse", emb_path, tmp_path / "t", null_dim=6, cover=True)
    assert meta.config["cover"] is True and read_table(tmp_path / "t").params["null_dim"] == 6
