"""`specrec evaluate`: a run artifact -> metrics.json + per-user ranks.parquet on a split."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from specrec import devices
from specrec.artifacts import Meta, build_artifact, check_same_items, input_ref, read_meta
from specrec.console import log as default_log
from specrec.data.dataset import load_dataset
from specrec.errors import SpecrecError
from specrec.evaluate.metrics import summarize
from specrec.evaluate.protocol import rank_split
from specrec.evaluate.ranking import TIE_RULE
from specrec.evaluate.store import write_metrics
from specrec.runs.model import load_model
from specrec.runs.store import read_run


def evaluate(
    *,
    run: Path,
    out: Path,
    split: str = "test",
    ks: list[int] | None = None,
    mask_history: bool = False,
    batch_size: int = 1024,
    device: str = "auto",
    force: bool = False,
    log: Callable[[str], None] = default_log,
) -> Meta:
    """Full-sort evaluation of `run` on `split`; writes the metrics artifact at `out`."""
    ks = sorted(set(ks or [10, 20]))
    if split not in ("valid", "test"):
        raise SpecrecError(f"--split must be valid or test, not '{split}'")
    if any(k < 1 for k in ks):
        raise SpecrecError("every K must be >= 1")
    if batch_size < 1:
        raise SpecrecError(f"--batch-size must be >= 1, not {batch_size}")
    devices.check_device_name(device)
    artifact = read_run(run)
    dataset = artifact.dataset
    data_meta = read_meta(dataset, kind="dataset")
    check_same_items(f"run '{run}'", artifact.meta, f"dataset '{dataset}'", data_meta)
    config = {"split": split, "ks": ks, "mask_history": mask_history, "tie_rule": TIE_RULE}
    protect = [dataset, *([artifact.table] if artifact.table else [])]

    def build(tmp: Path) -> dict:
        device_t = devices.resolve_device(device)
        data = load_dataset(dataset)
        model = load_model(artifact, data.n_items, device_t)
        users, ranks = rank_split(model, data, split, batch_size=batch_size,
                                  mask_history=mask_history, device=device_t)
        metrics = summarize(ranks, ks)
        record = {"split": split, "protocol": artifact.record.get("protocol", "loo"),
                  "tie_rule": TIE_RULE, "mask_history": mask_history, "n_users": int(len(users)),
                  "ks": ks, "metrics": metrics,
                  "run": {"path": str(run), "fingerprint": artifact.meta.fingerprint,
                          "record": artifact.record}}
        write_metrics(tmp, record, users, ranks)
        return {"metrics": metrics, "n_users": int(len(users))}

    return build_artifact(out, kind="metrics", config=config,
                          inputs={"run": input_ref(Path(run), artifact.meta)},
                          items_fp=artifact.meta.items_fingerprint, build=build, protect=protect,
                          force=force, log=log)
