"""Rows straight from the file's pages (`iter_stored`): every layout gives the stored rows, in order."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from bounds import (
    EPS32,
    EPS64,
    U16,
    gram_entry_error,
    mean_cosine_error,
    perturbed_product,
    products_bound,
    within,
)
from transform_synthetic import anisotropic

from specrec.embed.mapped import stored_runs
from specrec.embed.store import EMBEDDINGS_FILE, open_embeddings
from specrec.errors import SpecrecError
from specrec.transform import spectral
from specrec.transform.gram import streamed_moments


def _relayout(path: Path, *, reverse: bool = False, **layout) -> None:
    """Rewrite /embeddings of an artifact with another HDF5 layout (ids and attributes kept);
    `reverse` writes the chunks last first, so the file holds them in reverse order."""
    h5 = path / EMBEDDINGS_FILE
    with h5py.File(h5, "r") as f:
        rows, ids, attrs = f["embeddings"][...], f["item_id"][...], dict(f.attrs)
    with h5py.File(h5, "w") as f:
        data = f.create_dataset("embeddings", rows.shape, **layout)
        step = (layout.get("chunks") or rows.shape)[0]
        starts = list(range(0, len(rows), step))
        for start in reversed(starts) if reverse else starts:
            data[start : start + step] = rows[start : start + step]
        f.create_dataset("item_id", data=ids)
        f.attrs.update(attrs)


def _gathered(emb, **kwargs) -> np.ndarray:
    blocks = []
    for start, pieces in emb.iter_stored(7, **kwargs):
        assert start == 1 + sum(len(b) for b in blocks)
        assert all(not piece.flags.writeable for piece in pieces)
        blocks.append(np.concatenate(pieces))
        assert len(blocks[-1]) == min(7, emb.n_items + 1 - start)
    return np.concatenate(blocks)


LAYOUTS = {
    "chunked": {"chunks": (5, 9), "dtype": np.float32},
    "chunks-reversed": {"chunks": (4, 9), "dtype": np.float32, "reverse": True},
    "contiguous": {"dtype": np.float32},
    "float16": {"chunks": (5, 9), "dtype": np.float16},
    "gzip": {"chunks": (5, 9), "dtype": np.float32, "compression": "gzip"},
    "split-rows": {"chunks": (5, 4), "dtype": np.float32},
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_layout_yields_the_stored_rows_in_order(make_embeddings, name):
    matrix = anisotropic(40, 9, seed=3)
    path = make_embeddings(matrix)
    _relayout(path, **LAYOUTS[name])
    emb = open_embeddings(path)
    expected = emb.load(np.float32)[1:]
    runs = stored_runs(emb.h5_path, "embeddings")
    if name in ("gzip", "split-rows"):
        assert runs is None  # not whole rows as stored bytes: read through HDF5 instead
    else:
        assert runs is not None and runs[0].first == 0
        assert sum(run.rows for run in runs) == 41
        assert (len(runs) > 1) == (name == "chunks-reversed")
    for mapped in (True, False):
        got = _gathered(emb, mapped=mapped)
        assert got.dtype == LAYOUTS[name]["dtype"]
        np.testing.assert_array_equal(got.astype(np.float32), expected)


@pytest.mark.parametrize("name", ["chunked", "chunks-reversed", "float16", "gzip"])
def test_moments_and_projections_do_not_depend_on_the_layout(make_embeddings, name):
    matrix = anisotropic(40, 9, seed=3, offset=4.0)
    reference = open_embeddings(make_embeddings(matrix))
    path = make_embeddings(matrix)
    _relayout(path, **LAYOUTS[name])
    emb = open_embeddings(path)
    weights = np.random.default_rng(0).standard_normal((9, 3))
    mean = matrix.mean(axis=0)
    # float16: the stored rows themselves differ, by ≤ U16·|x| (centred: their differences too)
    moved = U16 * np.abs(matrix) if name == "float16" else np.zeros_like(matrix)
    # 6-row blocks come in ≤ 3 pieces, used as they are when uncentred; 20-row ones in up to 6
    # pieces of 4 rows when the chunks lie reversed: gathered into one buffer first
    for mixed, center, rows in [(m, c, r) for m in (False, True) for c in (True, False)
                                for r in (6, 20)]:
        want = streamed_moments(reference, center=center, rows=rows, mixed=mixed)
        got = streamed_moments(emb, center=center, rows=rows, mixed=mixed)
        x = matrix - mean if center else matrix
        shift = moved + moved.mean(axis=0) if center else moved
        stored = perturbed_product(np.abs(x).T, shift.T, np.abs(x), shift)
        within(got.gram, want.gram, 2 * gram_entry_error(matrix, center, rows, mixed) + stored)
        # the means: γ_b (or γ_N) of the shifted column sums in each side's precision
        eps, terms = (EPS32, rows) if mixed else (EPS64, len(matrix))
        spread = np.abs(matrix - matrix[:rows].mean(axis=0)).mean(axis=0) if center else (
            np.abs(matrix).mean(axis=0))
        within(got.mean, want.mean, 2 * (terms + 2) * eps * spread + moved.mean(axis=0))
        # within a block the cosine sums run in float32 (float16 blocks are widened first)
        cosine = mean_cosine_error(matrix, rows, EPS32)
        cosine += mean_cosine_error(matrix, rows, EPS32, U16 if name == "float16" else 0.0)
        within(got.mean_cosine, want.mean_cosine, cosine)
    table = spectral.project(emb, weights, mean=mean, rows=6)
    bound = products_bound(matrix - mean, weights) + moved @ np.abs(weights)
    within(table, spectral.project(reference, weights, mean=mean, rows=6), np.vstack(
        [np.zeros((1, 3)), bound]))


@pytest.mark.parametrize("name", ["chunked", "chunks-reversed", "gzip"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_row_is_named_whichever_pass_meets_it(make_embeddings, name, bad):
    matrix = anisotropic(40, 9, seed=3)
    matrix[22, 4] = bad
    path = make_embeddings(matrix)
    _relayout(path, **LAYOUTS[name])
    emb = open_embeddings(path)
    for mixed in (False, True):
        with pytest.raises(SpecrecError, match="NaN or Inf .*item index 23"):
            streamed_moments(emb, center=True, rows=6, mixed=mixed)
    for single in (False, True):
        with pytest.raises(SpecrecError, match="NaN or Inf .*item index 23"):
            spectral.project(emb, np.ones((9, 2)), single=single, rows=6)


def test_a_file_system_without_mmap_reads_through_hdf5(make_embeddings, monkeypatch):
    import mmap

    from specrec.embed import mapped

    emb = open_embeddings(make_embeddings(anisotropic(40, 9, seed=3)))
    assert mapped.map_rows(emb.h5_path, "embeddings") is not None

    def refuse(*args, **kwargs):
        raise OSError("mmap not supported")

    monkeypatch.setattr(mmap, "mmap", refuse)
    assert mapped.map_rows(emb.h5_path, "embeddings") is None
    np.testing.assert_array_equal(_gathered(emb), emb.load(np.float32)[1:])
