"""Resumable fine-tuning: `<out>.partial/checkpoint.pt` (adapter, optimizer, τ, RNG, step, losses).

The folder sits beside the artifact, outside the temporary `<out>.tmp-<pid>` siblings that every
claim of `<out>` clears, so it survives a kill; a checkpoint of another recipe (another stage
fingerprint) is discarded. The file is replaced atomically and loads with `weights_only=True`.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from specrec.errors import SpecrecError

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class FinetuneState:
    """Everything needed to continue fine-tuning after step `step` exactly as if never stopped."""

    fingerprint: str
    step: int = 0  # optimizer steps completed
    history: list[dict] = field(default_factory=list)
    adapter: dict = field(default_factory=dict)  # trainable LoRA parameters by name
    tau: torch.Tensor | None = None
    optimizer: dict = field(default_factory=dict)
    rng: torch.Tensor | None = None
    cuda_rng: torch.Tensor | None = None


def save_state(directory: Path, state: FinetuneState) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f"{CHECKPOINT_FILE}.tmp-{os.getpid()}"
    torch.save(asdict(state), tmp)
    tmp.replace(directory / CHECKPOINT_FILE)


def load_state(directory: Path, fingerprint: str) -> FinetuneState | None:
    """The checkpoint in `directory` if it belongs to this recipe; another recipe's is removed."""
    path = directory / CHECKPOINT_FILE
    if not path.is_file():
        shutil.rmtree(directory, ignore_errors=True)
        return None
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a foreign or damaged file
        message = " ".join(str(exc).split())[:200]
        raise SpecrecError(f"cannot load '{path}' ({message}); delete '{directory}' to start over")
    if not isinstance(raw, dict) or raw.get("fingerprint") != fingerprint:
        shutil.rmtree(directory, ignore_errors=True)
        return None
    return FinetuneState(**raw)
