"""Checks of an experiment's options against what each specrec stage accepts, before any work."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from specrec.errors import SpecrecError

TRANSFORM_SEED = "seed"  # `transform --seed`: not a method option, but a transform option here
EMBED_OPTIONS = {"model": "str", "pooling": "str", "padding_side": "str", "max_length": "int",
                 "prompt": "str", "normalize": "bool", "batch_size": "int", "dtype": "str"}
PREPROCESS_OPTIONS = {"paths": "list", "min_user": "int", "min_item": "int",
                      "rating_threshold": "float", "text_template": "str", "columns": "dict",
                      "valid_cutoff": "float", "test_cutoff": "float", "seed": "int",
                      "user_order": "str"}
TRAIN_ELSEWHERE = {  # TrainConfig fields an experiment sets in another place
    "backbone": "the backbone comes from [backbones.NAME] backbone",
    "backbone_options": "backbone options go in [backbones.NAME] options",
    "embedder_options": "item-embedder options go in the method's embedder table "
                        "(embedder.KEY or grid.embedder.KEY)",
    "seed": "seeds are [experiment] seeds",
    "valid_metric": "the validation metric is [experiment] valid_metric",
    "ks": "train validates at K = 10 and 20; evaluation cut-offs are [experiment] ks",
}
SCALAR = "bool | int | float | str"
KIND_NAMES = {"int": "a whole number", "float": "a number", "str": "a string",
              "bool": "true or false", "dict": "a table", "list": "a list"}


class Where:
    """A place in the experiment file, for one-line errors: `FILE: [section] key: what`."""

    def __init__(self, file: str, section: str) -> None:
        self.file = file
        self.section = section

    def error(self, key: str | None, what: str) -> SpecrecError:
        place = f"[{self.section}] {key}" if key else f"[{self.section}]"
        return SpecrecError(f"{self.file}: {place}: {' '.join(str(what).split())}")


def _is(value: Any, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return number and math.isfinite(value)
    if kind == "str":
        return isinstance(value, str)
    if kind == "dict":
        return isinstance(value, dict)
    if kind.startswith("list"):
        return isinstance(value, list)
    return kind not in ("None",)  # an annotation we do not know: the stage checks the value


def check_type(where: Where, key: str, value: Any, annotation: str) -> None:
    """Refuse a value that is none of the types of a field annotation such as `int | None`."""
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    kinds = [part.strip() for part in text.split("|") if part.strip() != "None"]
    if not any(_is(value, kind) for kind in kinds):
        names = " or ".join(KIND_NAMES.get(k.partition("[")[0], k) for k in kinds)
        raise where.error(key, f"must be {names}, not {value!r}")


def check_scalars(where: Where, key: str, table: Any) -> dict:
    """A table of KEY = VALUE options whose values are numbers, strings or booleans."""
    if not isinstance(table, dict):
        raise where.error(key, f"must be a table of options (KEY = VALUE), not {table!r}")
    for name, value in table.items():
        check_type(where, f"{key}.{name}", value, SCALAR)
    return dict(table)


def transform_option(where: Where, key: str, method: str, name: str, value: Any) -> Any:
    """One transform option parsed as the transform stage parses it (one value, never a sweep)."""
    from specrec.transform import methods  # noqa: F401  (registers every method)
    from specrec.transform.base import TRANSFORMS

    options = {option.name: option for option in TRANSFORMS.get(method).options}
    if name == "dim":
        raise where.error(key, "the table width is the train option dim ([train] dim or "
                               "grid.train.dim); the transform uses it too")
    if name == TRANSFORM_SEED:
        check_type(where, key, value, "int")
        if value < 0:
            raise where.error(key, f"must be >= 0, not {value}")
        return value
    if name not in options:
        taken = ", ".join([*options, TRANSFORM_SEED])
        raise where.error(key, f"{method} has no option '{name}'; its options are {taken}")
    try:
        parsed = options[name].parse(value)
    except (ValueError, TypeError) as exc:
        raise where.error(key, f"{value!r} is not a valid {name} for {method}: {exc}") from None
    except SpecrecError as exc:
        raise where.error(key, str(exc)) from None
    if isinstance(parsed, tuple):
        raise where.error(key, f"one {name} per configuration; list several in "
                               f"grid.transform.{name}")
    return parsed


def train_option(where: Where, key: str, name: str, value: Any) -> None:
    """One `TrainConfig` option, checked alone so that an error names its key."""
    from specrec.models.losses import LOSSES
    from specrec.runs.config import TrainConfig

    known = {field.name: field for field in fields(TrainConfig)}
    if name in TRAIN_ELSEWHERE:
        raise where.error(key, TRAIN_ELSEWHERE[name])
    if name not in known:
        allowed = ", ".join(n for n in known if n not in TRAIN_ELSEWHERE)
        raise where.error(key, f"train has no option '{name}'; its options are {allowed}")
    check_type(where, key, value, known[name].type)
    if name == "loss":
        try:
            LOSSES.canonical(value)
        except SpecrecError as exc:
            raise where.error(key, str(exc)) from None
    if name == "loss_options":
        check_scalars(where, key, value)
        return
    try:
        TrainConfig(**{name: value}).validate()
    except SpecrecError as exc:
        raise where.error(key, str(exc)) from None


def loss_options(where: Where, key: str, loss: str, options: dict) -> None:
    """The options of `loss` that the loss takes (checked once a configuration is complete)."""
    from specrec.models.losses import LOSSES

    known = [field.name for field in fields(LOSSES.get(loss).Config)]
    for name in options:
        if name not in known:
            raise where.error(f"{key}.{name}", f"loss {loss} has no option '{name}'; its "
                                               f"options are {', '.join(known) or 'none'}")


def backbone_option(where: Where, key: str, backbone: str, name: str, value: Any) -> None:
    """One option of a backbone's config (dim and max_len are train options)."""
    from specrec.models.base import BACKBONES

    known = {f.name: f for f in fields(BACKBONES.get(backbone).Config)}
    if name in ("dim", "max_len"):
        raise where.error(key, f"{name} is a train option ([train] {name}); the backbone gets it "
                               "from there")
    if name not in known:
        allowed = ", ".join(n for n in known if n not in ("dim", "max_len"))
        raise where.error(key, f"backbone {backbone} has no option '{name}'; its options are "
                               f"{allowed}")
    check_type(where, key, value, known[name].type)


def embed_option(where: Where, key: str, name: str, value: Any) -> None:
    """One `specrec embed` option (the device is [experiment] device)."""
    from specrec.embed.encoders.resolve import PADDING_SIDES, POOLINGS

    if name not in EMBED_OPTIONS:
        raise where.error(key, f"embed has no option '{name}'; its options are "
                               f"{', '.join(EMBED_OPTIONS)} (or path = EMBEDDINGS)")
    check_type(where, key, value, EMBED_OPTIONS[name])
    choices = {"pooling": POOLINGS, "padding_side": PADDING_SIDES, "dtype": ("float32", "float16")}
    if name in choices and value not in choices[name]:
        raise where.error(key, f"'{value}' is not one of {', '.join(choices[name])}")
    if name in ("max_length", "batch_size") and value < 1:
        raise where.error(key, f"must be >= 1, not {value}")


def preprocess_option(where: Where, key: str, name: str, value: Any) -> None:
    """One `specrec preprocess` option (the protocol is [experiment] protocol)."""
    if name not in PREPROCESS_OPTIONS:
        raise where.error(key, f"preprocess has no option '{name}'; its options are "
                               f"{', '.join(PREPROCESS_OPTIONS)}")
    check_type(where, key, value, PREPROCESS_OPTIONS[name])
    if name == "paths" and not all(isinstance(item, str) for item in value):
        raise where.error(key, "must be a list of file or folder names")
    if name == "columns":
        for role, column in value.items():
            check_type(where, f"{key}.{role}", column, "str")
    if name in ("min_user", "min_item", "seed") and value < 0:
        raise where.error(key, f"must be >= 0, not {value}")
