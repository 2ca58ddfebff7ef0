"""The `sentence-transformers` backend: a folder's own modules (Transformer, Pooling, Normalize).

v = Normalize(Pooling(Transformer(prompt + text))), plus v / ||v||_2 when normalising is asked for
and the folder has no Normalize module. Batches are padded on the right whatever the tokenizer
declares: the pipeline passes no position ids, so only right padding keeps each text's own.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from specrec.embed.encoders.base import EncoderSettings
from specrec.embed.encoders.locate import quiet_offline_transformers
from specrec.errors import SpecrecError


class SentenceTransformersEncoder:
    """A sentence-transformers model folder run exactly as its modules.json says."""

    def __init__(self, settings: EncoderSettings, *, device: str, compute_dtype: str) -> None:
        quiet_offline_transformers()
        from sentence_transformers import SentenceTransformer
        self.settings = settings
        self.dtype = getattr(torch, compute_dtype)
        self.device = torch.device(device)
        try:
            self.model = SentenceTransformer(
                str(settings.model_dir), device=device, local_files_only=True
            )
        except (OSError, ValueError, KeyError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SpecrecError(
                f"cannot load model '{settings.model}' ({message}); "
                "pass a complete local model folder"
            ) from None
        self.model.max_seq_length = settings.max_length
        self.model.tokenizer.padding_side = settings.padding_side
        has_normalize = any(type(module).__name__ == "Normalize" for module in self.model)
        self.add_normalize = settings.normalize and not has_normalize
        probe = self.model.encode([""], convert_to_numpy=True, show_progress_bar=False)
        self.dim = int(probe.shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Float32 vectors `[B, D]`, one forward pass over the whole batch."""
        autocast = (
            torch.autocast("cuda", dtype=self.dtype)
            if self.device.type == "cuda" and self.dtype != torch.float32
            else nullcontext()
        )
        with autocast:
            vectors = self.model.encode(
                texts,
                prompt=self.settings.prompt,
                batch_size=max(1, len(texts)),
                convert_to_numpy=True,
                normalize_embeddings=self.add_normalize,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)
