"""The Transform contract: method options, inputs, results and the TRANSFORMS registry."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from specrec.embed.store import EmbeddingsFile
from specrec.errors import SpecrecError
from specrec.registry import Registry
from specrec.transform.spectral import SOLVERS


@dataclass(frozen=True)
class Option:
    """One method option; on the CLI it is `--name` with '-' for '_'."""

    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass
class TransformInput:
    """What a method reads: the validated embeddings, target dim, seed, optional dataset."""

    embeddings: EmbeddingsFile
    dim: int
    seed: int
    dataset: Path | None = None
    log: Callable[[str], None] = lambda message: None


@dataclass
class TransformResult:
    """One output: arrays for `write_table`, extra attrs (`params`) and meta stats."""

    fusion: str
    item_table: np.ndarray | None = None
    frozen: np.ndarray | None = None
    basis: dict[str, np.ndarray] = field(default_factory=dict)
    diagnostics: dict[str, np.ndarray | float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


class Transform:
    """A reshaping method: E [N+1, D] -> a table for the train stage (DESIGN §5).

    Subclasses set `name`, `options`, and implement `fit_one` (or `fit`, to share work between
    the variants of one call, e.g. ACE's λ sweep). Every entry passes
    tests/transform/test_contract.py.
    """

    name: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()

    def variants(self, params: dict, dim: int) -> list[tuple[str | None, dict]]:
        """The option sets this call writes, one artifact each, as (sub-directory of `out` or
        None for `out` itself, options); usually just [(None, params)]."""
        return [(None, params)]

    def fit(self, source: TransformInput, variants: list[dict]) -> list[TransformResult]:
        return [self.fit_one(source, params) for params in variants]

    def fit_one(self, source: TransformInput, params: dict) -> TransformResult:
        raise NotImplementedError


TRANSFORMS: Registry[type[Transform]] = Registry("transform")


def resolve_options(method: str, params: dict | None) -> dict:
    """Defaults filled in, values parsed; an option the method does not take is an error."""
    cls = TRANSFORMS.get(method)
    name = TRANSFORMS.canonical(method)
    params = dict(params or {})
    known = {opt.name: opt for opt in cls.options}
    for key in params:
        if key not in known:
            raise SpecrecError(_not_taken(name, key))
    resolved = {}
    for opt in cls.options:
        raw = params.get(opt.name, opt.default)
        try:
            resolved[opt.name] = opt.parse(raw)
        except (ValueError, TypeError) as exc:
            raise SpecrecError(f"transform {name}: {opt.flag} {raw!r} is invalid: {exc}") from None
    return resolved


def _not_taken(name: str, key: str) -> str:
    flag = "--" + key.replace("_", "-")
    takers = [
        m for m in TRANSFORMS.names() if any(o.name == key for o in TRANSFORMS.get(m).options)
    ]
    if takers:
        return (
            f"option {flag} does not apply to transform {name}; it is taken by: {', '.join(takers)}"
        )
    own = ", ".join(o.flag for o in TRANSFORMS.get(name).options) or "none"
    return f"transform {name} has no option {flag}; its options are: {own}"


# -- parsers: accept Python values and the strings the CLI passes; raise ValueError ---------------


def boolean(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError("expected true or false")


def real(low: float | None = None, *, strict: bool = False) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        if low is not None and (number <= low if strict else number < low):
            raise ValueError(f"must be {'>' if strict else '>='} {low:g}")
        return number

    return parse


def integer(low: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number = float(value)
        if not number.is_integer():
            raise ValueError("must be a whole number")
        if number < low:
            raise ValueError(f"must be >= {low}")
        return int(number)

    return parse


def choice(*values: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in values:
            raise ValueError(f"choose one of: {', '.join(values)}")
        return text

    return parse


def optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else parse(value)


SOLVER = Option(
    "solver",
    "auto",
    choice(*SOLVERS),
    "exact: streamed float64 Gram + eigendecomposition; mixed: the same with float32 block "
    "products; randomized: top-k subspace iteration; auto: mixed above 1e11 Gram flops, else exact",
)
