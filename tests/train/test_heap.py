"""The heap setting `train` makes: freed large tensors are reused without faulting pages in."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, resource, sys
import torch
from specrec.heap import reuse_freed_memory
applied = reuse_freed_memory()
def faults_per_tensor(count):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(count):
        torch.empty(10 * 2**20).fill_(1.0)  # 40 MiB, above glibc's largest mmap threshold
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / count
faults_per_tensor(10)  # the heap grows to its working size
print(json.dumps({"applied": applied, "again": reuse_freed_memory(),
                  "faults": faults_per_tensor(5)}))
"""


def _probe(**env: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env={**os.environ, **env}, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a glibc setting")
def test_a_freed_large_tensor_is_reused_without_faulting_its_pages_again():
    found = _probe(SPECREC_SYSTEM_MALLOC="0")
    assert found["applied"] and found["again"]
    # 40 MiB is 10,240 pages of 4 KiB: glibc's default maps and faults every one of them anew
    assert found["faults"] < 100


def test_the_environment_leaves_the_allocator_alone():
    found = _probe(SPECREC_SYSTEM_MALLOC="1")
    assert not found["applied"] and not found["again"]
