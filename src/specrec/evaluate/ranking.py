"""Ranking of each user's target, pessimistic ties: among all items (full sort, in item chunks) or
among itself and sampled negatives."""

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
    `[B, N]` matrix is held; the first pass's last chunk is counted from its scores at hand, so a
    catalogue of one chunk (N <= `chunk_items`) is scored once.
    """
    n_rows = table.size(0)
    target_score = torch.empty(user.size(0), dtype=user.dtype, device=user.device)
    greater_or_equal = torch.zeros(user.size(0), dtype=torch.long, device=user.device)
    chunks = [(s, min(s + chunk_items, n_rows)) for s in range(1, n_rows, chunk_items)]
    if exclude is not None:
        exclude = torch.where(exclude == targets[:, None], torch.zeros_like(exclude), exclude)
    last: tuple[int, Tensor] | None = None  # pass 1's last chunk, reused by pass 2
    for index, (start, stop) in enumerate(chunks):
        inside = (targets >= start) & (targets < stop)
        if inside.any():
            scores = _chunk_scores(user, table, bias, start, stop)
            rows = inside.nonzero().squeeze(1)
            target_score[rows] = scores[rows, targets[rows] - start]
            last = (index, scores)
    order = list(range(len(chunks)))
    if last is not None:  # that chunk first, while its scores are at hand (one chunk: one pass)
        order.insert(0, order.pop(last[0]))
    for index in order:
        start, stop = chunks[index]
        if last is not None and index == last[0]:
            scores, last = last[1], None
        else:
            scores = _chunk_scores(user, table, bias, start, stop)
        if exclude is not None:
            scores = _mask(scores, exclude, start, stop)
        greater_or_equal += (scores >= target_score[:, None]).sum(dim=1)
    # the target counted itself once among the `>=` items: rank = count
    return greater_or_equal


@torch.no_grad()
def candidate_ranks(
    user: Tensor,
    table: Tensor,
    targets: Tensor,
    negatives: Tensor,
    *,
    bias: Tensor | None = None,
) -> Tensor:
    """1-based pessimistic rank of `targets [B]` among themselves and `negatives [B, n]`:

        rank = 1 + #{j : s(negatives[b, j]) >= s(targets[b])},  s(i) = user[b] · table[i] + bias[i]

    `negatives` are item ids other than the target (the sampler never draws the user's items).
    Target and negatives are scored by one elementwise product and sum: equal rows tie exactly.
    """
    candidates = torch.cat([targets[:, None], negatives], dim=1)
    scores = (table[candidates] * user[:, None, :]).sum(dim=2)
    if bias is not None:
        scores = scores + bias[candidates]
    return 1 + (scores[:, 1:] >= scores[:, :1]).sum(dim=1)


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
