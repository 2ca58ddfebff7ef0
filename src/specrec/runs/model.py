"""The model a run's config describes: built from the config, or rebuilt from a run artifact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import specrec.models.backbones  # noqa: F401  (registers backbones)
import specrec.models.embedders  # noqa: F401  (registers item embedders)
from specrec.errors import SpecrecError
from specrec.models.base import build_backbone
from specrec.models.dual_view import DualView
from specrec.models.embedders import EMBEDDERS
from specrec.models.model import SequentialRecommender
from specrec.runs.config import TrainConfig
from specrec.runs.store import RunArtifact, read_run
from specrec.transform.store import TransformTable, read_table


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def build_model(config: TrainConfig, n_items: int, table: TransformTable | None) -> SequentialRecommender:
    """The model a config describes, initialised from `seed` (and the transform table).

    `dim` is the width of one view: an embedder of two views (`views = 2`) gets the backbone
    wrapped in `DualView`, and both are 2·dim wide."""
    seed_everything(config.seed)
    if table is None:
        key = "id"
    else:
        key = table.method if table.fusion == "adapter" else table.fusion
    embedder = EMBEDDERS.get(key)(n_items, config.dim, table, dict(config.embedder_options))
    backbone = build_backbone(config.backbone, n_items, dim=config.dim, max_len=config.max_len,
                              **config.backbone_options)
    if embedder.views == 2:  # two views of width dim each (LLM-ESR): one backbone on both
        backbone = DualView(backbone)
    return SequentialRecommender(embedder, backbone, temperature=config.temperature)


def load_model(run: str | Path | RunArtifact, n_items: int,
               device: torch.device | None = None) -> SequentialRecommender:
    """Rebuild a trained model from its run artifact (config + best weights), in eval mode."""
    run = run if isinstance(run, RunArtifact) else read_run(run)
    table = read_table(run.table) if run.table is not None else None
    model = build_model(run.config, n_items, table)
    try:
        model.load_state_dict(run.weights())
    except RuntimeError as exc:
        raise SpecrecError(f"run '{run.path}': weights do not fit its config ({str(exc)[:120]}); "
                           "retrain")
    return model.to(device or torch.device("cpu")).eval()
