"""One place resolves devices and ranks: torchrun's environment, device names, process groups."""

from __future__ import annotations

import pytest
import torch

from specrec import devices
from specrec.errors import SpecrecError


def test_ranks_read_the_torchrun_environment(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    found = devices.ranks()
    assert (found.rank, found.world_size, found.local_rank) == (3, 4, 1)
    assert found.distributed and not found.is_main
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name)
    assert devices.ranks() == devices.Ranks(0, 1, 0) and devices.ranks().is_main


def test_malformed_ranks_are_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(SpecrecError, match="must be integers"):
        devices.ranks()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(SpecrecError, match="outside WORLD_SIZE 2"):
        devices.ranks()


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_device_names_accepted(name):
    devices.check_device_name(name)


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "CPU", "mps:0"])
def test_unknown_device_names_refused(name):
    with pytest.raises(SpecrecError, match="unknown --device"):
        devices.check_device_name(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only behaviour")
def test_cpu_only_machine():
    assert devices.resolve_device("auto", local_rank=3) == torch.device("cpu")
    assert devices.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(SpecrecError, match="no CUDA GPU is visible"):
        devices.resolve_device("cuda:1")


def test_process_group_is_left_alone_for_one_process():
    import torch.distributed as dist

    with devices.process_group(devices.Ranks(), torch.device("cpu")):
        assert not dist.is_initialized()
    devices.barrier(devices.Ranks())  # no group, no wait


def test_process_group_is_torn_down(monkeypatch, tmp_path):
    import torch.distributed as dist

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29512")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    found = devices.Ranks(0, 2, 0)  # a group of one member, but joined as if distributed
    monkeypatch.setattr(devices.Ranks, "distributed", property(lambda self: True))
    with devices.process_group(found, torch.device("cpu")):
        assert dist.is_initialized() and dist.get_backend() == "gloo"
    assert not dist.is_initialized()
