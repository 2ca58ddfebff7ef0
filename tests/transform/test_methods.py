"""Method specifics: LLMInit variants, rank-deficient whitening, AlphaFuse options."""

from __future__ import annotations

import math

import numpy as np
import pytest
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
    np.testing.assert_allclose(table.item_table[1:], matrix[:, expected], rtol=1e-6)
    everyone = np.sort(np.argsort(-matrix.var(axis=0), kind="stable")[:K])
    assert not np.array_equal(everyone, expected)  # popularity matters on this data


def test_llminit_uni_and_rand(emb_path, matrix, tmp_path):
    _run("llminit", emb_path, tmp_path / "u", variant="uni")
    uni = read_table(tmp_path / "u")
    assert uni.params["dims"] == [0, 4, 8, 12, 16, 20]
    np.testing.assert_allclose(uni.item_table[1:], matrix[:, ::4], rtol=1e-6)
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


def test_llminit_whitened_pca_equals_alphafuse_semantics(emb_path, tmp_path):
    _run("llminit", emb_path, tmp_path / "w", variant="whitened-pca")
    _run("alphafuse", emb_path, tmp_path / "a", null_dim=2)
    table = read_table(tmp_path / "w").item_table[1:].astype(np.float64)
    np.testing.assert_allclose(np.cov(table, rowvar=False), np.eye(K), atol=1e-5)
    np.testing.assert_allclose(table, read_table(tmp_path / "a").frozen[1:], atol=1e-5)


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
    features = read_table(tmp_path / "t").basis["features"][1:].astype(np.float64)
    assert features.shape == (20, 19)  # centred rank N − 1
    np.testing.assert_allclose(np.cov(features, rowvar=False, bias=True), np.eye(19), atol=1e-4)


def test_group_whiten_uneven_groups_and_too_many(emb_path, tmp_path):
    meta = _run("group-whiten", emb_path, tmp_path / "t", groups=5)
    assert meta.stats["group_sizes"] == [5, 5, 5, 5, 4]
    with pytest.raises(SpecrecError, match="--groups 25 exceeds the embedding dim 24"):
        _run("group-whiten", emb_path, tmp_path / "x", groups=25)


def test_alphafuse_null_dim_must_fit_in_the_table(emb_path, tmp_path):
    with pytest.raises(SpecrecError, match="--null-dim 64 exceeds --dim 6"):
        _run("alphafuse", emb_path, tmp_path / "t")  # default null_dim 64
    meta = _run("alphafuse", emb_path, tmp_path / "t", null_dim=6, cover=True)
    assert meta.config["cover"] is True and read_table(tmp_path / "t").params["null_dim"] == 6
