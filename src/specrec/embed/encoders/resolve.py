"""Resolve an alias plus the user's options into `EncoderSettings` (cheap, no weights), and load the
backend that applies them.

Precedence for each option: the user's value, then the alias default, then what the model folder
declares (sentence-transformers modules, tokenizer config), then a fixed fallback.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from specrec.embed import shards
from specrec.embed.encoders import ENCODERS
from specrec.embed.encoders.base import PADDING_SIDES, POOLINGS, Encoder, EncoderSettings
from specrec.embed.encoders.locate import (
    cached_hub_model,
    default_max_length,
    local_model_dir,
    model_signature,
    sentence_transformers_pipeline,
)
from specrec.errors import SpecrecError


def resolve_encoder(
    encoder: str,
    *,
    model: str | None = None,
    pooling: str | None = None,
    padding_side: str | None = None,
    max_length: int | None = None,
    prompt: str | None = None,
    normalize: bool | None = None,
    append_eos: bool | None = None,
    base_url: str | None = None,
    dimensions: int | None = None,
) -> EncoderSettings:
    """Every option of `encoder` resolved; the sentence-transformers backend runs a folder's own
    pipeline only when no option asks for something that pipeline does not do, and always pads on
    the right (left padding would move the positions of models such as BERT under it)."""
    spec = ENCODERS.get(encoder)
    if spec.backend == "openai":
        from specrec.embed.encoders.openai_api import resolve_api_encoder

        server_decides = {"pooling": pooling, "padding-side": padding_side,
                          "max-length": max_length, "append-eos": append_eos}  # fmt: skip
        return resolve_api_encoder(
            encoder, spec, model=model, prompt=prompt, normalize=normalize, base_url=base_url,
            dimensions=dimensions, server_decides=server_decides,
        )  # fmt: skip
    if base_url is not None or dimensions is not None:
        raise SpecrecError(
            f"--base-url and --dimensions are for API encoders (openai); encoder '{encoder}' "
            "runs a local model, drop them"
        )
    _check_choice("pooling", pooling, POOLINGS)
    _check_choice("padding side", padding_side, PADDING_SIDES)
    if max_length is not None and max_length < 1:
        raise SpecrecError(f"--max-length must be a positive number of tokens, got {max_length}")
    directory, revision, recorded = _locate(encoder, spec.model, spec.locate, model)

    pooling = pooling or spec.pooling
    padding_side = padding_side or spec.padding_side
    normalize = normalize if normalize is not None else spec.normalize
    append_eos = bool(append_eos if append_eos is not None else spec.append_eos)
    pipeline = sentence_transformers_pipeline(directory)
    use_pipeline = (
        pipeline is not None
        and pooling is None
        and padding_side in (None, "right")  # right padding keeps every text's own positions
        and not (normalize is False and pipeline.normalize)
        and not append_eos  # the pipeline tokenises with the tokenizer's own special tokens
    )
    if use_pipeline:
        padding_side = "right"
        pooling = pipeline.pooling or "mean"
        normalize = bool(normalize) or pipeline.normalize
    else:
        pooling = pooling or (pipeline.pooling if pipeline else None) or "mean"
        if pooling not in POOLINGS:
            raise SpecrecError(
                f"model '{recorded}' pools with '{pooling}', which specrec cannot reproduce; "
                f"pass --pooling {'|'.join(POOLINGS)}"
            )
        normalize = bool(normalize if normalize is not None else pipeline and pipeline.normalize)
    resolved_max_length = int(
        max_length or spec.max_length or (pipeline and pipeline.max_length)
        or default_max_length(directory)
    )  # fmt: skip
    if append_eos and resolved_max_length < 2:
        raise SpecrecError("--append-eos needs --max-length of at least 2 (a token and the EOS)")
    return EncoderSettings(
        encoder=encoder,
        backend="sentence-transformers" if use_pipeline else "transformers",
        model=recorded,
        model_dir=directory,
        revision=revision,
        model_signature=model_signature(directory),
        pooling=pooling,
        padding_side=padding_side or _tokenizer_padding_side(directory),
        max_length=resolved_max_length,
        prompt=prompt if prompt is not None else (spec.prompt or ""),
        normalize=normalize,
        append_eos=append_eos,
    )


def load_encoder(settings: EncoderSettings, *, device: str, compute_dtype: str,
                 adapter: Path | None = None) -> Encoder:
    """Load the weights behind `settings` onto `device` (offline); `compute_dtype` is for CUDA.
    An API encoder loads nothing: it checks for its key and makes a client. An `adapter` (a
    finetune artifact) is merged into the model; `embed` resolves it to the transformers backend."""
    if settings.backend == "openai":
        from specrec.embed.encoders.openai_api import OpenAIEncoder

        return OpenAIEncoder(settings)
    if settings.backend == "sentence-transformers":
        from specrec.embed.encoders.sbert import SentenceTransformersEncoder

        return SentenceTransformersEncoder(settings, device=device, compute_dtype=compute_dtype)
    from specrec.embed.encoders.hf import TransformersEncoder

    return TransformersEncoder(
        settings, device=device, compute_dtype=compute_dtype, adapter=adapter
    )


def batch_plan(
    settings: EncoderSettings, texts: list[str], items: np.ndarray, batch_size: int
) -> list[np.ndarray]:
    """The batches `items` (1-based, in order) are encoded in: `batch_size` texts per forward pass
    for a local model; for an API, one request each, bounded by the API's input and token limits."""
    if settings.backend == "openai":
        from specrec.embed.encoders.openai_api import request_batches

        return request_batches(settings, texts, items, batch_size)
    return shards.batches(items, batch_size)


def _check_choice(what: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise SpecrecError(f"unknown {what} '{value}'; choose one of: {', '.join(choices)}")


def _locate(encoder, spec_model, spec_locate, model) -> tuple[Path, str, str]:
    """`(directory, revision, model as recorded)`: --model, else a bundled copy, else the cache."""
    if model:
        local = local_model_dir(model)
        if local is not None:
            return local[0], local[1], str(local[0])
        return (*cached_hub_model(model), model)
    if spec_locate is not None:
        directory, revision = spec_locate()
        return directory, revision, str(spec_model)
    if spec_model:
        return (*cached_hub_model(spec_model), spec_model)
    raise SpecrecError(
        f"encoder '{encoder}' needs --model DIR (a local model folder or a cached hub name)"
    )


def _tokenizer_padding_side(directory: Path) -> str:
    path = directory / "tokenizer_config.json"
    try:
        side = json.loads(path.read_text()).get("padding_side") if path.is_file() else None
    except (json.JSONDecodeError, AttributeError):
        side = None
    return side if side in PADDING_SIDES else "right"
