"""The named sections of an experiment file: datasets, encoders, backbones and methods."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from specrec.artifacts import read_meta
from specrec.errors import SpecrecError
from specrec.plan import options as opt
from specrec.plan.options import Where
from specrec.plan.spec import (
    SECTIONS, Backbone, Config, Dataset, Encoder, Experiment, Method, check_name, refuse_unknown,
    table_of,
)
from specrec.plan.teachers import check_teacher_backbones, parse_teacher, teacher_of

SAFE_PATH = re.compile(r"[A-Za-z0-9_./+@-]+$")  # what a make target can hold without quoting
ID_ONLY = "none"
STAGES = ("transform", "train", "embedder")
METHOD_KEYS = ("method", *STAGES, "grid", "teacher")


def named(file: str, data: dict, section: str, required: bool) -> dict[str, dict]:
    """`[section.NAME]` tables by name (in file order)."""
    where = Where(file, section)
    tables = table_of(where, None, data.get(section, {}))
    if required and not tables:
        raise where.error(None, f"missing; add at least one [{section}.NAME] table")
    for name, table in tables.items():
        check_name(where, name, name)
        table_of(Where(file, f"{section}.{name}"), None, table)
    return tables


def artifact_path(where: Where, key: str, value: Any, base: Path, kind: str):
    """An existing artifact of `kind` named in the file (relative to the file's folder)."""
    if not isinstance(value, str) or not value:
        raise where.error(key, f"must be the folder of {kind} artifact, not {value!r}")
    path = (base / value).resolve()
    if not SAFE_PATH.match(str(path)):
        raise where.error(key, f"'{path}' has a character make cannot use in a target; use "
                               "letters, digits and _ . / + @ -")
    try:
        return path, read_meta(path, kind=kind)
    except SpecrecError as exc:
        raise where.error(key, str(exc)) from None


def datasets(file: str, data: dict, protocol: str, base: Path) -> tuple[Dataset, ...]:
    from specrec.data.sources import SOURCES

    found = []
    for name, table in named(file, data, "datasets", required=True).items():
        where = Where(file, f"datasets.{name}")
        if "path" in table:
            refuse_unknown(where, table, ("path",))
            path, meta = artifact_path(where, "path", table["path"], base, "dataset")
            recorded = meta.config.get("protocol", protocol)
            if recorded != protocol:
                raise where.error("path", f"the dataset was split with protocol '{recorded}', "
                                          f"the experiment's protocol is '{protocol}'")
            found.append(Dataset(name, path=path))
            continue
        if "source" not in table:
            raise where.error(None, "give source = SOURCE (raw data to preprocess) or "
                                    "path = DATASET (a dataset artifact)")
        try:
            source = SOURCES.canonical(str(table["source"]))
        except SpecrecError as exc:
            raise where.error("source", str(exc)) from None
        options = {key: value for key, value in table.items() if key != "source"}
        for key, value in options.items():
            opt.preprocess_option(where, key, key, value)
        if "paths" in options:
            paths = [(base / p).resolve() for p in options["paths"]]
            for path in paths:
                if not path.exists():
                    raise where.error("paths", f"'{path}' does not exist")
            options["paths"] = [str(p) for p in paths]
        found.append(Dataset(name, source=source, options=options))
    return tuple(found)


def encoders(file: str, data: dict, base: Path, sets: tuple[Dataset, ...]) -> tuple[Encoder, ...]:
    from specrec.embed.encoders import ENCODERS

    found = []
    by_name = {d.name: d for d in sets}
    for name, table in named(file, data, "encoders", required=False).items():
        where = Where(file, f"encoders.{name}")
        if "path" in table:
            refuse_unknown(where, table, ("path", "dataset"))
            path, meta = artifact_path(where, "path", table["path"], base, "embeddings")
            owner = table.get("dataset")
            if owner is None and len(sets) > 1:
                raise where.error("dataset", "embeddings belong to one dataset; name it "
                                             f"(one of {', '.join(by_name)})")
            owner = owner if owner is not None else sets[0].name
            if owner not in by_name:
                raise where.error("dataset", f"no dataset '{owner}'; the datasets are "
                                             f"{', '.join(by_name)}")
            if by_name[owner].path is not None:
                items = read_meta(by_name[owner].path).items_fingerprint
                if items != meta.items_fingerprint:
                    raise where.error("path", f"its items are not those of dataset '{owner}' "
                                              "(items fingerprints differ)")
            found.append(Encoder(name, path=path, dataset=owner))
            continue
        alias = table.get("encoder", name)
        try:
            alias = ENCODERS.canonical(str(alias))
        except SpecrecError as exc:
            key = "encoder" if "encoder" in table else None
            raise where.error(key, f"{exc}; or path = EMBEDDINGS") from None
        options = {key: value for key, value in table.items() if key != "encoder"}
        for key, value in options.items():
            opt.embed_option(where, key, key, value)
        found.append(Encoder(name, alias=alias, options=options))
    return tuple(found)


def backbones(file: str, data: dict) -> tuple[Backbone, ...]:
    from specrec.models.base import BACKBONES

    import specrec.models.backbones  # noqa: F401  (registers every backbone)

    found = []
    for name, table in named(file, data, "backbones", required=True).items():
        where = Where(file, f"backbones.{name}")
        refuse_unknown(where, table, ("backbone", "options", "train"))
        try:
            backbone = BACKBONES.canonical(str(table.get("backbone", name)))
        except SpecrecError as exc:
            raise where.error("backbone" if "backbone" in table else None, str(exc)) from None
        options = table_of(where, "options", table.get("options", {}))
        for key, value in options.items():
            opt.backbone_option(where, f"options.{key}", backbone, key, value)
        train = table_of(where, "train", table.get("train", {}))
        for key, value in train.items():
            opt.train_option(where, f"train.{key}", key, value)
        found.append(Backbone(name, backbone, dict(options), dict(train)))
    return tuple(found)


def methods(file: str, data: dict) -> tuple[Method, ...]:
    return tuple(method(file, name, table)
                 for name, table in named(file, data, "methods", required=True).items())


def method(file: str, name: str, table: dict) -> Method:
    """One method: its transform (or none) and the product of its grid lists."""
    from specrec.transform import methods as registered  # noqa: F401  (registers every method)
    from specrec.transform.base import TRANSFORMS

    where = Where(file, f"methods.{name}")
    refuse_unknown(where, table, METHOD_KEYS)
    raw = table.get("method", name)
    transform = None
    if raw != ID_ONLY:
        try:
            transform = TRANSFORMS.canonical(str(raw))
        except SpecrecError as exc:
            key = "method" if "method" in table else None
            raise where.error(key, f"{exc}; or method = \"{ID_ONLY}\" for ID-only") from None
    fixed = {stage: dict(table_of(where, stage, table.get(stage, {}))) for stage in STAGES}
    origins = {key: f"train.{key}" for key in fixed["train"]}
    if transform is None and fixed["transform"]:
        raise where.error(next(f"transform.{k}" for k in fixed["transform"]),
                          "an ID-only method (method = \"none\") takes no transform options")
    for stage in STAGES:
        for key, value in fixed[stage].items():
            check(where, f"{stage}.{key}", stage, transform, key, value)
    grid = table_of(where, "grid", table.get("grid", {}))
    refuse_unknown(where, grid, STAGES, prefix="grid.")
    axes = []
    for stage in STAGES:
        for key, values in table_of(where, f"grid.{stage}", grid.get(stage, {})).items():
            axes.append((stage, key, axis(where, f"grid.{stage}.{key}", stage, transform, key,
                                          values, fixed)))
            if stage == "train":
                origins[key] = f"grid.train.{key}"
    configs = []
    for index, point in enumerate(itertools.product(*(values for _, _, values in axes))):
        stages = {stage: dict(options) for stage, options in fixed.items()}
        for (stage, key, _), value in zip(axes, point):
            stages[stage][key] = value
        varied = {f"{stage}.{key}": value for (stage, key, _), value in zip(axes, point)}
        label = ", ".join(f"{key}={text(value)}" for (_, key, _), value in zip(axes, point))
        configs.append(Config(index, label or "default", stages["transform"], stages["train"],
                              stages["embedder"], varied, origins))
    return Method(name, transform, tuple(configs), parse_teacher(where, table, fixed, grid))


def axis(where: Where, key: str, stage: str, transform: str | None, name: str, values: Any,
         fixed: dict) -> list:
    """One grid list: non-empty, every value valid for the stage, none twice, not also fixed."""
    if stage == "transform" and transform is None:
        raise where.error(key, "an ID-only method (method = \"none\") takes no transform options")
    if name in fixed[stage]:
        raise where.error(key, f"is also fixed ({stage}.{name}); give it in one place")
    if not isinstance(values, list):
        raise where.error(key, f"must be a list of values (one per configuration), not {values!r}")
    if not values:
        raise where.error(key, "the list is empty; give at least one value")
    seen: list = []
    for value in values:
        parsed = check(where, key, stage, transform, name, value)
        if parsed in seen:
            raise where.error(key, f"lists {value!r} twice; give each value once")
        seen.append(parsed)
    return list(values)


def check(where: Where, key: str, stage: str, transform: str | None, name: str, value: Any):
    """One option value of one stage; returns it as the stage will see it."""
    if stage == "transform":
        return opt.transform_option(where, key, transform, name, value)
    if stage == "train":
        opt.train_option(where, key, name, value)
    else:
        opt.check_type(where, key, value, opt.SCALAR)
    return value


def text(value: Any) -> str:
    """A grid value as a configuration label shows it."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (bool, dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def load_experiment(path: Path, overrides: Sequence[str] = ()) -> Experiment:
    """Read and check a whole experiment file; the first problem is one line naming its key.

    `overrides` are `--set KEY=VALUE` texts, applied (then `[budget]` when `experiment.budget =
    true`) to the parsed TOML before any check.
    """
    from specrec.plan.overrides import apply, parse_override
    from specrec.plan.spec import experiment_settings, read_toml, resolve_train, shared_train

    path = Path(path)
    file = str(path)
    parsed = tuple(parse_override(text, SECTIONS) for text in overrides)
    data = read_toml(path)
    budget = apply(file, data, parsed, SECTIONS)
    for key, value in data.items():
        if not isinstance(value, dict):
            raise SpecrecError(f"{file}: {key}: belongs inside a section; the sections are "
                               f"{', '.join(f'[{s}]' for s in SECTIONS)}")
        if key not in SECTIONS:
            raise SpecrecError(f"{file}: [{key}]: unknown section; the sections are "
                               f"{', '.join(f'[{s}]' for s in SECTIONS)}")
    exp = Experiment(file=path, train=shared_train(path, data), **experiment_settings(path, data))
    exp.overrides = tuple(item.text for item in parsed)
    exp.budget = budget
    base = path.resolve().parent
    exp.datasets = datasets(file, data, exp.protocol, base)
    exp.encoders = encoders(file, data, base, exp.datasets)
    exp.backbones = backbones(file, data)
    exp.methods = methods(file, data)
    needs = next((m.name for m in exp.methods if m.transform is not None), None)
    for dataset in exp.datasets:
        if needs is not None and not exp.encoders_of(dataset.name):
            raise exp.where("encoders").error(
                None, f"method '{needs}' needs item embeddings of dataset '{dataset.name}'; add "
                      "an [encoders.NAME] table (encoder = ALIAS or path = EMBEDDINGS)")
    check_teacher_backbones(exp)
    for backbone in exp.backbones:
        for entry in exp.methods:
            for config in entry.configs:
                resolve_train(exp, backbone, entry, config)
            if entry.teacher:
                resolve_train(exp, *teacher_of(exp, backbone, entry))
    return exp

