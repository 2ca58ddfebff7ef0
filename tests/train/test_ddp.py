"""Two-process DDP training on CPU (gloo) under torchrun: one artifact, synchronised weights."""

import os
import subprocess
import sys

import pytest

from specrec.artifacts import read_meta
from specrec.testing.synthetic import markov_sequences, write_sequences


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path):
    write_sequences(tmp_path / "data", markov_sequences(64, 30, 14, seed=2), n_items=30)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "specrec", "train", "--dataset", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
        "--samples", "windows", "--epochs", "12", "--patience", "12", "--dim", "16", "--max-len", "10",
        "--batch-size", "8", "--lr", "0.005", "--device", "cpu",
        "--backbone-opt", "n_layers=1", "--backbone-opt", "n_heads=1",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    meta = read_meta(tmp_path / "run", kind="run")
    assert meta.stats["epochs"] == 12
    assert meta.stats["best_valid"]["hit@10"] > 0.6  # the chain is learnt across both ranks
    assert not (tmp_path / "run.partial").exists()
