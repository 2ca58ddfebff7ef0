"""Resolve an alias plus the user's options into `EncoderSettings` (cheap, no weights), and load the
backend that applies them.

Precedence for each option: the user's value, then the alias default, then what the model folder
declares (sentence-transformers modules, tokenizer config), then a fixed fallback.
"""

from __future__ import annotations

import json
from pathlib import Path

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
) -> EncoderSettings:
    """Every option of `encoder` resolved; the sentence-transformers backend runs a folder's own
    pipeline only when no option asks for something that pipeline does not do, and always pads on
    the right (left padding would move the positions of models such as BERT under it)."""
    spec = ENCODERS.get(encoder)
    _check_choice("pooling", pooling, POOLINGS)
    _check_choice("padding side", padding_side, PADDING_SIDES)
    if max_length is not None and max_length < 1:
        raise SpecrecError(f"--max-length must be a positive number of tokens, got {max_length}")
    directory, revision, recorded = _locate(encoder, spec.model, spec.locate, model)

    pooling = pooling or spec.pooling
    padding_side = padding_side or spec.padding_side
    normalize = normalize if normalize is not None else spec.normalize
    pipeline = sentence_transformers_pipeline(directory)
    use_pipeline = (
        pipeline is not None
        and pooling is None
        and padding_side in (None, "right")  # right padding keeps every text's own positions
        and not (normalize is False and pipeline.normalize)
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
    return EncoderSettings(
        encoder=encoder,
        backend="sentence-transformers" if use_pipeline else "transformers",
        model=recorded,
        model_dir=directory,
        revision=revision,
        model_signature=model_signature(directory),
        pooling=pooling,
        padding_side=padding_side or _tokenizer_padding_side(directory),
        max_length=int(
            max_length
            or spec.max_length
            or (pipeline and pipeline.max_length)
            or default_max_length(directory)
        ),
        prompt=prompt if prompt is not None else (spec.prompt or ""),
        normalize=normalize,
    )


def load_encoder(settings: EncoderSettings, *, device: str, compute_dtype: str) -> Encoder:
    """Load the weights behind `settings` onto `device` (offline); `compute_dtype` is for CUDA."""
    if settings.backend == "sentence-transformers":
        from specrec.embed.encoders.sbert import SentenceTransformersEncoder

        return SentenceTransformersEncoder(settings, device=device, compute_dtype=compute_dtype)
    from specrec.embed.encoders.hf import TransformersEncoder

    return TransformersEncoder(settings, device=device, compute_dtype=compute_dtype)


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
