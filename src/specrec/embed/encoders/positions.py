"""Position ids that number each text of a left-padded batch the way the model numbers it alone."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from specrec.errors import SpecrecError


@dataclass(frozen=True)
class PositionNumbering:
    """A text's first real token gets position `first`, the next `first + 1`, ...; padding `pad`.

    Called on one text, BERT and the rotary decoders (Qwen2/3, LLaMA, Mistral, Gemma2/3) count
    from 0; the RoBERTa family (RoBERTa, XLM-R, MPNet, ...) counts from padding_idx + 1 and gives
    padding the row padding_idx of its position table.
    """

    first: int = 0
    pad: int = 0

    def ids(self, mask: torch.Tensor) -> torch.Tensor:
        """p_bt = first + sum_{s<=t} M_bs - 1 where M_bt = 1, else pad (either padding side)."""
        counted = mask.long().cumsum(dim=1) - 1 + self.first
        return torch.where(mask.bool(), counted, torch.full_like(counted, self.pad))


def model_numbering(model: torch.nn.Module) -> PositionNumbering:
    """How `model` numbers one unpadded text: an embeddings module whose learned position table
    reserves the row of its padding index (RoBERTa's `position_embeddings`, built with
    `padding_idx=`) counts from that index + 1; every other model counts from 0."""
    for module in model.modules():
        padding_idx = getattr(module, "padding_idx", None)
        table = getattr(module, "position_embeddings", None)
        if isinstance(padding_idx, int) and getattr(table, "padding_idx", None) == padding_idx:
            return PositionNumbering(first=padding_idx + 1, pad=padding_idx)
    return PositionNumbering()


def left_padding_numbering(
    model: torch.nn.Module, takes_position_ids: bool, model_name: str
) -> PositionNumbering:
    """The numbering to pass with a left-padded batch (which moves every real token right), or a
    SpecrecError when the model's forward takes no position ids: nothing could move them back.

    Right padding needs none of this: it leaves each real token where it is alone, so the model
    numbers its positions itself, exactly as when called on one text.
    """
    if not takes_position_ids:
        kind = getattr(model.config, "model_type", type(model).__name__)
        raise SpecrecError(
            f"model '{model_name}' ({kind}) takes no position ids, so left padding would shift "
            "its tokens; use --padding-side right"
        )
    return model_numbering(model)
