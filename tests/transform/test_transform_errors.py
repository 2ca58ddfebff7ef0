"""Bad input: one-line SpecrecError, and no artifact (not even a temp dir) left behind."""

from __future__ import annotations

import numpy as np
import pytest
from transform_synthetic import anisotropic, item_ids, write_dataset

from specrec.errors import SpecrecError
from specrec.transform.transform import transform


def _fails(tmp_path, match, **kwargs):
    out = tmp_path / "out"
    kwargs.setdefault("dim", 4)
    with pytest.raises(SpecrecError, match=match) as info:
        transform(out=out, **kwargs)
    assert "\n" not in str(info.value)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    return str(info.value)


def test_dim_beyond_the_rank_names_the_rank(make_embeddings, tmp_path):
    emb = make_embeddings(anisotropic(60, 40, seed=5, rank=10, offset=0.0))
    for method in ("ace", "pca", "whiten", "alphafuse"):
        params = {"null_dim": 2} if method == "alphafuse" else {}
        message = _fails(
            tmp_path, "numerical rank 10", method=method, embeddings=emb, dim=12, params=params
        )
        assert "--dim 10" in message


def test_dim_beyond_the_shape(emb_path, tmp_path):
    _fails(
        tmp_path,
        r"--dim 25 is impossible .* use 1\.\.24",
        method="pca",
        embeddings=emb_path,
        dim=25,
    )
    _fails(tmp_path, "--dim 0 is impossible", method="pca", embeddings=emb_path, dim=0)


def test_negative_lambda(emb_path, tmp_path):
    _fails(
        tmp_path,
        r"--lambda -0.5 is invalid: must be >= 0",
        method="ace",
        embeddings=emb_path,
        params={"lambda": -0.5},
    )
    _fails(tmp_path, "must be >= 0", method="ace", embeddings=emb_path, params={"lambda": "1,-2"})


def test_nan_embeddings(make_embeddings, tmp_path):
    matrix = anisotropic(30, 6)
    matrix[17, 2] = np.nan
    emb = make_embeddings(matrix)
    for method in ("pca", "ace", "whiten", "group-whiten"):
        params = {"groups": 3} if method == "group-whiten" else {}  # 3 divides D = 6
        _fails(tmp_path, "NaN or Inf .*item index 18", method=method, embeddings=emb,
               params=params)
    _fails(tmp_path, "NaN or Inf", method="pca", embeddings=emb, params={"solver": "randomized"})


def test_unknown_method_option_and_choice(emb_path, tmp_path):
    _fails(
        tmp_path,
        "unknown transform 'svd'; choose one of: ace, alphafuse",
        method="svd",
        embeddings=emb_path,
    )
    _fails(
        tmp_path,
        "--groups does not apply to transform pca; it is taken by: group-whiten",
        method="pca",
        embeddings=emb_path,
        params={"groups": 2},
    )
    _fails(
        tmp_path,
        "--eps does not apply to transform ace; it is taken by: group-whiten, whiten",
        method="ace",
        embeddings=emb_path,
        params={"eps": 0.1},
    )
    _fails(
        tmp_path,
        "transform pca has no option --colour; its options are: --solver",
        method="pca",
        embeddings=emb_path,
        params={"colour": 1},
    )
    _fails(
        tmp_path,
        "--features 'pcaa' is invalid: choose one of: none, pca, zca",
        method="whiten",
        embeddings=emb_path,
        params={"features": "pcaa"},
    )
    _fails(
        tmp_path,
        "--solver 'fast' is invalid",
        method="ace",
        embeddings=emb_path,
        params={"solver": "fast"},
    )


def test_items_fingerprint_mismatch_with_dataset(emb_path, tmp_path):
    other = write_dataset(tmp_path / "other-data", item_ids(150, prefix="sku"))
    message = _fails(
        tmp_path,
        "items of embeddings .* and dataset .* differ",
        method="pca",
        embeddings=emb_path,
        dataset=other,
    )
    assert "other-data" in message


def test_missing_or_wrong_artifacts(emb_path, dataset_path, tmp_path):
    _fails(tmp_path, "does not exist", method="pca", embeddings=tmp_path / "nowhere")
    _fails(
        tmp_path,
        "is a dataset artifact, but an embeddings artifact",
        method="pca",
        embeddings=dataset_path,
    )
    _fails(
        tmp_path,
        "is an embeddings artifact, but a dataset artifact",
        method="pca",
        embeddings=emb_path,
        dataset=emb_path,
    )
