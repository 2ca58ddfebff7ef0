"""AlphaFuse's `null_thres` and popularity-weighted mean and covariance, against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from specrec.data.dataset import load_dataset
from specrec.embed.store import open_embeddings
from specrec.errors import SpecrecError
from specrec.transform.store import read_table
from specrec.transform.transform import transform

K = 6
U32 = 2.0**-24  # float32 unit roundoff: the stored table


def run(emb, out, dataset=None, **params):
    return transform(method="alphafuse", embeddings=emb, out=out, dim=K, dataset=dataset,
                     params={"null_dim": 3, **params}, seed=0)


def stored(emb_path) -> np.ndarray:
    emb = open_embeddings(emb_path)
    return np.concatenate([p for _, ps in emb.iter_stored(64) for p in ps]).astype(np.float64)


def aligned(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return actual * np.sign(np.sum(actual * expected, axis=0))


def test_popularity_weights_the_mean_and_the_covariance_as_the_code_does(
        emb_path, dataset_path, tmp_path):
    e = 40 * stored(emb_path)
    counts = load_dataset(dataset_path).popularity("train")[1:].astype(np.float64)
    assert (counts == 0).any() and counts.max() > 3 * np.median(counts[counts > 0])
    f = counts / counts.sum()
    mean = f @ e
    cov = np.cov((e - mean) * np.sqrt(f)[:, None], rowvar=False)  # np.cov centres again
    values, vectors = np.linalg.eigh(cov)
    values, vectors = values[::-1], vectors[:, ::-1]
    assert np.min(-np.diff(values[: K + 1])) > 1e-3 * values[0]  # separated: vectors are stable
    expected = (e - mean) @ vectors[:, :K] / np.sqrt(values[:K])
    run(emb_path, tmp_path / "t", dataset_path, popularity=True)
    table = read_table(tmp_path / "t")
    frozen = table.frozen[1:].astype(np.float64)
    # float64 throughout but for the float32 table: well within 100 × its roundoff
    np.testing.assert_allclose(aligned(frozen, expected), expected, rtol=0,
                               atol=100 * U32 * np.abs(expected).max())
    assert table.params["weights"].startswith("popularity")
    run(emb_path, tmp_path / "u")
    uniform = read_table(tmp_path / "u")
    assert np.abs(uniform.frozen - table.frozen).max() > 1e-2  # the weighting changes the table


def test_null_thres_counts_every_eigenvalue_of_c_at_or_below_it(make_embeddings, tmp_path):
    rng = np.random.default_rng(0)
    scales = np.array([5, 4, 3, 2.5, 2, 1.5, 0.3, 0.2, 0.1, 0.05])  # 10 dims, rank 10
    matrix = rng.standard_normal((200, 10)) * scales
    emb = make_embeddings(matrix)
    cov = np.linalg.eigvalsh(np.cov(40 * stored(emb), rowvar=False))[::-1]
    threshold = float((cov[6] + cov[7]) / 2)  # between the 7th and 8th: 3 at or below it
    run(emb, tmp_path / "t", null_thres=threshold)
    table = read_table(tmp_path / "t")
    assert table.params["null_dim"] == int((cov <= threshold).sum()) == 3
    assert table.params["semantic_dims"] == K - 3
    with pytest.raises(SpecrecError, match=r"null space of 7 dims, more than --dim 6"):
        run(emb, tmp_path / "big", null_thres=float((cov[2] + cov[3]) / 2))
    with pytest.raises(SpecrecError, match="every eigenvalue of C is above it"):
        run(emb, tmp_path / "none", null_thres=float(cov[-1]) / 2)
    assert not (tmp_path / "big").exists() and not (tmp_path / "none").exists()


def test_popularity_without_a_dataset_is_one_line(emb_path, tmp_path):
    with pytest.raises(SpecrecError, match="pass --dataset DATASET"):
        run(emb_path, tmp_path / "t", popularity=True)
    assert not (tmp_path / "t").exists()
