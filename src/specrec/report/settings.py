"""Settings (a run's recorded config minus its seed) and the shortest labels telling them apart."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import TypeVar

from specrec.errors import SpecrecError
from specrec.runs.config import RUN_INPUT_OPTIONS, TrainConfig

T = TypeVar("T")
SEED = "seed"
PATH_FIELDS = ("table", "dataset")  # compared as normalised paths: `work/t` is `./work/t/`
NESTED = {"backbone_options": "backbone", "loss_options": "loss",
          "embedder_options": "embedder", "table_params": "table"}
IN_BASE_LABEL = ("backbone", "method")
TRAIN_FIELDS = [f.name for f in fields(TrainConfig) if f.name not in (SEED, *IN_BASE_LABEL)]
GREEK = {"lambda": "λ", "lam": "λ", "lambda_": "λ", "gamma": "γ", "alpha": "α", "beta": "β",
         "tau": "τ"}
LAMBDA_KEYS = ("lambda", "lam", "lambda_")
AUTO = "auto"
RESOLVED_LAMBDA = "lambda_value"  # what ACE records for λ "auto" (and for every other λ)
ID_ONLY = "ID-only"

Field = tuple[str, str, str]
"""(group prefix or "", field name, value as text) of one candidate label field."""


def setting_key(record: dict) -> str:
    """The identity of a run's setting: its whole recorded config except the seed. A run named
    as an input (an LLMEmb `teacher`) counts by its own setting, so students of seeds 0, 1, 2
    taught by the teacher of their own seed share one setting."""
    setting = {key: value for key, value in record.items() if key != SEED}
    for key in PATH_FIELDS:
        if setting.get(key):
            setting[key] = os.path.normpath(str(setting[key]))
    options = setting.get("embedder_options")
    if isinstance(options, dict) and any(options.get(name) for name in RUN_INPUT_OPTIONS):
        setting["embedder_options"] = {
            name: _input_run_setting(value) if name in RUN_INPUT_OPTIONS and value else value
            for name, value in options.items()}
    return json.dumps(setting, sort_keys=True, default=str)


def _input_run_setting(path: object) -> object:
    """The setting of the run at `path`, or the normalised path when it cannot be read."""
    from specrec.runs.store import read_run

    try:
        return json.loads(setting_key(read_run(str(path)).record))
    except SpecrecError:
        return os.path.normpath(str(path))


def group_by_setting(items: Iterable[T], record_of: Callable[[T], dict]) -> list[list[T]]:
    """Items whose records differ only in the seed, grouped in order of first appearance.

    Two items with the same setting and the same seed would be counted twice: an error naming
    both artifacts.
    """
    groups: dict[str, list[T]] = {}
    for item in items:
        record = record_of(item)
        members = groups.setdefault(setting_key(record), [])
        for other in members:
            if record_of(other).get(SEED) == record.get(SEED):
                raise SpecrecError(
                    f"'{other.path}' and '{item.path}' are the same run (one setting, seed "
                    f"{record.get(SEED)}); pass each once"
                )
        members.append(item)
    return list(groups.values())


def lambda_of(params: dict) -> float | str | None:
    """λ of a table's params: a number, "auto" when it was not resolved, None when it has none."""
    for key in LAMBDA_KEYS:
        value = params.get(key)
        if value is None:
            continue
        if isinstance(value, str) and value.strip().lower() == AUTO:
            resolved = params.get(RESOLVED_LAMBDA)
            return float(resolved) if isinstance(resolved, (int, float)) else AUTO
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return None


def lambda_text(params: dict) -> str:
    """`λ=50`, or for λ "auto" `λ=auto (=12.3)` with the value the transform resolved ("" when
    the params have no λ)."""
    value = next((params[key] for key in LAMBDA_KEYS if params.get(key) is not None), None)
    return "" if value is None else f"λ={_text(LAMBDA_KEYS[0], value, params)}"


def _text(name: str, value: object, params: dict) -> str:
    """A value as a label shows it: numbers with :g, JSON for lists and dicts, λ auto resolved."""
    if name in LAMBDA_KEYS and isinstance(value, str) and value.strip().lower() == AUTO:
        resolved = params.get(RESOLVED_LAMBDA)
        return f"{AUTO} (={resolved:.3g})" if isinstance(resolved, (int, float)) else AUTO
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def run_base_label(record: dict) -> str:
    """`backbone · method`, the method being "ID-only" for a run without a table."""
    return f"{record.get('backbone') or '?'} · {record.get('method') or ID_ONLY}"


def run_fields(record: dict) -> dict[str, Field]:
    """A run's candidate label fields in the order they are tried: encoder, fusion, the method's
    own options, the training options, the table's other parameters, then every other field."""
    params = record.get("table_params") or {}
    out: dict[str, Field] = {}

    def put(key: str, prefix: str, name: str, value: object) -> None:
        out.setdefault(key, (prefix, name, _text(name, value, params)))

    for name in ("encoder", "fusion"):
        if name in record:
            put(name, "", name, record[name])
    for name in declared_options(record.get("method")):
        if name in params:
            put(f"table_params.{name}", NESTED["table_params"], name, params[name])
    for name in [*TRAIN_FIELDS, "table_params", *record]:
        if name not in record or name in (SEED, *IN_BASE_LABEL):
            continue
        value = record[name]
        if name in NESTED and isinstance(value, dict):
            for sub in sorted(value):
                put(f"{name}.{sub}", NESTED[name], sub, value[sub])
        else:
            put(name, "", name, value)
    return out


def transform_fields(method: str, params: dict, encoder: object, inputs: dict) -> dict[str, Field]:
    """A transform's candidate label fields: encoder, its declared options, its other parameters,
    then the paths of its inputs."""
    out: dict[str, Field] = {}
    if encoder is not None:
        out["encoder"] = ("", "encoder", _text("encoder", encoder, params))
    for name in [*declared_options(method), *sorted(params)]:
        if name in params:
            out.setdefault(name, ("", name, _text(name, params[name], params)))
    for name, ref in sorted(inputs.items()):
        if isinstance(ref, dict) and ref.get("path"):
            out.setdefault(f"input.{name}", ("", name, str(ref["path"])))
    return out


def declared_options(method: object) -> list[str]:
    """The options the transform method takes, in its declared order ([] when unknown)."""
    from specrec.transform import methods  # noqa: F401  (registers every method)
    from specrec.transform.base import TRANSFORMS

    if not isinstance(method, str) or method not in TRANSFORMS:
        return []
    return [option.name for option in TRANSFORMS.get(method).options]


def distinguishing_parts(bases: list[str], candidates: list[dict[str, Field]]) -> list[list[str]]:
    """Per item, the `name=value` parts that tell it apart from the items sharing its base label.

    Fields are tried in order and one is kept when it splits items that still look alike; then a
    kept field is dropped again, the last tried first, when the others still tell every item
    apart. Every item of a base label shows the same fields (an item that lacks one shows
    nothing for it).
    """
    parts: list[list[str]] = [[] for _ in bases]
    for base in dict.fromkeys(bases):
        members = [i for i, b in enumerate(bases) if b == base]
        if len(members) < 2:
            continue
        keys = list(dict.fromkeys(key for i in members for key in candidates[i]))
        chosen: list[str] = []
        for key in keys:
            distinct = _looks(candidates, members, chosen)
            if distinct == len(members):
                break
            if _looks(candidates, members, [*chosen, key]) > distinct:
                chosen.append(key)
        enough = _looks(candidates, members, chosen)
        for key in reversed(list(chosen)):
            fewer = [k for k in chosen if k != key]
            if fewer and _looks(candidates, members, fewer) == enough:
                chosen = fewer
        names = _display_names(keys, [candidates[i] for i in members])
        for i in members:
            parts[i] = [f"{names[k]}={candidates[i][k][2]}" for k in chosen if k in candidates[i]]
    return parts


def varying_parts(method: object, candidates: list[dict[str, Field]]) -> list[list[str]]:
    """Per configuration of one group, `name=value` for every hyperparameter that varies within
    the group, in the order fields are tried (e.g. `λ=50, lr=0.0005`).

    A hyperparameter is any recorded option except the paths and the table parameters the method
    does not declare (values it derived, such as γ or the resolved λ; `dim` is kept). Where the
    configurations differ in nothing else, the shortest distinguishing fields are shown instead.
    """
    declared = {f"table_params.{name}" for name in [*declared_options(method), "dim"]}
    keys = [key for key in dict.fromkeys(k for c in candidates for k in c)
            if key not in PATH_FIELDS and (not key.startswith("table_params.") or key in declared)
            and len({c.get(key, ("", "", None))[2] for c in candidates}) > 1]
    if _looks(candidates, list(range(len(candidates))), keys) < len(candidates):
        return distinguishing_parts([""] * len(candidates), candidates)
    names = _display_names(keys, candidates)
    return [[f"{names[k]}={c[k][2]}" for k in keys if k in c] for c in candidates]


def _looks(candidates: list[dict[str, Field]], members: list[int], keys: list[str]) -> int:
    """How many different items the members look like when only `keys` are shown."""
    return len({tuple(candidates[i].get(k, ("", "", None))[2] for k in keys) for i in members})


def _display_names(keys: list[str], candidates: list[dict[str, Field]]) -> dict[str, str]:
    """Each field's name (Greek for λ γ α β τ), prefixed by its group where two fields share it."""
    found = {key: next(c[key] for c in candidates if key in c) for key in keys}
    short = {key: GREEK.get(name, name) for key, (_, name, _) in found.items()}
    taken = list(short.values())
    return {key: f"{found[key][0]} {name}" if taken.count(name) > 1 and found[key][0] else name
            for key, name in short.items()}


def join_label(base: str, parts: list[str]) -> str:
    return f"{base} {', '.join(parts)}" if parts else base


def unique_labels(labels: list[str], fallbacks: list[str]) -> list[str]:
    """Labels still shared (values that print alike) get their artifact's name appended."""
    return [f"{label} [{fallback}]" if labels.count(label) > 1 else label
            for label, fallback in zip(labels, fallbacks)]


def setting_labels(records: list[dict], fallbacks: list[str]) -> list[str]:
    """One label per setting (one record each): `backbone · method`, then the fields that tell
    settings with that base apart, e.g. `sasrec · ace λ=10` and `sasrec · ace λ=100`."""
    bases = [run_base_label(record) for record in records]
    parts = distinguishing_parts(bases, [run_fields(record) for record in records])
    return unique_labels([join_label(b, p) for b, p in zip(bases, parts)], fallbacks)
