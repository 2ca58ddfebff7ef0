"""Pool token states `H [B, L, d]` with attention mask `M [B, L]` into one vector per text; every
pooling finds the real tokens from the mask, so left and right padding give the same vectors."""

from __future__ import annotations

import torch

from specrec.errors import SpecrecError


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """v_b = sum_t M_bt H_bt / max(1, sum_t M_bt)  (average over real tokens only)."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def cls_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """v_b = H_{b, f_b} with f_b = min{t : M_bt = 1}  (the first real token, not position 0)."""
    first = mask.long().argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), first]


def last_token_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """v_b = H_{b, l_b} with l_b = max{t : M_bt = 1}  (the last real token, on either side)."""
    length = mask.shape[1]
    last = length - 1 - mask.long().flip(dims=[1]).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


POOLERS = {"mean": mean_pool, "cls": cls_pool, "last_token": last_token_pool}


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Apply the pooling named `how` (mean | cls | last_token)."""
    if how not in POOLERS:
        raise SpecrecError(f"unknown pooling '{how}'; choose one of: {', '.join(POOLERS)}")
    return POOLERS[how](hidden, mask)

