"""`specrec plan` + `make -j2` on a tiny grid (2 methods × 3 configurations × 3 seeds): a make
killed midway, rerun, finishes every artifact without redoing the finished ones."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from plan_helpers import TINY_TRAIN, tiny_inputs, write_experiment

from specrec.plan import plan

GRID = """
[experiment]
name = "tiny-grid"
seeds = [0, 1, 2]
device = "cpu"
threads = 1

[methods.ace]
grid.transform.lambda = [0, 1, 10]

[methods.id]
method = "none"
grid.train.lr = [0.001, 0.003, 0.01]
"""
KILL_AFTER_RUNS = 4
TIMEOUT_S = 600


def finished(out: Path) -> dict[str, tuple[int, str]]:
    """Every artifact under `out` with its meta.json mtime and created_utc."""
    found = {}
    for meta in out.glob("**/meta.json"):
        if ".tmp-" in str(meta) or ".old-" in str(meta):
            continue
        record = json.loads(meta.read_text())
        found[str(meta.parent.relative_to(out))] = (meta.stat().st_mtime_ns,
                                                   record["created_utc"])
    return found


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_a_killed_make_resumes_without_redoing_finished_artifacts(tmp_path, inputs):
    path = write_experiment(tmp_path, GRID + TINY_TRAIN + tiny_inputs(inputs))
    out = tmp_path / "plan"
    plan(path, out)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log = (tmp_path / "make-1.log").open("w")
    make = subprocess.Popen(["make", "-C", str(out), "-j2"], stdout=log, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    deadline = time.monotonic() + TIMEOUT_S
    while len(list(out.glob("runs/*/meta.json"))) < KILL_AFTER_RUNS:
        assert make.poll() is None, (tmp_path / "make-1.log").read_text()
        assert time.monotonic() < deadline, "make made no progress"
        time.sleep(0.1)
    os.killpg(make.pid, signal.SIGKILL)  # make and every command it started, mid-write
    make.wait()
    before = finished(out)
    assert KILL_AFTER_RUNS <= sum(a.startswith("runs/") for a in before) < 18
    assert "report" not in before

    rerun = subprocess.run(["make", "-C", str(out), "-j2"], env=env, capture_output=True,
                           text=True, timeout=TIMEOUT_S)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    after = finished(out)
    assert {a: after[a] for a in before} == before  # nothing finished was redone
    assert sum(a.startswith("runs/") for a in after) == 18
    assert sum(a.startswith("evals/") for a in after) == 18
    assert sum(a.startswith("tables/") for a in after) == 3
    assert "report" in after and (out / "report" / "results.md").is_file()

    dry = subprocess.run(["make", "-n", "-C", str(out)], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert "specrec" not in dry  # everything is up to date: a third make would run nothing
