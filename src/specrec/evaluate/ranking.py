"""Full-sort ranking of each user's target among all items, in item chunks, pessimistic ties."""

from __future__ import annotations

import torch
from torch import Tensor

TIE_RULE = "pessimistic"
"""rank = 1 + #{items scoring strictly higher} + #{other items scoring equal}: ties count against."""


@torch.no_grad()
def target_ranks(
    user: Tensor,
    table: Tensor,
    targets: Tensor,
    *,
    bias: Tensor | None = None,
    exclude: Tensor | None = None,
    chunk_items: int = 32768,
) -> Tensor:
    """1-based pessimistic rank of `targets [B]` among items 1..N scored by `user [B, D] @ table.T`.

    `table [N+1, D]` includes the padding row 0, which is never ranked. `bias [N+1]` is added to
    every score. `exclude [B, H]` (item ids, 0 = none) are removed from the candidates (history
    masking); the target itself is never excluded. Scores are computed chunk by chunk with
    identical calls in two passes (target scores, then counts), so tied items tie exactly and no
    `[B, N]` matrix is held.
    """
    n_rows = table.size(0)
    target_score = torch.empty(user.size(0), dtype=user.dtype, device=user.device)
    greater_or_equal = torch.zeros(user.size(0), dtype=torch.long, device=user.device)
    chunks = [(s, min(s + chunk_items, n_rows)) for s in range(1, n_rows, chunk_items)]
    if exclude is not None:
        exclude = torch.where(exclude == targets[:, None], torch.zeros_like(exclude), exclude)
    for start, stop in chunks:
        inside = (targets >= start) & (targets < stop)
        if inside.any():
            scores = _chunk_scores(user, table, bias, start, stop)
            rows = inside.nonzero().squeeze(1)
            target_score[rows] = scores[rows, targets[rows] - start]
    for start, stop in chunks:
        scores = _chunk_scores(user, table, bias, start, stop)
        if exclude is not None:
            scores = _mask(scores, exclude, start, stop)
        greater_or_equal += (scores >= target_score[:, None]).sum(dim=1)
    # the target counted itself once among the `>=` items: rank = count
    return greater_or_equal


def _chunk_scores(user: Tensor, table: Tensor, bias: Tensor | None, start: int, stop: int) -> Tensor:
    scores = user @ table[start:stop].T
    if bias is not None:
        scores = scores + bias[start:stop]
    return scores


def _mask(scores: Tensor, exclude: Tensor, start: int, stop: int) -> Tensor:
    local = exclude - start
    valid = (exclude > 0) & (local >= 0) & (local < stop - start)
    padded = torch.cat([scores, scores.new_zeros(scores.size(0), 1)], dim=1)
    index = torch.where(valid, local, torch.full_like(local, stop - start))
    padded.scatter_(1, index, float("-inf"))
    return padded[:, :-1]
