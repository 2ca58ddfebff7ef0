"""Diagnostics: effective rank, top-10 share, exact mean cosine, the before/after table."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from specrec.transform import diagnostics as dg
from specrec.transform.gram import mean_cosine


def test_effective_rank_of_known_spectra():
    assert dg.effective_rank(np.ones(8)) == pytest.approx(8.0)
    assert dg.effective_rank(np.array([3.0, 0.0, 0.0])) == pytest.approx(1.0)
    # p = (0.5, 0.25, 0.25): exp(1.5 ln 2) = 2^1.5
    assert dg.effective_rank(np.sqrt([2.0, 1.0, 1.0])) == pytest.approx(2**1.5)


def test_truncated_spectrum_spreads_the_missing_mass_evenly():
    full = np.sqrt([4.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    # knowing only the top 2 and the total (10), the tail 4 over 4 directions is exactly even here
    assert dg.effective_rank(full[:2], total=10.0, length=6) == pytest.approx(
        dg.effective_rank(full)
    )
    assert dg.top_share(full[:2], total=10.0, top=1) == pytest.approx(0.4)


def test_top_share():
    s = np.sqrt(np.r_[np.full(10, 2.0), np.full(10, 1.0)])
    assert dg.top_share(s) == pytest.approx(20.0 / 30.0)


def test_mean_cosine_is_exact_over_all_pairs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5)) + 2.0
    x[7] = 0.0  # a zero row has cosine 0 with everything
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    cos = unit @ unit.T
    brute = (cos.sum() - np.trace(cos)) / (40 * 39)
    assert mean_cosine(x) == pytest.approx(brute, rel=1e-12)
    assert mean_cosine(np.tile([1.0, 2.0], (5, 1))) == pytest.approx(1.0)


def test_table_spectrum_centred_and_not():
    table = np.vstack([np.zeros(2), [[1.0, 0.0], [3.0, 0.0], [2.0, 1.0], [2.0, -1.0]]])
    np.testing.assert_allclose(
        dg.table_spectrum(table, centered=True), [np.sqrt(2.0), np.sqrt(2.0)]
    )
    np.testing.assert_allclose(dg.table_spectrum(table, centered=False)[0] ** 2, 18.0)


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
