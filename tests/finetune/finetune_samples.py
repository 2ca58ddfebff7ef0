"""Helpers of the finetune tests: the embed tests' tiny model folders and dataset writer, texts."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

EMBED_TESTS = Path(__file__).parents[1] / "embed"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


folders = _load("specrec_tests_tiny_encoder_folders", EMBED_TESTS / "tiny_encoder_folders.py")
embed_helpers = _load("specrec_tests_embed_conftest", EMBED_TESTS / "conftest.py")
make_dataset = embed_helpers.make_dataset

WORDS = [word for word in folders.WORDS if word.isalnum()]  # no punctuation: ". " separates


def attribute_texts(count: int, seed: int = 0) -> list[str]:
    """Item texts as specrec's templates render them: 2 to 5 attributes joined by ". "."""
    rng = random.Random(seed)
    return [
        ". ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
                  for _ in range(rng.randint(2, 5)))
        for _ in range(count)
    ]  # fmt: skip
