"""Resumable training state: `checkpoint.pt` (loads with weights_only=True) written atomically."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from specrec.errors import SpecrecError
from specrec.runs.store import CHECKPOINT_FILE


@dataclass
class TrainState:
    """Everything needed to continue a run exactly where the last finished epoch left it."""

    fingerprint: str
    epoch: int = 0  # epochs completed
    best_score: float = float("-inf")
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[dict] = field(default_factory=list)
    model: dict = field(default_factory=dict)
    best_model: dict = field(default_factory=dict)
    optimizer: dict = field(default_factory=dict)
    rng: torch.Tensor | None = None
    stopped: bool = False


def save_state(directory: Path, state: TrainState) -> None:
    path = directory / CHECKPOINT_FILE
    tmp = directory / f"{CHECKPOINT_FILE}.tmp-{os.getpid()}"
    torch.save(asdict(state), tmp)
    tmp.replace(path)


def load_state(directory: Path, fingerprint: str) -> TrainState | None:
    """The saved state in `directory` if it belongs to a run with the same fingerprint."""
    path = directory / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise SpecrecError(f"cannot load '{path}' ({exc}); delete it or train without --resume")
    if raw.get("fingerprint") != fingerprint:
        return None
    return TrainState(**raw)


def clone_state_dict(module: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
