"""MoRec adapter input: the frozen features s·E; also the pass-through helper of MLP adapters."""

from __future__ import annotations

import numpy as np

from specrec.transform.base import (
    TRANSFORMS,
    Option,
    Transform,
    TransformInput,
    TransformResult,
    real,
)
from specrec.transform.diagnostics import describe
from specrec.transform.spectral import decompose


def scale_option(default: float) -> Option:
    return Option("scale", default, real(0.0, strict=True), "multiply E before the adapter")


def scaled_features(source: TransformInput, scale: float) -> TransformResult:
    """fusion adapter with `/basis/features` = s·E [N+1, D] (row 0 zeros), stored float32.

    Diagnostics compare E with s·E (centred spectra; the same shape, scaled by s): what the
    adapter receives. Only the eigenvalues are computed (no eigenvectors).
    """
    emb = source.embeddings
    features = emb.load(np.float32) * np.float32(scale)
    eig = decompose(emb, center=True, top=0)
    return TransformResult(
        fusion="adapter",
        basis={"features": features},
        diagnostics=describe(eig, features),
        stats={"features_dim": int(features.shape[1]), "rank": eig.rank},
    )


@TRANSFORMS.register("morec")
class MoRec(Transform):
    """`/basis/features` X = s·E (s = `scale`, 40 as AlphaFuse's MoRec baseline), frozen.

    Training builds item = GELU(Linear(D→k)(X)) (models/embedders/morec.py); no ID table.
    """

    name = "morec"
    options = (scale_option(40.0),)

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        return scaled_features(source, params["scale"])
