"""Rank every target of a split (valid/test) for a model: the code shared by `train` and `evaluate`."""

from __future__ import annotations

import numpy as np
import torch

from specrec.data.dataset import SequenceData
from specrec.evaluate.ranking import target_ranks
from specrec.models.model import SequentialRecommender


@torch.no_grad()
def rank_split(
    model: SequentialRecommender,
    data: SequenceData,
    split: str,
    *,
    batch_size: int = 1024,
    mask_history: bool = False,
    device: torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`(user_idx, rank)` for every `split` target; history = the <= max_len events before it.

    Full sort over items 1..N, pessimistic ties, no history mask unless `mask_history` (then every
    earlier event of the user, not only the last max_len, is removed from the candidates).
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    events = data.targets(split)
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
        user = model(seq_t, len_t, timestamps=times.to(device))
        exclude = _full_histories(data, batch).to(device) if mask_history else None
        targets = torch.from_numpy(data.items[batch].astype(np.int64)).to(device)
        ranks[begin : begin + len(batch)] = (
            target_ranks(user.float(), table.float(), targets, bias=bias, exclude=exclude)
            .cpu()
            .numpy()
        )
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
