"""`specrec evaluate`: a run artifact -> metrics.json + per-user ranks.parquet on a split."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from specrec import devices
from specrec.artifacts import Meta, build_artifact, check_same_items, input_ref, read_meta
from specrec.console import log as default_log
from specrec.data.dataset import load_dataset
from specrec.errors import SpecrecError
from specrec.evaluate.groups import GroupThresholds, group_metrics
from specrec.evaluate.metrics import summarize
from specrec.evaluate.protocol import rank_split
from specrec.evaluate.ranking import TIE_RULE
from specrec.evaluate.sampling import Ranking
from specrec.evaluate.store import write_metrics
from specrec.precision import check_precision, resolve_precision
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
    precision: str | None = None,
    protocol: str = "full",
    negatives: int | None = None,
    sampler: str | None = None,
    sample_seed: int | None = None,
    groups: bool = False,
    head_item_min: int | None = None,
    long_user_min: int | None = None,
    item_counts: str | None = None,
    force: bool = False,
    log: Callable[[str], None] = default_log,
) -> Meta:
    """Evaluate `run` on `split`; writes the metrics artifact at `out`.

    `protocol="full"` ranks each target among all items; `"sampled"` among itself and `negatives`
    (default 100) items the user never interacted with, drawn by `sampler` (uniform | popularity)
    with `sample_seed` (`evaluate.sampling`). `groups` adds the long-tail groups
    (`evaluate.groups`). Options left None take their defaults; given without their protocol or
    without `groups`, they are an error. `precision` (auto | fp32 | bf16) is the autocast of the
    model's forward, by default the run's own; scores and ranks are float32 either way.
    """
    ks = sorted(set(ks or [10, 20]))
    if split not in ("valid", "test"):
        raise SpecrecError(f"--split must be valid or test, not '{split}'")
    if any(k < 1 for k in ks):
        raise SpecrecError("every K must be >= 1")
    if batch_size < 1:
        raise SpecrecError(f"--batch-size must be >= 1, not {batch_size}")
    ranking = _ranking(protocol, negatives, sampler, sample_seed)
    if ranking.sampled and mask_history:
        raise SpecrecError("--mask-history is for --protocol full; sampled negatives never "
                           "include the user's items already")
    thresholds = _thresholds(groups, head_item_min, long_user_min, item_counts)
    devices.check_device_name(device)
    artifact = read_run(run)
    precision = precision or artifact.record.get("precision", "auto")
    check_precision(precision)
    dataset = artifact.dataset
    data_meta = read_meta(dataset, kind="dataset")
    check_same_items(f"run '{run}'", artifact.meta, f"dataset '{dataset}'", data_meta)
    config = {"split": split, "ks": ks, "mask_history": mask_history, "tie_rule": TIE_RULE}
    if ranking.sampled:  # the full sort adds nothing, so earlier metrics artifacts stay current
        config["ranking"] = ranking.record()
    if thresholds is not None:
        config["groups"] = thresholds.record()
    if precision != "auto":  # like the run's config: absent at auto, so older metrics stay current
        config["precision"] = precision
    protect = [dataset, *([artifact.table] if artifact.table else [])]
    loaded = load_dataset(dataset) if ranking.sampled else None
    if loaded is not None:  # before --out is touched, so that this error writes nothing
        ranking.check_split(loaded, split)

    def build(tmp: Path) -> dict:
        device_t = devices.resolve_device(device)
        resolved = resolve_precision(precision, device_t)
        data = loaded or load_dataset(dataset)
        drawn = ranking.negatives_for(data, split)
        model = load_model(artifact, data.n_items, device_t)
        users, ranks = rank_split(model, data, split, batch_size=batch_size,
                                  mask_history=mask_history, device=device_t, negatives=drawn,
                                  precision=resolved)
        metrics = summarize(ranks, ks)
        record = {"split": split, "protocol": artifact.record.get("protocol", "loo"),
                  "ranking": ranking.record(), "tie_rule": TIE_RULE,
                  "mask_history": mask_history, "n_users": int(len(users)), "ks": ks,
                  "metrics": metrics,
                  "run": {"path": str(run), "fingerprint": artifact.meta.fingerprint,
                          "record": artifact.record}}
        stats = {"metrics": metrics, "n_users": int(len(users)), "ranking": ranking.record(),
                 "precision": resolved}
        if thresholds is not None:
            record["groups"] = stats["groups"] = group_metrics(data, data.targets(split), ranks,
                                                               ks, thresholds)
        write_metrics(tmp, record, users, ranks)
        return stats

    return build_artifact(out, kind="metrics", config=config,
                          inputs={"run": input_ref(Path(run), artifact.meta)},
                          items_fp=artifact.meta.items_fingerprint, build=build, protect=protect,
                          force=force, log=log)


def _ranking(protocol: str, negatives: int | None, sampler: str | None,
             seed: int | None) -> Ranking:
    """The checked `Ranking`; sampling options given with the full protocol are an error."""
    if protocol == "full" and (negatives, sampler, seed) != (None, None, None):
        raise SpecrecError("--negatives, --sampler and --sample-seed apply to --protocol sampled "
                           "only; add --protocol sampled or drop them")
    defaults = Ranking()
    ranking = Ranking(protocol, defaults.negatives if negatives is None else negatives,
                      sampler or defaults.sampler, defaults.seed if seed is None else seed)
    ranking.check()
    return ranking


def _thresholds(groups: bool, head_item_min: int | None, long_user_min: int | None,
                item_counts: str | None) -> GroupThresholds | None:
    """The checked `GroupThresholds` with `groups`, else None (thresholds alone are an error)."""
    given = (head_item_min, long_user_min, item_counts) != (None, None, None)
    if not groups:
        if given:
            raise SpecrecError("--head-item-min, --long-user-min and --item-counts apply with "
                               "--groups only; add --groups or drop them")
        return None
    defaults = GroupThresholds()
    thresholds = GroupThresholds(
        defaults.head_item_min if head_item_min is None else head_item_min,
        defaults.long_user_min if long_user_min is None else long_user_min,
        item_counts or defaults.item_counts)
    thresholds.check()
    return thresholds
