"""The backbone contract: right-padded item vectors of a sequence -> hidden states per position."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.registry import Registry


@dataclass
class BackboneConfig:
    """Options common to every backbone; each backbone subclasses this with its own defaults."""

    dim: int = 64
    max_len: int = 50


class Backbone(nn.Module):
    """Maps item vectors `x [B, L, D]` (right-padded, `lengths [B]`) to hidden states `[B, L, D]`.

    Contract (tested for every entry in tests/models/test_backbone_contract.py):
    - pad positions (index >= length) never change the outputs at valid positions;
    - `causal` backbones: the output at position t depends only on items 0..t;
    - `causal = False` backbones (cloze, BERT4Rec) read `masked [B, L]` (bool): those positions
      are replaced by the backbone's learned mask vector before encoding;
    - `timestamps [B, L + 1]` (seconds, the last valid column + 1 holds the target's time) is
      optional; backbones that use time (HSTU) must also work without it.
    The item table and scoring live outside the backbone; `item_bias()` may add a per-item
    output bias to the logits (BERT4Rec's head).
    """

    name: ClassVar[str] = ""
    causal: ClassVar[bool] = True
    Config: ClassVar[type[BackboneConfig]] = BackboneConfig

    def __init__(self, config: BackboneConfig, n_items: int) -> None:
        super().__init__()
        self.config = config
        self.n_items = n_items

    def forward(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        raise NotImplementedError

    def last_hidden(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        """`[B, D]`: the hidden state at index `length − 1` of each row, the one ranking scores.
        A backbone may override it to skip work that this position does not depend on."""
        return gather_last(self.forward(x, lengths, masked=masked, timestamps=timestamps), lengths)

    def item_bias(self) -> Tensor | None:
        """Optional output bias `[n_items + 1]` added to every item's logit."""
        return None


BACKBONES: Registry[type[Backbone]] = Registry("backbone")


def build_backbone(name: str, n_items: int, **options: Any) -> Backbone:
    """Instantiate a registered backbone, rejecting unknown or ill-typed options."""
    cls = BACKBONES.get(name)
    known = {f.name for f in fields(cls.Config)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise SpecrecError(
            f"backbone '{name}' has no option(s) {unknown}; its options are {sorted(known)}"
        )
    config = cls.Config(**options)
    if config.dim <= 0 or config.max_len <= 0:
        raise SpecrecError(f"backbone '{name}': dim and max_len must be positive")
    return cls(config, n_items)


def padding_mask(lengths: Tensor, max_len: int) -> Tensor:
    """Bool `[B, L]`, True at valid (non-pad) positions of right-padded sequences."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def last_index(lengths: Tensor) -> Tensor:
    """`[B]`: the index `length − 1` of each row's last item (0 for an empty row)."""
    return (lengths - 1).clamp(min=0)


def gather_last(hidden: Tensor, lengths: Tensor) -> Tensor:
    """The hidden state at index `length - 1` of each row: `[B, L, D] -> [B, D]`."""
    index = last_index(lengths).view(-1, 1, 1).expand(-1, 1, hidden.size(-1))
    return hidden.gather(1, index).squeeze(1)
