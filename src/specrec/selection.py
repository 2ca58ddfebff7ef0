"""Model selection on validation: the configuration with the best mean validation score wins.

    ĉ = argmax_c  (1/|S_c|) Σ_{s ∈ S_c} v(c, s)

over the configurations c of one group (method × backbone × dataset × encoder), v(c, s) the
validation metric of configuration c with seed s. Ties go to the configuration listed first, so the
choice never depends on test metrics or on the order results arrived in.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from specrec.errors import SpecrecError

K = TypeVar("K", bound=Hashable)


def mean_score(scores: Sequence[float]) -> float:
    """The mean of one configuration's validation scores over its seeds (refuses none or NaN)."""
    if not scores:
        raise SpecrecError("a configuration without any validation score cannot be selected")
    if not all(math.isfinite(s) for s in scores):
        raise SpecrecError(f"validation scores must be finite numbers, got {list(scores)}")
    return sum(scores) / len(scores)


def best_config(scores: Mapping[K, Sequence[float]]) -> K:
    """The key whose scores have the highest mean; the first such key in `scores`' order on a tie."""
    if not scores:
        raise SpecrecError("nothing to select from: the group has no configurations")
    best_key, best_mean = None, -math.inf
    for key, values in scores.items():
        value = mean_score(values)
        if best_key is None or value > best_mean:
            best_key, best_mean = key, value
    return best_key
