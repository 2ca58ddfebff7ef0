"""Numeric precision of training and evaluation: `--precision auto | fp32 | bf16`, resolved per device."""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path

import torch

from specrec.errors import SpecrecError

PRECISIONS = ("auto", "fp32", "bf16")


def check_precision(name: str) -> None:
    """Refuse a `--precision` that is not one of PRECISIONS (before any work)."""
    if name not in PRECISIONS:
        raise SpecrecError(f"unknown --precision '{name}'; choose one of {', '.join(PRECISIONS)}")


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), so oneDNN's bf16 kernels run.

    Without it, bf16 autocast on CPU emulates the format and is slower than float32.
    """
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if probe is not None:
        try:
            return bool(probe())
        except RuntimeError:
            pass
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(name: str, device: torch.device) -> str:
    """`fp32` or `bf16`: `auto` is bf16 on CUDA and fp32 on CPU; bf16 on a CPU without native bf16
    is refused (it would run emulated, slower than float32)."""
    check_precision(name)
    if name == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    if name == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        raise SpecrecError("--precision bf16 needs a CPU with native bf16 (AVX512-BF16 or AMX), "
                           "which this one lacks; use --precision fp32 or a GPU")
    return name


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of a resolved precision: bf16 matmuls with float32 weights and
    float32 reductions (softmax, norms, losses) on `device`; a no-op for fp32."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
