"""`--set KEY=VALUE` and the `[budget]` table: dotted TOML keys changed before validation."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from specrec.errors import SpecrecError

BUDGET = "budget"
DROP = "drop"  # [budget] drop = ["backbones.bert4rec", ...]: tables removed in budget mode
PATH_KEYS = ("path", "paths")  # under [datasets.*] / [encoders.*]: relative to the current folder
EXAMPLE = "e.g. --set experiment.seeds=[0,1] or --set train.dim=128"


@dataclass(frozen=True)
class Override:
    """One `--set`: the key's parts, the parsed value, and its text as plan.json records it."""

    parts: tuple[str, ...]
    value: Any
    text: str


def _toml():
    from specrec.plan.spec import tomllib

    if tomllib is None:  # pragma: no cover - the project's venv is 3.11
        raise SpecrecError("--set needs Python >= 3.11 (tomllib) or the tomli package")
    return tomllib


def key_parts(key: str) -> tuple[str, ...] | None:
    """A dotted TOML key (bare or quoted parts) as its parts; None when it is not one."""
    toml = _toml()
    if not key.strip() or any(c in key for c in "\n\r#=[]{}"):
        return None
    try:
        data = toml.loads(f"{key} = 0")
    except toml.TOMLDecodeError:
        return None
    parts: list[str] = []
    while isinstance(data, dict):
        if len(data) != 1:
            return None
        (name, data), = data.items()
        parts.append(name)
    return tuple(parts) if data == 0 else None


def parse_value(text: str) -> Any:
    """A TOML value (`[0,1]`, `"x"`, `50`, `true`, `{a = 1}`); anything else is the string."""
    toml = _toml()
    if "\n" not in text and "\r" not in text:
        try:
            data = toml.loads(f"value = {text}")
        except toml.TOMLDecodeError:
            data = None
        if isinstance(data, dict) and list(data) == ["value"]:
            return data["value"]
    return text


def parse_override(text: str, sections: tuple[str, ...], *, cwd: str | None = None) -> Override:
    """One `--set KEY=VALUE`; a malformed one is a one-line error naming it."""
    key, equals, raw = str(text).partition("=")
    if "\n" in text or "\r" in text:
        raise SpecrecError(f"--set {text!r}: a KEY=VALUE is one line")
    if not equals:
        raise SpecrecError(f"--set {text!r}: expected KEY=VALUE with a dotted TOML key, "
                           f"{EXAMPLE}")
    parts = key_parts(key.strip())
    if parts is None:
        raise SpecrecError(f"--set {text!r}: {key.strip()!r} is not a dotted TOML key, {EXAMPLE}")
    if parts[0] not in sections:
        raise SpecrecError(f"--set {text!r}: unknown section '{parts[0]}'; the sections are "
                           f"{', '.join(sections)}")
    if len(parts) < 2:
        raise SpecrecError(f"--set {text!r}: name a key inside [{parts[0]}], e.g. "
                           f"{parts[0]}.KEY=VALUE")
    value = parse_value(raw.strip())
    normalized = f"{key.strip()}={raw.strip()}"
    if parts[0] in ("datasets", "encoders") and parts[-1] in PATH_KEYS and len(parts) == 3:
        value = absolute(value, cwd or os.getcwd())
        normalized = f"{key.strip()}={json.dumps(value)}"
    return Override(parts, value, normalized)


def absolute(value: Any, cwd: str) -> Any:
    """A `path`/`paths` value given on the command line, made absolute against `cwd`."""
    if isinstance(value, str):
        return os.path.normpath(os.path.join(cwd, value))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [absolute(v, cwd) for v in value]
    return value


def assign(data: dict, parts: tuple[str, ...], value: Any, origin: str) -> None:
    """data[parts[0]][parts[1]]... = value, making tables on the way."""
    table = data
    for depth, part in enumerate(parts[:-1]):
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise SpecrecError(f"{origin}: '{'.'.join(parts[:depth + 1])}' is a value, not a "
                               "table; it has no keys to set")
    table[parts[-1]] = value


def remove(data: dict, parts: tuple[str, ...]) -> bool:
    """Delete data[parts...]; False when it is not there."""
    table = data
    for part in parts[:-1]:
        table = table.get(part)
        if not isinstance(table, dict):
            return False
    return table.pop(parts[-1], None) is not None


def leaves(table: dict, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """A [budget] table's (key parts, value) pairs; tables are merged key by key."""
    out = []
    for name, value in table.items():
        if isinstance(value, dict) and value:
            out += leaves(value, (*prefix, name))
        else:
            out.append(((*prefix, name), value))
    return out


def apply(file: str, data: dict, overrides: tuple[Override, ...],
          sections: tuple[str, ...]) -> bool:
    """Apply `--set` then, when `experiment.budget = true`, `[budget]` (the `--set` values win).

    Returns whether the budget was applied. `data` is changed in place.
    """
    for item in overrides:
        assign(data, item.parts, item.value, f"--set {item.text!r}")
    experiment = data.get("experiment")
    flag = experiment.get(BUDGET, False) if isinstance(experiment, dict) else False
    if not isinstance(flag, bool):
        raise SpecrecError(f"{file}: [experiment] {BUDGET}: must be true or false, not {flag!r}")
    budget = data.pop(BUDGET, None)
    if budget is not None and not isinstance(budget, dict):
        raise SpecrecError(f"{file}: {BUDGET}: must be a table ([budget] with dotted keys)")
    if not flag:
        return False
    if not budget:
        raise SpecrecError(f"{file}: [experiment] {BUDGET}: is true but the file has no [budget] "
                           "table of dotted keys to apply")
    drops = budget.pop(DROP, [])
    if not isinstance(drops, list) or not all(isinstance(d, str) for d in drops):
        raise SpecrecError(f"{file}: [budget] {DROP}: must be a list of dotted keys, e.g. "
                           "[\"backbones.bert4rec\"]")
    for parts, value in leaves(budget):
        if parts[0] not in sections or parts[0] == BUDGET:
            raise SpecrecError(f"{file}: [budget] {'.'.join(parts)}: unknown section "
                               f"'{parts[0]}'; a [budget] key starts with one of "
                               f"{', '.join(s for s in sections if s != BUDGET)}")
        if len(parts) < 2:
            raise SpecrecError(f"{file}: [budget] {parts[0]}: name a key inside [{parts[0]}]")
        assign(data, parts, value, f"{file}: [budget] {'.'.join(parts)}")
    for drop in drops:
        parts = key_parts(drop)
        if parts is None or not remove(data, parts):
            raise SpecrecError(f"{file}: [budget] {DROP}: {drop!r} names nothing in the file")
    for item in overrides:  # a --set beats the budget
        assign(data, item.parts, item.value, f"--set {item.text!r}")
    return True
