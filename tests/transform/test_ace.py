"""ACE: the table, its LAE operator, the λ limits, sweeps and the automatic λ."""

from __future__ import annotations

import numpy as np
import pytest
from transform_synthetic import anisotropic

from specrec.errors import SpecrecError
from specrec.transform.diagnostics import effective_rank, table_spectrum
from specrec.transform.methods import ace
from specrec.transform.store import read_table
from specrec.transform.transform import transform

K = 6


def _ace(emb, out, dim=K, **params):
    return transform(method="ace", embeddings=emb, out=out, dim=dim, params=params)


def _align(actual, expected):
    return actual * np.sign(np.sum(actual * expected, axis=0))


def test_table_is_u_k_times_shrinkage_times_gamma(emb_path, matrix, tmp_path):
    meta = _ace(emb_path, tmp_path / "t", **{"lambda": 50.0})
    u, s, _ = np.linalg.svd(matrix, full_matrices=False)  # uncentred, as in the paper
    expected = u[:, :K] * (s[:K] / np.sqrt(s[:K] ** 2 + 50.0)) * meta.stats["gamma"]
    table = read_table(tmp_path / "t").item_table[1:].astype(np.float64)
    np.testing.assert_allclose(_align(table, expected), expected, atol=1e-5)
    assert np.std(table) == pytest.approx(0.5, rel=1e-6)  # one global γ sets the std
    assert meta.stats["lambda_value"] == 50.0


def test_center_option_uses_the_centred_svd(emb_path, matrix, tmp_path):
    _ace(emb_path, tmp_path / "t", **{"lambda": 5.0, "center": True, "std": 1.0})
    u, s, _ = np.linalg.svd(matrix - matrix.mean(axis=0), full_matrices=False)
    expected = u[:, :K] * (s[:K] / np.sqrt(s[:K] ** 2 + 5.0))
    expected *= 1.0 / np.std(expected)
    table = read_table(tmp_path / "t").item_table[1:].astype(np.float64)
    np.testing.assert_allclose(_align(table, expected), expected, atol=1e-5)


@pytest.mark.parametrize("shape", [(30, 8), (10, 16)])  # N >= D (Gram) and N < D (N×N path)
@pytest.mark.parametrize("lam", [0.3, 7.0])
def test_operator_is_the_lae_solution(make_embeddings, tmp_path, shape, lam):
    matrix = np.random.default_rng(1).standard_normal(shape).astype(np.float32).astype(np.float64)
    rank = min(shape)
    meta = _ace(make_embeddings(matrix), tmp_path / "t", dim=rank, **{"lambda": lam})
    table = read_table(tmp_path / "t").item_table[1:].astype(np.float64) / meta.stats["gamma"]
    gram = matrix @ matrix.T
    lae = np.linalg.solve(gram + lam * np.eye(shape[0]), gram)  # (EEᵀ+λI)⁻¹EEᵀ
    np.testing.assert_allclose(table @ table.T, lae, atol=2e-5)


def test_lambda_zero_flattens_the_spectrum(emb_path, tmp_path):
    _ace(emb_path, tmp_path / "t", **{"lambda": 0})
    spectrum = table_spectrum(read_table(tmp_path / "t").item_table, centered=False)
    np.testing.assert_allclose(spectrum, spectrum[0], rtol=1e-5)
    _ace(emb_path, tmp_path / "m", **{"lambda": 50})
    moderate = table_spectrum(read_table(tmp_path / "m").item_table, centered=False)
    assert moderate[0] / moderate[-1] > 2.0


def test_large_lambda_gives_uncentred_pca_scores(emb_path, matrix, tmp_path):
    _, _, vt = np.linalg.svd(matrix, full_matrices=False)
    scores = matrix @ vt[:K].T  # E V_k
    for lam, proportional in ((1e12, True), (10.0, False)):
        _ace(emb_path, tmp_path / f"t{lam}", **{"lambda": lam})
        table = _align(read_table(tmp_path / f"t{lam}").item_table[1:].astype(np.float64), scores)
        c = np.sum(table * scores) / np.sum(scores * scores)
        residual = np.linalg.norm(table - c * scores) / np.linalg.norm(table)
        assert bool(residual < 1e-5) == proportional, (lam, residual)


def test_sweep_writes_one_artifact_per_lambda_from_one_svd(emb_path, tmp_path, monkeypatch):
    calls = []
    real_decompose = ace.decompose
    monkeypatch.setattr(
        ace, "decompose", lambda *a, **kw: calls.append(1) or real_decompose(*a, **kw)
    )
    metas = _ace(emb_path, tmp_path / "sweep", **{"lambda": "0,1,5,10,50"})
    assert len(calls) == 1
    assert [m.config["lambda"] for m in metas] == [0.0, 1.0, 5.0, 10.0, 50.0]
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir()) == sorted(
        ["lambda-0", "lambda-1", "lambda-5", "lambda-10", "lambda-50"]
    )
    single = _ace(emb_path, tmp_path / "single", **{"lambda": 5})
    member = read_table(tmp_path / "sweep" / "lambda-5")
    assert member.meta.fingerprint == single.fingerprint  # same config as a one-λ run
    np.testing.assert_array_equal(member.item_table, read_table(tmp_path / "single").item_table)
    tables = [read_table(tmp_path / "sweep" / f"lambda-{v}").item_table for v in (0, 50)]
    assert not np.allclose(tables[0], tables[1])


def test_sweep_accepts_a_python_list(emb_path, tmp_path):
    metas = _ace(emb_path, tmp_path / "s", **{"lambda": [0.5, 2]})
    assert [m.stats["lambda_value"] for m in metas] == [0.5, 2.0]
    assert (tmp_path / "s" / "lambda-0.5" / "meta.json").is_file()


def test_auto_lambda_reaches_the_target_effective_rank(emb_path, tmp_path):
    meta = _ace(emb_path, tmp_path / "t", **{"lambda": "auto", "target_erank": 4.0})
    table = read_table(tmp_path / "t")
    lam = meta.stats["lambda_value"]
    assert table.params["lambda"] == "auto" and table.params["lambda_value"] == lam
    assert 0 < lam < 1e6
    spectrum = table_spectrum(table.item_table, centered=False)
    assert effective_rank(spectrum) == pytest.approx(4.0, abs=1e-4)
    default = _ace(emb_path, tmp_path / "d")  # lambda auto, target k/2 by default
    assert default.config["target_erank"] == K / 2
    assert default.stats["diagnostics"]["output_effective_rank"] == pytest.approx(K / 2, abs=1e-4)


def test_solve_lambda_is_monotone_and_bounded():
    sigma_sq = np.array([100.0, 30.0, 10.0, 3.0, 1.0, 0.3])
    targets = (2.5, 3.0, 4.0, 5.0, 5.9)
    ranks = [ace.solve_lambda(sigma_sq, t) for t in targets]
    assert ranks == sorted(ranks, reverse=True)  # a flatter target needs a smaller λ
    for target, lam in zip(targets, ranks):
        assert ace.shrunk_effective_rank(sigma_sq, lam) == pytest.approx(target, abs=1e-6)
    assert ace.solve_lambda(sigma_sq, 6.0) == 0.0
    with pytest.raises(SpecrecError, match="from 2.444"):  # erank of σ² itself (λ → ∞)
        ace.solve_lambda(sigma_sq, 2.4)
    with pytest.raises(SpecrecError, match="exceeds the table dim"):
        ace.solve_lambda(sigma_sq, 7.0)


def test_bad_lambda_values(emb_path, tmp_path):
    for bad, match in (
        (-1, ">= 0"),
        ("0,1,1", "distinct"),
        ("nan", "finite"),
        ("lots", "could not convert"),
    ):
        with pytest.raises(SpecrecError, match=match):
            _ace(emb_path, tmp_path / "t", **{"lambda": bad})
    with pytest.raises(SpecrecError, match="only with --lambda auto"):
        _ace(emb_path, tmp_path / "t", **{"lambda": 1.0, "target_erank": 3})
    with pytest.raises(SpecrecError, match=r"--std 0 .*must be > 0"):
        _ace(emb_path, tmp_path / "t", std=0)
    assert not (tmp_path / "t").exists()


def test_randomized_solver_matches_exact_on_a_decaying_spectrum(make_embeddings, tmp_path):
    matrix = anisotropic(400, 48, seed=2, decay=2.0)
    emb = make_embeddings(matrix)
    exact = _ace(emb, tmp_path / "e", **{"lambda": 1.0})
    fast = _ace(emb, tmp_path / "r", **{"lambda": 1.0, "solver": "randomized"})
    a = read_table(tmp_path / "e").item_table.astype(np.float64)
    b = read_table(tmp_path / "r").item_table.astype(np.float64)
    np.testing.assert_allclose(b, a, atol=1e-4 * np.abs(a).max())
    assert fast.stats["diagnostics"]["input_spectrum_complete"] == 0.0
    assert exact.stats["diagnostics"]["input_spectrum_complete"] == 1.0
    assert fast.stats["diagnostics"]["input_top10_share"] == pytest.approx(
        exact.stats["diagnostics"]["input_top10_share"], rel=1e-4
    )
