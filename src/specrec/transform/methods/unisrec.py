"""UniSRec adapter input: the frozen LLM embeddings s·E the mixture of PW experts reads."""

from __future__ import annotations

from specrec.transform.base import TRANSFORMS, Transform, TransformInput, TransformResult
from specrec.transform.methods.morec import scale_option, scaled_features


@TRANSFORMS.register("unisrec")
class UniSRec(Transform):
    """`/basis/features` X = s·E (s = `scale`, 40 as AlphaFuse's UniSRec baseline), frozen.

    Training builds item = Σ_g π_g(X) W_g(Dropout(X) − b_g) [+ E_ID] (models/embedders/unisrec.py).
    """

    name = "unisrec"
    options = (scale_option(40.0),)

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        return scaled_features(source, params["scale"])
