"""Two ranks under torchrun (CPU, gloo) give the single-process vectors, merged in index order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from specrec.embed.embed import embed
from specrec.embed.store import open_embeddings


@pytest.mark.slow
def test_torchrun_two_ranks_match_single_process(tmp_path, tiny_dataset):
    specrec = Path(sys.executable).parent / "specrec"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "--no-python", str(specrec), "embed", "--dataset", str(tiny_dataset), "--encoder", "minilm",
        "--out", str(tmp_path / "ranks"), "--batch-size", "2", "--device", "cpu",
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("items/s") == 1  # only rank 0 prints the table

    merged = open_embeddings(tmp_path / "ranks")
    assert merged.meta.stats["world_size"] == 2 and merged.meta.stats["batches"] == 4
    assert not (tmp_path / "ranks.partial").exists()
    embed(dataset=tiny_dataset, encoder="minilm", out=tmp_path / "one", batch_size=2, device="cpu",
          force=True)  # fmt: skip
    single = open_embeddings(tmp_path / "one").load()
    np.testing.assert_allclose(merged.load(), single, atol=1e-6)
    assert merged.meta.fingerprint == open_embeddings(tmp_path / "one").meta.fingerprint
