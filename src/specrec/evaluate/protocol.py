"""Rank every target of a split (valid/test) for a model: the code shared by `train` and `evaluate`."""

from __future__ import annotations

import numpy as np
import torch

from specrec.data.dataset import SequenceData
from specrec.errors import SpecrecError
from specrec.evaluate.ranking import candidate_ranks, target_ranks
from specrec.models.model import SequentialRecommender
from specrec.precision import autocast


@torch.no_grad()
def rank_split(
    model: SequentialRecommender,
    data: SequenceData,
    split: str,
    *,
    batch_size: int = 1024,
    mask_history: bool = False,
    device: torch.device | None = None,
    negatives: np.ndarray | None = None,
    precision: str = "fp32",
) -> tuple[np.ndarray, np.ndarray]:
    """`(user_idx, rank)` for every `split` target; history = the <= max_len events before it.

    Full sort over items 1..N, pessimistic ties, no history mask unless `mask_history` (then every
    earlier event of the user, not only the last max_len, is removed from the candidates). With
    `negatives [T, n]` (row t for the t-th target of `data.targets(split)`, from
    `sampling.split_negatives`) the rank among the target and its n negatives instead.
    `precision` (resolved, fp32 | bf16) is the autocast of the model's forward; the scores and
    ranks are float32 either way, so bf16 rounding never creates ties among the candidates.
    """
    events = data.targets(split)
    if negatives is not None and (mask_history or len(negatives) != len(events)):
        raise SpecrecError(f"sampled ranking needs one row of negatives per {split} target "
                           f"({len(events)}, got {len(negatives)}) and no history mask")
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    with autocast(precision, device):
        table = model.score_table(model.item_table())
    bias = model.item_bias()
    ranks = np.empty(len(events), dtype=np.int64)
    for begin in range(0, len(events), batch_size):
        batch = events[begin : begin + batch_size]
        seq, lengths = data.histories(batch, model.max_len)
        width = max(int(lengths.max()), 1)
        seq_t = torch.from_numpy(seq[:, :width]).to(device)
        len_t = torch.from_numpy(lengths).to(device)
        times = torch.from_numpy(data.history_timestamps(batch, model.max_len)[:, : width + 1])
        with autocast(precision, device):
            user = model(seq_t, len_t, timestamps=times.to(device))
        targets = torch.from_numpy(data.items[batch].astype(np.int64)).to(device)
        if negatives is None:
            exclude = _full_histories(data, batch).to(device) if mask_history else None
            batch_ranks = target_ranks(user.float(), table.float(), targets, bias=bias,
                                       exclude=exclude)
        else:
            drawn = torch.from_numpy(negatives[begin : begin + len(batch)]).to(device)
            batch_ranks = candidate_ranks(user.float(), table.float(), targets, drawn, bias=bias)
        ranks[begin : begin + len(batch)] = batch_ranks.cpu().numpy()
    model.train(was_training)
    return data.user_of(events).astype(np.int32), ranks


def _full_histories(data: SequenceData, events: np.ndarray) -> torch.Tensor:
    """All earlier items of each event's user, right-padded with 0."""
    starts = data.offsets[data.user_of(events)]
    lengths = events - starts
    cols = np.arange(max(int(lengths.max()), 1))
    valid = cols[None, :] < lengths[:, None]
    index = np.where(valid, starts[:, None] + cols[None, :], 0)
    return torch.from_numpy(np.where(valid, data.items[index], 0).astype(np.int64))
