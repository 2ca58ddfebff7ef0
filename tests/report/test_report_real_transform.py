"""The report reads transform artifacts written by the real transform stage (input_/output_)."""

import numpy as np
import polars as pl
import pytest

from specrec.report import report
from specrec.testing.synthetic import write_embeddings
from specrec.transform.transform import transform


def test_real_ace_artifact_gives_before_after_pairs_and_plots(tmp_path):
    rng = np.random.default_rng(0)
    matrix = np.zeros((41, 12))
    matrix[1:] = rng.normal(size=(40, 12)) * np.linspace(3.0, 0.1, 12) + 1.0
    write_embeddings(tmp_path / "emb", matrix)
    transform(method="ace", embeddings=tmp_path / "emb", out=tmp_path / "ace", dim=4,
              params={"lambda": "0,100"})
    report(inputs=[tmp_path / "ace" / "lambda-0", tmp_path / "ace" / "lambda-100"],
           out=tmp_path / "report")
    diagnostics = pl.read_csv(tmp_path / "report" / "diagnostics.csv")
    for column in ("effective_rank_before", "effective_rank_after", "mean_cosine_before"):
        assert column in diagnostics.columns
    after = dict(zip(diagnostics["artifact"], diagnostics["effective_rank_after"]))
    assert after["lambda-0"] == pytest.approx(4.0, rel=1e-6)  # λ=0 flattens the spectrum
    assert after["lambda-100"] < 4.0
    assert (tmp_path / "report" / "spectra.png").stat().st_size > 10_000


def test_spectra_plot_draws_the_raw_spectrum_each_table_is_comparable_with(tmp_path, monkeypatch):
    from specrec.report import plots
    from specrec.report.inputs import load_transform

    rng = np.random.default_rng(1)
    matrix = np.zeros((61, 10))
    matrix[1:] = rng.normal(size=(60, 10)) * np.linspace(2.0, 0.2, 10) + 3.0
    write_embeddings(tmp_path / "emb", matrix)
    transform(method="ace", embeddings=tmp_path / "emb", out=tmp_path / "ace", dim=4,
              params={"lambda": 1.0})
    transform(method="pca", embeddings=tmp_path / "emb", out=tmp_path / "pca", dim=4)
    figures = []
    monkeypatch.setattr(plots, "save", lambda figure, path: figures.append(figure) or path.name)
    tables = [load_transform(tmp_path / "ace"), load_transform(tmp_path / "pca")]
    plots.plot_normalised_spectra(tables, tmp_path / "spectra.png", None)
    labels = [line.get_label() for line in figures[0].axes[0].get_lines()]
    assert "raw embeddings (emb, uncentred)" in labels  # what ACE decomposes
    assert "raw embeddings (emb, centred)" in labels  # what PCA decomposes


def test_an_ace_table_with_lambda_auto_reports_with_its_resolved_lambda(world, monkeypatch,
                                                                             tmp_path):
    from specrec.report import plots
    from specrec.report.inputs import load_transform
    from specrec.transform.store import read_table

    table = world.tables["ace-auto"]
    params = read_table(table).params
    assert params["lambda"] == "auto"  # what `specrec transform ace --lambda auto` records
    resolved = params["lambda_value"]
    assert plots.ace_lambda(load_transform(table)) == resolved
    figures = []
    monkeypatch.setattr(plots, "save", lambda figure, path: figures.append(figure) or path.name)
    inputs = [world.evals["ace-auto"], world.evals["ace-10"], table]
    meta = report(inputs=inputs, out=tmp_path / "report", baseline="sasrec · ace λ=10")
    assert "spectra.png" in meta.stats["files"] and "spectrum_ace-auto.png" in meta.stats["files"]
    spectra = next(f for f in figures if "Normalised" in f.axes[0].get_title())
    legend = [text.get_text() for text in spectra.axes[0].get_legend().get_texts()]
    assert f"ACE λ=auto (={resolved:.3g})" in legend and "ACE λ=10" in legend
    results = pl.read_csv(tmp_path / "report" / "results.csv")
    assert results["label"].to_list() == [f"sasrec · ace λ=auto (={resolved:.3g})",
                                          "sasrec · ace λ=10"]
    diagnostics = pl.read_csv(tmp_path / "report" / "diagnostics.csv")
    assert diagnostics["transform"].to_list() == [f"ace λ=auto (={resolved:.3g})", "ace λ=10"]


def test_an_ace_table_with_lambda_auto_draws_its_spectra_png(world, tmp_path):
    report(inputs=[world.tables["ace-auto"]], out=tmp_path / "report")
    data = (tmp_path / "report" / "spectra.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
