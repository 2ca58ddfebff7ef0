"""Devices and ranks, resolved in one place: `--device` names, the torchrun environment, groups."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator

from specrec.errors import SpecrecError

DEVICE_HELP = "auto, cpu, cuda or cuda:N"


@dataclass(frozen=True)
class Ranks:
    """This process's place in a torchrun launch; (0, 1, 0) when launched alone."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def ranks() -> Ranks:
    """`RANK`, `WORLD_SIZE` and `LOCAL_RANK` from the environment torchrun sets."""
    try:
        found = Ranks(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                      int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError:
        raise SpecrecError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun)")
    if not 0 <= found.rank < found.world_size:
        raise SpecrecError(f"RANK {found.rank} is outside WORLD_SIZE {found.world_size}")
    return found


def check_device_name(name: str) -> None:
    """Refuse a `--device` that is none of auto, cpu, cuda, cuda:N (before any work)."""
    index = name.partition(":")[2]
    if name in ("auto", "cpu", "cuda") or (name.startswith("cuda:") and index.isdigit()):
        return
    raise SpecrecError(f"unknown --device '{name}'; use {DEVICE_HELP}")


def resolve_device(name: str, local_rank: int = 0):
    """The torch device `name` means for this process, made current when it is a GPU.

    `auto` is `cuda` when a GPU is visible, else `cpu`; `cuda` means GPU `LOCAL_RANK` (one GPU per
    process under torchrun); `cuda:N` is taken as given.
    """
    import torch

    check_device_name(name)
    has_cuda = torch.cuda.is_available()
    if name.startswith("cuda") and not has_cuda:
        raise SpecrecError(f"--device {name} was asked for, but no CUDA GPU is visible; use cpu")
    if name == "cpu" or (name == "auto" and not has_cuda):
        return torch.device("cpu")
    device = torch.device(name) if ":" in name else torch.device("cuda", local_rank)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise SpecrecError(
            f"GPU {device.index} was asked for, but only {torch.cuda.device_count()} are visible"
        )
    torch.cuda.set_device(device)
    return device


@contextmanager
def process_group(
    found: Ranks, device, *, backend: str | None = None, timeout_s: float | None = None
) -> Iterator[None]:
    """Join torchrun's process group for the block (NCCL on GPU, gloo on CPU) and tear it down.

    Single-process runs, and groups the caller had already started, are left alone.
    """
    import torch.distributed as dist

    started = False
    if found.distributed and not dist.is_initialized():
        chosen = backend or ("nccl" if device.type == "cuda" else "gloo")
        extra = {"timeout": timedelta(seconds=timeout_s)} if timeout_s else {}
        dist.init_process_group(chosen, **extra)
        started = True
    try:
        yield
    finally:
        if started and dist.is_initialized():
            dist.destroy_process_group()


def barrier(found: Ranks) -> None:
    """Wait for every rank of the current group (no-op for one process)."""
    if found.distributed:
        import torch.distributed as dist

        dist.barrier()
