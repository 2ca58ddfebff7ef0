"""`--precision`: resolution per device, the fingerprint, and bf16 autocast on the CPU end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from specrec import precision as precision_module
from specrec.errors import SpecrecError
from specrec.evaluate.evaluate import evaluate
from specrec.precision import autocast, check_precision, cpu_has_native_bf16, resolve_precision
from specrec.runs.model import build_model
from specrec.runs.store import read_run
from specrec.testing.pipeline import quiet, tiny_config, tiny_dataset, tiny_run

CPU = torch.device("cpu")
native_bf16 = pytest.mark.skipif(not cpu_has_native_bf16(), reason="CPU without native bf16")


def test_unknown_precision_is_refused_naming_the_choices():
    with pytest.raises(SpecrecError, match="unknown --precision 'fp16'; choose one of auto, fp32, bf16"):
        check_precision("fp16")
    with pytest.raises(SpecrecError, match="--precision"):
        tiny_config(precision="half").validate()


def test_auto_is_float32_on_cpu_and_bf16_on_cuda():
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert resolve_precision("fp32", torch.device("cuda")) == "fp32"


def test_bf16_on_a_cpu_without_native_bf16_is_refused(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(SpecrecError, match="native bf16 .* use --precision fp32"):
        resolve_precision("bf16", CPU)


def test_auto_stays_out_of_the_fingerprint_and_bf16_enters_it():
    auto, bf16 = tiny_config(), tiny_config(precision="bf16")
    auto.validate(), bf16.validate()
    assert "precision" not in auto.record()
    assert bf16.record()["precision"] == "bf16"
    assert tiny_config(precision="fp32").record()["precision"] == "fp32"


@native_bf16
def test_bf16_autocast_rounds_the_forward_within_bf16_error():
    """bf16 keeps 8 significand bits (unit roundoff 2^-9 ≈ 0.002), so each rounded matmul is off
    by a few of those; the residual stream (item + position embeddings) and the LayerNorms stay
    float32, so the user vectors move by at most that, and by a nonzero amount (a float32 forward
    run twice is bit-identical)."""
    torch.manual_seed(0)
    model = build_model(tiny_config(dim=32), 50, None).eval()
    seq = torch.randint(1, 51, (64, 6))
    lengths = torch.full((64,), 6)
    with torch.no_grad():
        exact = model(seq, lengths)
        with autocast("bf16", CPU):
            rounded = model(seq, lengths)
    error = (rounded.float() - exact).norm() / exact.norm()
    with torch.no_grad():
        assert torch.equal(model(seq, lengths), exact)
    assert 0 < float(error) < 4 * 2 ** -9


@native_bf16
def test_a_bf16_run_records_its_precision_and_evaluates_in_it(tmp_path):
    data = tiny_dataset(tmp_path / "data")
    fp32 = tiny_run(tmp_path / "fp32", data, precision="fp32", epochs=3)
    bf16 = tiny_run(tmp_path / "bf16", data, precision="bf16", epochs=3)
    assert read_run(bf16).record["precision"] == "bf16"
    assert read_run(bf16).meta.fingerprint != read_run(fp32).meta.fingerprint
    assert json.loads((bf16 / "meta.json").read_text())["stats"]["precision"] == "bf16"
    meta = evaluate(run=bf16, out=tmp_path / "m_bf16", device="cpu", log=quiet)
    assert meta.stats["precision"] == "bf16" and meta.config["precision"] == "bf16"
    as_fp32 = evaluate(run=bf16, out=tmp_path / "m_fp32", device="cpu", precision="fp32", log=quiet)
    assert as_fp32.stats["precision"] == "fp32"
    # the same weights ranked with a float32 or a bf16 forward: the metrics agree to bf16 noise
    # on 40 users (one rank moving past a neighbour shifts NDCG@10 by at most 1/40)
    for name, value in meta.stats["metrics"].items():
        assert abs(value - as_fp32.stats["metrics"][name]) <= 3 / 40, name
    assert np.isfinite(list(meta.stats["metrics"].values())).all()
