"""The experiment file: a TOML file parsed into typed specs, every name and option checked first."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specrec.errors import SpecrecError
from specrec.plan.options import Where

try:  # Python >= 3.11; on 3.10 the `tomli` package is the same parser
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - the project's venv is 3.11
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*$")
SECTIONS = ("experiment", "train", "datasets", "encoders", "backbones", "methods", "budget")
EXPERIMENT_KEYS = ("name", "protocol", "valid_metric", "seeds", "two_stage", "tune_seeds", "ks",
                   "device", "threads", "budget")


@dataclass(frozen=True)
class Dataset:
    """`[datasets.NAME]`: raw files to preprocess (`source`) or an existing artifact (`path`)."""

    name: str
    path: Path | None = None
    source: str | None = None
    options: dict = field(default_factory=dict)  # preprocess options; `paths` made absolute


@dataclass(frozen=True)
class Encoder:
    """`[encoders.NAME]`: an encoder alias with embed options, or an existing embeddings `path`."""

    name: str
    alias: str | None = None
    options: dict = field(default_factory=dict)
    path: Path | None = None
    dataset: str | None = None  # the one dataset an embeddings `path` was made from


@dataclass(frozen=True)
class Backbone:
    """`[backbones.NAME]`: a registered backbone, its options and its train overrides."""

    name: str
    backbone: str
    options: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    """One configuration of a method: each stage's options, fixed values and one grid point."""

    index: int
    label: str  # the grid values, e.g. "lambda=10, lr=0.001" ("default" without a grid)
    transform: dict
    train: dict
    embedder: dict
    varied: dict  # "stage.option" -> value, for the grid axes only
    origins: dict  # train option -> the key that set it, e.g. "grid.train.lr"


@dataclass(frozen=True)
class Teacher:
    """A method's `teacher = {...}`: the ID-only run whose item table each run aligns to.

    One teacher run per dataset × seed (the student's seed) on `backbone` (a [backbones.NAME]
    table; None: the student's own), with the shared train options and `train` over them; a
    teacher equal to a run the experiment trains anyway is that run (same folder).
    """

    backbone: str | None = None
    train: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """`[methods.NAME]`: a transform (None: ID-only) and its configurations, in grid order."""

    name: str
    transform: str | None
    configs: tuple[Config, ...]
    teacher: Teacher | None = None


@dataclass
class Experiment:
    """A whole experiment file, checked; paths in it are resolved against the file's folder."""

    file: Path
    name: str
    protocol: str
    valid_metric: str
    seeds: tuple[int, ...]
    two_stage: bool
    tune_seeds: tuple[int, ...]
    ks: tuple[int, ...]
    device: str
    threads: int | None
    train: dict
    datasets: tuple[Dataset, ...] = ()
    encoders: tuple[Encoder, ...] = ()
    backbones: tuple[Backbone, ...] = ()
    methods: tuple[Method, ...] = ()
    overrides: tuple[str, ...] = ()  # the `--set KEY=VALUE` texts applied (plan.json records them)
    budget: bool = False  # whether `[budget]` was applied (experiment.budget = true)

    @property
    def run_seeds(self) -> tuple[int, ...]:
        """Every seed some run is trained with: the seeds, then tuning seeds not among them."""
        return (*self.seeds, *(s for s in self.tune_seeds if s not in self.seeds))

    def encoders_of(self, dataset: str) -> list[Encoder]:
        return [e for e in self.encoders if e.dataset in (None, dataset)]

    def where(self, section: str) -> Where:
        return Where(str(self.file), section)


def read_toml(path: Path) -> dict:
    """The parsed file; unreadable, non-UTF-8 or malformed TOML is one line naming the file."""
    file = str(path)
    if tomllib is None:
        raise SpecrecError(f"{file}: reading TOML needs Python >= 3.11 (tomllib) or the tomli "
                           "package; pip install tomli")
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise SpecrecError(f"{file}: cannot read the experiment file ({exc.strerror or exc})")
    except UnicodeDecodeError:
        raise SpecrecError(f"{file}: is not UTF-8 text; an experiment file is TOML") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecrecError(f"{file}: malformed TOML: {' '.join(str(exc).split())}") from None


def table_of(where: Where, key: str | None, value: Any) -> dict:
    if not isinstance(value, dict):
        raise where.error(key, f"must be a table (KEY = VALUE lines or {{...}}), not {value!r}")
    return value


def refuse_unknown(where: Where, table: dict, allowed: tuple[str, ...], prefix: str = "") -> None:
    for key in table:
        if key not in allowed:
            raise where.error(f"{prefix}{key}", f"unknown key; use {', '.join(allowed)}")


def check_name(where: Where, key: str | None, name: Any) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise where.error(key, f"the name {name!r} must be letters, digits, '_', '.' or '-' "
                               "(it becomes part of file names)")
    return name


def int_list(where: Where, key: str, value: Any, low: int) -> tuple[int, ...]:
    """A non-empty list of distinct integers >= low."""
    if not isinstance(value, list):
        raise where.error(key, f"must be a list of whole numbers, e.g. [0, 1, 2], not {value!r}")
    if not value:
        raise where.error(key, "the list is empty; give at least one value")
    for item in value:
        if not isinstance(item, int) or isinstance(item, bool) or item < low:
            raise where.error(key, f"{item!r} is not a whole number >= {low}")
    if len(set(value)) != len(value):
        raise where.error(key, "lists a value twice; give each once")
    return tuple(value)


def experiment_settings(file: Path, data: dict) -> dict:
    """The keys of `[experiment]`, checked, with their defaults."""
    from specrec import devices
    from specrec.data.splits import PROTOCOLS
    from specrec.evaluate.metrics import parse_metric
    from specrec.runs.config import TrainConfig

    where = Where(str(file), "experiment")
    if "experiment" not in data:
        raise where.error(None, "missing; an experiment file needs [experiment] with seeds")
    table = table_of(where, None, data["experiment"])
    refuse_unknown(where, table, EXPERIMENT_KEYS)
    name = check_name(where, "name", table.get("name", file.stem))
    protocol = table.get("protocol", "loo")
    try:
        protocol = PROTOCOLS.canonical(protocol)
    except (SpecrecError, TypeError) as exc:
        raise where.error("protocol", str(exc)) from None
    metric = table.get("valid_metric", "ndcg@10")
    try:
        base, k = parse_metric(str(metric).lower())
    except SpecrecError as exc:
        raise where.error("valid_metric", str(exc)) from None
    if k not in TrainConfig().ks:
        raise where.error("valid_metric", f"train validates at K = {TrainConfig().ks}; choose "
                                          f"{base}@10 or {base}@20")
    seeds = int_list(where, "seeds", table.get("seeds"), 0) if "seeds" in table else None
    if seeds is None:
        raise where.error("seeds", "missing; give the seeds to train, e.g. seeds = [0, 1, 2]")
    two_stage = table.get("two_stage", False)
    if not isinstance(two_stage, bool):
        raise where.error("two_stage", f"must be true or false, not {two_stage!r}")
    if "tune_seeds" in table and not two_stage:
        raise where.error("tune_seeds", "applies only with two_stage = true")
    tune = int_list(where, "tune_seeds", table["tune_seeds"], 0) if "tune_seeds" in table \
        else seeds[:1]
    device = table.get("device", "auto")
    try:
        devices.check_device_name(str(device))
    except SpecrecError as exc:
        raise where.error("device", str(exc)) from None
    threads = table.get("threads")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool)
                                or threads < 1):
        raise where.error("threads", f"must be a whole number >= 1, not {threads!r}")
    return dict(name=name, protocol=protocol, valid_metric=f"{base}@{k}", seeds=seeds,
                two_stage=two_stage, tune_seeds=tune if two_stage else (),
                ks=int_list(where, "ks", table.get("ks", [10, 20]), 1), device=str(device),
                threads=threads)


def shared_train(file: Path, data: dict) -> dict:
    """`[train]`: train options every run shares (a backbone or method may override them)."""
    from specrec.plan.options import train_option

    where = Where(str(file), "train")
    table = dict(table_of(where, None, data.get("train", {})))
    for name, value in table.items():
        train_option(where, name, name, value)
    return table


def resolve_train(exp: Experiment, backbone: Backbone, method: Method, config: Config,
                  seed: int = 0) -> tuple[dict, Any]:
    """The train options a run is given ([train] < backbone < method), and its TrainConfig."""
    from specrec.plan.options import loss_options
    from specrec.runs.config import TrainConfig

    given = {**exp.train, **backbone.train, **config.train}
    origin = {name: (exp.where("train"), name) for name in exp.train}
    origin.update({name: (exp.where(f"backbones.{backbone.name}"), f"train.{name}")
                   for name in backbone.train})
    origin.update({name: (exp.where(f"methods.{method.name}"), config.origins[name])
                   for name in config.train})
    resolved = TrainConfig(backbone=backbone.backbone, backbone_options=dict(backbone.options),
                           embedder_options=dict(config.embedder), valid_metric=exp.valid_metric,
                           seed=seed, **given)
    try:
        resolved.validate()
    except SpecrecError as exc:
        raise exp.where(f"methods.{method.name}").error(
            None, f"configuration '{config.label}' on backbone '{backbone.name}': {exc}") from None
    if "loss_options" in given:
        where, key = origin["loss_options"]
        loss_options(where, key, resolved.loss, resolved.loss_options)
    return given, resolved


def train_key(resolved: Any) -> dict:
    """A TrainConfig as the run's hash sees it: every resolved field but the seed."""
    record = resolved.record()
    record.pop("seed")
    return record
