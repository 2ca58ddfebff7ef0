"""SpecTran's Table 3 ablations: each switch of the `spectran` embedder and what it reduces to."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adapters_synthetic import N_ITEMS, K

from specrec.errors import SpecrecError
from specrec.models.embedders import EMBEDDERS
from specrec.transform.store import read_table


def build(tables: dict, **options):
    torch.manual_seed(0)
    return EMBEDDERS.get("spectran")(N_ITEMS, K, read_table(tables["spectran"]), options)


def truncated_svd(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """U_d Σ_d = E V_d and U_d for rows 1..N, by numpy's SVD (signs fixed against `reference`)."""
    u, sigma, _ = np.linalg.svd(matrix, full_matrices=False)
    return u[:, :K] * sigma[:K], u[:, :K]


def same_up_to_column_signs(actual: np.ndarray, expected: np.ndarray, atol: float) -> None:
    signs = np.sign(np.sum(actual * expected, axis=0))
    np.testing.assert_allclose(actual * signs, expected, atol=atol)


def test_without_attention_and_sigma_encoding_is_the_truncated_svd(tables, matrix):
    embedder = build(tables, fusion="none", attention=False, encoding="sigma")
    assert embedder.query is None and embedder.alpha is None
    assert list(embedder.parameters()) == []  # nothing left to learn with fusion none
    table = embedder().detach().numpy().astype(np.float64)
    # |U_d Σ_d| entries are O(‖E‖); float32 storage of U: a few 1e-6 relative
    same_up_to_column_signs(table[1:], truncated_svd(matrix)[0], atol=1e-4)


def test_without_attention_and_identity_encoding_is_alphafuse_standardisation(tables, matrix):
    table = build(tables, fusion="none", attention=False, encoding="identity")()
    same_up_to_column_signs(table.detach().numpy()[1:].astype(np.float64),
                            truncated_svd(matrix)[1], atol=1e-5)


def test_sigma_and_identity_encodings_keep_the_attention_on_top(tables):
    basis = read_table(tables["spectran"]).basis
    left = torch.from_numpy(basis["U"])
    sigma = torch.from_numpy(basis["S"])
    for encoding, diagonal in (("sigma", sigma[:K]), ("identity", torch.ones(K))):
        embedder = build(tables, fusion="none", encoding=encoding)
        expected = left @ embedder.attention().T + left[:, :K] * diagonal
        torch.testing.assert_close(embedder(), expected)
        assert embedder.alpha is None and embedder.query.requires_grad


def test_without_the_encoding_only_the_attention_is_left(tables):
    left = torch.from_numpy(read_table(tables["spectran"]).basis["U"])
    embedder = build(tables, fusion="none", encoding="none")
    assert embedder.alpha is None
    torch.testing.assert_close(embedder(), left @ (embedder.query @ embedder.key.T).T)  # λ = 0


def test_the_full_model_is_the_sum_of_its_two_ablations(tables):
    full = build(tables, fusion="none")
    attention_only = build(tables, fusion="none", encoding="none")  # same seed: same Q and K
    encoding_only = build(tables, fusion="none", attention=False)
    torch.testing.assert_close(full(), attention_only() + encoding_only())


@pytest.mark.parametrize("options, message", [
    ({"attention": False, "encoding": "none"}, "leaves E_s = 0"),
    ({"encoding": "sigmas"}, "encoding must be one of"),
    ({"attention": "no"}, "attention must be true or false"),
])
def test_impossible_switches_are_refused(tables, options, message):
    with pytest.raises(SpecrecError, match=message):
        build(tables, **options)
