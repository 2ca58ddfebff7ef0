"""The `transformers` backend: AutoTokenizer + AutoModel, then pooling over the attention mask.

v = pool(H, M) with H = AutoModel(prompt + text).last_hidden_state, then v / ||v||_2 when
normalising; every text of a padded batch keeps the positions it has alone (see `positions.py`).
With `append_eos` the tokens are those of prompt + text without the tokenizer's special tokens,
cut to max_length - 1, then the tokenizer's EOS: the EOS is never truncated away.
With an `adapter` (a `specrec finetune` artifact) its LoRA weights are merged into the model.
"""

from __future__ import annotations

import inspect
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from specrec.embed.encoders.base import EncoderSettings
from specrec.embed.encoders.locate import quiet_offline_transformers
from specrec.embed.encoders.positions import left_padding_numbering
from specrec.embed.pooling import pool
from specrec.errors import SpecrecError


class TransformersEncoder:
    """Any Hugging Face encoder or decoder model with mean, CLS or last-token pooling."""

    def __init__(self, settings: EncoderSettings, *, device: str, compute_dtype: str,
                 adapter: Path | None = None) -> None:
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
        if settings.append_eos and self.tokenizer.eos_token_id is None:
            raise SpecrecError(
                f"the tokenizer of model '{settings.model}' has no EOS token to append; "
                "pass --no-append-eos"
            )
        self.model.to(self.device).eval()
        if adapter is not None:
            self.model = merged_adapter(self.model, adapter, settings.model)
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
        with torch.inference_mode():
            vectors = self.pooled(texts)
        if self.settings.normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return vectors.cpu().numpy().astype(np.float32, copy=False)

    def pooled(self, texts: list[str]) -> torch.Tensor:
        """The pooled float32 vectors `[B, D]` of prompt + text on the device, before any
        normalising; differentiable unless called under inference mode (finetune trains it)."""
        batch = self.tokenize([self.settings.prompt + text for text in texts])
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
        with autocast:
            output = self.model(**inputs)
        hidden = getattr(output, "last_hidden_state", None)
        hidden = output[0] if hidden is None else hidden
        return pool(hidden.float(), mask, self.settings.pooling)

    def tokenize(self, texts: list[str]):
        """The padded batch (input ids, attention mask, ...) for `texts` as the settings say."""
        if not self.settings.append_eos:
            return self.tokenizer(
                texts,
                padding=True,
                truncation=True,
                max_length=self.settings.max_length,
                return_tensors="pt",
            )
        cut = self.settings.max_length - 1  # room for the EOS
        ids = self.tokenizer(texts, add_special_tokens=False, truncation=True, max_length=cut)
        ids = ids["input_ids"]
        eos = self.tokenizer.eos_token_id
        return self.tokenizer.pad({"input_ids": [row + [eos] for row in ids]}, return_tensors="pt")


def merged_adapter(model: torch.nn.Module, adapter: Path, model_name: str) -> torch.nn.Module:
    """`model` with the LoRA adapter saved in the folder `adapter` merged into its weights."""
    from peft import PeftModel

    try:
        with warnings.catch_warnings():  # peft asks transformers a deprecated question
            warnings.simplefilter("ignore", FutureWarning)
            tuned = PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
        return tuned.merge_and_unload()
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        message = " ".join(str(exc).split())[:200]
        raise SpecrecError(
            f"cannot apply the adapter '{adapter}' to model '{model_name}' ({message}); "
            "rerun finetune on this model"
        ) from None
