"""RLMRec adapter input: the frozen LLM embeddings s·E its reconstruction loss reads."""

from __future__ import annotations

from specrec.transform.base import TRANSFORMS, Transform, TransformInput, TransformResult
from specrec.transform.methods.morec import scale_option, scaled_features


@TRANSFORMS.register("rlmrec")
class RLMRec(Transform):
    """`/basis/features` X = s·E (s = `scale`, 40 as AlphaFuse's RLMRec baseline), frozen.

    Training keeps an ID table as the item table and adds β(1 − mean cos(r(X_i), E_ID,i)).
    """

    name = "rlmrec"
    options = (scale_option(40.0),)

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        return scaled_features(source, params["scale"])
