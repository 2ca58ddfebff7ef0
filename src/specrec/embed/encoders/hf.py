"""The `transformers` backend: AutoTokenizer + AutoModel, then pooling over the attention mask.

v = pool(H, M) with H = AutoModel(prompt + text).last_hidden_state, then v / ||v||_2 when
normalising; every text of a padded batch keeps the positions it has alone (see `positions.py`).
"""

from __future__ import annotations

import inspect
from contextlib import nullcontext

import numpy as np
import torch

from specrec.embed.encoders.base import EncoderSettings
from specrec.embed.encoders.locate import quiet_offline_transformers
from specrec.embed.encoders.positions import left_padding_numbering
from specrec.embed.pooling import pool
from specrec.errors import SpecrecError


class TransformersEncoder:
    """Any Hugging Face encoder or decoder model with mean, CLS or last-token pooling."""

    def __init__(self, settings: EncoderSettings, *, device: str, compute_dtype: str) -> None:
        transformers = quiet_offline_transformers()
        from transformers import AutoModel, AutoTokenizer
        self.settings = settings
        self.device = torch.device(device)
        self.dtype = getattr(torch, compute_dtype)
        dtype_key = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                settings.model_dir, padding_side=settings.padding_side, local_files_only=True
            )
            self.model = AutoModel.from_pretrained(
                settings.model_dir, local_files_only=True, **{dtype_key: self.dtype}
            )
        except (OSError, ValueError, KeyError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SpecrecError(
                f"cannot load model '{settings.model}' ({message}); "
                "pass a complete local model folder"
            ) from None
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.model.to(self.device).eval()
        params = inspect.signature(self.model.forward).parameters
        self.takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        self.accepts = set(params)
        self.left_numbering = (
            left_padding_numbering(self.model, "position_ids" in params, settings.model)
            if settings.padding_side == "left"
            else None
        )
        self.dim = int(self.model.config.hidden_size)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Float32 vectors `[B, D]` for `texts` (the prompt is prepended here)."""
        batch = self.tokenizer(
            [self.settings.prompt + text for text in texts],
            padding=True,
            truncation=True,
            max_length=self.settings.max_length,
            return_tensors="pt",
        )
        inputs = {
            k: v.to(self.device) for k, v in batch.items() if self.takes_any or k in self.accepts
        }
        mask = inputs["attention_mask"]
        if self.left_numbering is not None:
            inputs["position_ids"] = self.left_numbering.ids(mask)
        autocast = (
            torch.autocast("cuda", dtype=self.dtype)
            if self.device.type == "cuda" and self.dtype != torch.float32
            else nullcontext()
        )
        with torch.inference_mode(), autocast:
            output = self.model(**inputs)
        hidden = getattr(output, "last_hidden_state", None)
        hidden = output[0] if hidden is None else hidden
        vectors = pool(hidden.float(), mask, self.settings.pooling)
        if self.settings.normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return vectors.cpu().numpy().astype(np.float32, copy=False)
