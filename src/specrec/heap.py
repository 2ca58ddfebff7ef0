"""The C heap's settings for training on CPU: freed memory is kept for reuse, not unmapped."""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_MAX = -4
TRIM_THRESHOLD = 2**31 - 1  # the largest the int parameter takes: free never shrinks the heap
OPT_OUT = "SPECREC_SYSTEM_MALLOC"  # set to 1 to leave the allocator as it is

_applied = False


def reuse_freed_memory() -> bool:
    """Have glibc serve every later allocation from its heap and never return freed memory to the
    system, so that the large tensors one step frees are reused by the next one.

    glibc maps each allocation above its mmap threshold (at most 32 MiB) afresh and unmaps it when
    freed, so every step's gathers, scores and gradients of that size fault their pages in again:
    at a million items a sampled-softmax step spent about a quarter of its time there
    (docs/training.md). This is a setting of the whole process, made once; the process then holds
    its peak heap until it exits. Does nothing, and returns False, off glibc or when the
    environment sets `SPECREC_SYSTEM_MALLOC=1`."""
    global _applied
    if _applied:
        return True
    if os.environ.get(OPT_OUT, "") not in ("", "0") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        if not libc.gnu_get_libc_version:  # glibc only: musl's mallopt does nothing
            return False
    except (OSError, AttributeError):
        return False
    _applied = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD,
                                                                  TRIM_THRESHOLD) == 1
    return _applied
