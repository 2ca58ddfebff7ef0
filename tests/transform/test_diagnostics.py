"""Diagnostics: effective rank, top-10 share, exact mean cosine, the before/after table."""

from __future__ import annotations

import numpy as np
import pytest
from bounds import EPS64, erank_tolerance, gram_sv_tolerance, mean_cosine_error, within
from rich.console import Console
from transform_synthetic import anisotropic

from specrec.embed.store import open_embeddings
from specrec.transform import diagnostics as dg
from specrec.transform import spectral
from specrec.transform.gram import mean_cosine
from specrec.transform.store import read_diagnostics
from specrec.transform.transform import transform


def test_effective_rank_of_known_spectra():
    # exact math evaluated in float64: `erank_tolerance` with no input error
    within(dg.effective_rank(np.ones(8)), 8.0, erank_tolerance(8.0, 8, 0.0))
    within(dg.effective_rank(np.array([3.0, 0.0, 0.0])), 1.0, erank_tolerance(1.0, 3, 0.0))
    # p = (0.5, 0.25, 0.25): exp(1.5 ln 2) = 2^1.5
    within(dg.effective_rank(np.sqrt([2.0, 1.0, 1.0])), 2**1.5, erank_tolerance(2**1.5, 3, 0.0))


def test_truncated_spectrum_spreads_the_missing_mass_evenly():
    full = np.sqrt([4.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    # knowing only the top 2 and the total (10), the tail 4 over 4 directions is exactly even here
    erank = dg.effective_rank(full)
    within(dg.effective_rank(full[:2], total=10.0, length=6), erank,
           2 * erank_tolerance(erank, 6, 0.0))
    within(dg.top_share(full[:2], total=10.0, top=1), 0.4, 4 * EPS64)  # √ squared, one division


def test_top_share():
    s = np.sqrt(np.r_[np.full(10, 2.0), np.full(10, 1.0)])
    within(dg.top_share(s), 20.0 / 30.0, (20 + 4) * EPS64)  # 20 squares summed, divided, summed


def test_mean_cosine_is_exact_over_all_pairs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5)) + 2.0
    x[7] = 0.0  # a zero row has cosine 0 with everything
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    cos = unit @ unit.T
    brute = (cos.sum() - np.trace(cos)) / (40 * 39)
    # the brute force: unit rows (D·ε), 5-term dots, 40² terms summed; ours `mean_cosine_error`
    brute_error = (3 * 5 + 4 + 40**2) * EPS64 * np.abs(cos).sum() / (40 * 39)
    within(mean_cosine(x), brute, mean_cosine_error(x, 40, EPS64) + brute_error)
    tiled = np.tile([1.0, 2.0], (5, 1))
    within(mean_cosine(tiled), 1.0, mean_cosine_error(tiled, 5, EPS64))


def test_table_spectrum_centred_and_not():
    table = np.vstack([np.zeros(2), [[1.0, 0.0], [3.0, 0.0], [2.0, 1.0], [2.0, -1.0]]])
    s = np.sqrt([2.0, 2.0])
    within(dg.table_spectrum(table, centered=True), s, gram_sv_tolerance(s, 4))  # via the Gram
    raw = np.linalg.svd(table[1:], compute_uv=False)
    within(dg.table_spectrum(table, centered=False), raw, gram_sv_tolerance(raw, 4))
    within(raw[0] ** 2, 18.0, 2 * raw[0] * 4 * EPS64 * raw[0] + EPS64 * 18.0)


@pytest.mark.parametrize("rows", [30, 5])  # D ≤ N: through the Gram; D > N: an SVD
def test_table_spectrum_is_zero_below_the_rank(rows):
    rng = np.random.default_rng(2)
    table = np.zeros((rows + 1, 8))
    table[1:, :3] = rng.standard_normal((rows, 3))
    table[1:, 3:] = table[1:, :3] @ rng.standard_normal((3, 5))  # rank 3
    for centered in (True, False):
        spectrum = dg.table_spectrum(table, centered)
        assert len(spectrum) == min(rows, 8) and np.all(spectrum[:3] > 0)
        assert np.all(spectrum[3:] == 0.0)


def test_spectra_and_ratios_beyond_the_rank(make_embeddings, tmp_path):
    # morec keeps all D = 40 columns of a rank-10 input: both spectra end in exact zeros, so σ₁/σ_k
    # over k = 40 is inf (null in meta.json) and the effective ranks see 10 directions at most
    emb = make_embeddings(anisotropic(60, 40, seed=5, rank=10, offset=0.0))
    meta = transform(method="morec", embeddings=emb, out=tmp_path / "t", dim=4)
    diag = read_diagnostics(tmp_path / "t")
    for side in ("input", "output"):
        values = diag[f"{side}_singular_values"]
        assert np.all(values[:10] > 0) and np.all(values[10:] == 0.0)
        assert diag[f"{side}_sigma_ratio"] == np.inf
        assert meta.stats["diagnostics"][f"{side}_sigma_ratio"] is None
        assert diag[f"{side}_effective_rank"] <= 10.0
        assert np.all(diag[f"{side}_normalized_spectrum"][10:] == 0.0)


def test_randomized_spectrum_past_the_rank_is_complete(make_embeddings, tmp_path):
    # rank 3 < the 10 values the randomized solver keeps: the unknown tail is zero, not spread
    emb = open_embeddings(make_embeddings(anisotropic(80, 20, seed=1, rank=3)))
    eig = spectral.decompose(emb, center=True, top=2, solver="randomized")
    assert eig.rank == 3 and not eig.complete and np.all(eig.values[3:] == 0.0)
    out = dg.describe(eig, spectral.scores(emb, eig, eig.vectors[:, :2]))
    assert out["input_spectrum_complete"] == 1.0
    p = out["input_normalized_spectrum"]
    assert np.all(p[3:] == 0.0)
    within(p.sum(), 1.0, 10 * EPS64)  # p = σ²/Σσ² over the known values: 10 terms


def test_summary_keeps_scalars_and_spectrum_heads():
    diag = {
        "input_singular_values": np.arange(40.0, 0, -1),
        "output_effective_rank": 3.5,
        "output_sigma_ratio": np.inf,
    }
    out = dg.summary(diag)
    assert out["output_effective_rank"] == 3.5 and out["output_sigma_ratio"] is None
    assert out["input_singular_values"] == list(np.arange(40.0, 24.0, -1))


def test_comparison_table_renders_before_and_after():
    stats = {
        "centered": 1.0,
        "input_mean_cosine": 0.81234,
        "output_mean_cosine": 0.01,
        "input_effective_rank": 3.2,
        "output_effective_rank": 5.9,
        "input_top10_share": 0.97,
        "output_top10_share": 1.0,
        "input_sigma_ratio": 6.3,
        "output_sigma_ratio": 1.0,
    }
    console = Console(record=True, width=120)
    console.print(dg.comparison_table([("whiten", stats)]))
    text = console.export_text()
    assert "centred spectra" in text and "whiten" in text
    assert "0.8123" in text and "5.90" in text and "3.20" in text
