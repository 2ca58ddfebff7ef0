"""AlphaRec adapter input: the frozen LM embeddings s·E and the MLP width ratio m."""

from __future__ import annotations

from typing import Any

from specrec.transform.base import (
    TRANSFORMS,
    Option,
    Transform,
    TransformInput,
    TransformResult,
    real,
)
from specrec.transform.methods.morec import scale_option, scaled_features

AUTO = "auto"


def default_ratio(input_dim: int) -> float:
    """AlphaRec's width ratio m for the nearest documented encoder size (methods.md §3.7):

    D ≤ 1024 (BERT, RoBERTa, MiniLM): 8;  D ≤ 1536 (ada-002): 2;  D ≤ 3072
    (text-embedding-3-large): 1/2;  larger (4096-d LLMs): 9/32.
    """
    if input_dim <= 1024:
        return 8.0
    if input_dim <= 1536:
        return 2.0
    if input_dim <= 3072:
        return 0.5
    return 9 / 32


def parse_ratio(value: Any) -> float | str:
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    return real(0.0, strict=True)(value)


@TRANSFORMS.register("alpharec")
class AlphaRec(Transform):
    """`/basis/features` X = s·E (s = `scale`, default 1: AlphaRec uses the LM vectors as they are).

    Training builds item = Linear(m·D→k)(LeakyReLU(Linear(D→m·D)(X))). `ratio` m is stored as
    given (attribute `ratio`); "auto" means `default_ratio(D)` (recorded in meta stats).
    """

    name = "alpharec"
    options = (scale_option(1.0), Option("ratio", AUTO, parse_ratio, "MLP width m·D; auto by D"))

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        ratio = params["ratio"]
        if ratio == AUTO:
            ratio = default_ratio(source.embeddings.dim)
        result = scaled_features(source, params["scale"])
        result.stats["ratio"] = float(ratio)
        return result
