"""The one training loop for every backbone, loss and item embedder; DDP-aware (torchrun)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from specrec.data.dataset import SequenceData
from specrec.devices import Ranks
from specrec.errors import SpecrecError
from specrec.evaluate.metrics import summarize
from specrec.evaluate.protocol import rank_split
from specrec.evaluate.sampling import Ranking
from specrec.models.losses.base import Loss
from specrec.models.model import SequentialRecommender
from specrec.precision import autocast
from specrec.train.checkpoint import TrainState, clone_state_dict, save_state
from specrec.train.samples import Batch, Samples


class Objective(nn.Module):
    """Wraps model + loss so DDP sees one forward: batch -> mean loss over supervised positions."""

    def __init__(self, model: SequentialRecommender, loss: Loss) -> None:
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, batch: Batch, generator: torch.Generator) -> Tensor:
        table = self.model.item_table()
        hidden = self.model.hidden(
            batch.seq, batch.lengths, table, masked=batch.masked, timestamps=batch.timestamps
        )
        supervised = batch.targets > 0
        loss = self.loss(self.model.score_user(hidden[supervised]), batch.targets[supervised],
                         self.model.score_table(table), self.model.item_bias(), generator)
        embedder = self.model.embedder
        for extra in (embedder.aux_loss(batch.targets[supervised]),
                      embedder.distill(self.model, batch, hidden, table)):
            if extra is not None:
                loss = loss + extra
        return loss


@dataclass
class LoopSettings:
    epochs: int
    patience: int
    batch_size: int
    valid_metric: str
    ks: list[int]
    seed: int
    eval_batch_size: int
    precision: str  # resolved fp32 | bf16: autocast of the forward (backward follows its dtypes)
    valid_ranking: Ranking = Ranking()  # full sort, or sampled negatives drawn once per run


def run_epochs(
    model: SequentialRecommender,
    objective: nn.Module,
    optimizer: torch.optim.Optimizer,
    samples: Samples,
    data: SequenceData,
    state: TrainState,
    settings: LoopSettings,
    *,
    device: torch.device,
    dist_info: Ranks,
    work_dir: Path,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainState:
    """Train until `epochs` or `patience` epochs without a better validation score.

    After every epoch: validate on the `valid` split (full sort, or against the negatives of
    `settings.valid_ranking`, drawn once so every epoch sees the same), keep the best weights, and
    save the whole state, so a run interrupted anywhere resumes from its last finished epoch.
    """
    valid_negatives = settings.valid_ranking.negatives_for(data, "valid", "--valid-negatives")
    cloze = None
    if not model.backbone.causal:
        cloze = (float(model.backbone.config.mask_ratio), float(model.backbone.config.ft_ratio))
    while state.epoch < settings.epochs and not state.stopped:
        epoch = state.epoch
        model.train()
        generator = torch.Generator().manual_seed(settings.seed * 7919 + epoch * 104729 + dist_info.rank)
        started, total, n_batches, n_targets = time.perf_counter(), 0.0, 0, 0
        for batch in samples.batches(settings.batch_size, epoch, settings.seed,
                                     dist_info.rank, dist_info.world_size, cloze=cloze):
            batch = batch.to(device)
            with autocast(settings.precision, device):
                loss = objective(batch, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            n_batches += 1
            n_targets += int((batch.targets > 0).sum())
        seconds = time.perf_counter() - started
        if not math.isfinite(total):
            raise SpecrecError(f"training diverged at epoch {epoch + 1} (loss {total}); "
                               "lower --lr or check the item table's scale")
        _, ranks = rank_split(model, data, "valid", batch_size=settings.eval_batch_size,
                              device=device, negatives=valid_negatives,
                              precision=settings.precision)
        valid = summarize(ranks, settings.ks)
        score = valid[settings.valid_metric]
        row = {"epoch": epoch + 1, "loss": total / max(n_batches, 1), "seconds": seconds,
               "targets_per_second": n_targets * dist_info.world_size / max(seconds, 1e-9),
               **{f"valid_{k}": v for k, v in valid.items()}}
        state.history.append(row)
        state.epoch = epoch + 1
        if score > state.best_score:
            state.best_score, state.best_epoch, state.bad_epochs = score, epoch + 1, 0
            state.best_model = clone_state_dict(model)
        else:
            state.bad_epochs += 1
            state.stopped = state.bad_epochs >= settings.patience
        state.model = clone_state_dict(model)
        state.optimizer = optimizer.state_dict()
        state.rng = torch.get_rng_state()
        if dist_info.is_main:
            save_state(work_dir, state)
        if on_epoch:
            on_epoch(row)
    return state
