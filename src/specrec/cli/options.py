"""Helpers shared by CLI commands: `key=value` option parsing and result tables."""

from __future__ import annotations

import json

from rich.table import Table

from specrec.errors import SpecrecError


def parse_key_values(pairs: list[str] | None, what: str) -> dict:
    """['n_layers=2', 'tau=0.1', 'cover=true'] -> {'n_layers': 2, 'tau': 0.1, 'cover': True}."""
    parsed: dict = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SpecrecError(f"{what} '{pair}' is not KEY=VALUE")
        try:
            value = json.loads(raw.lower() if raw.lower() in ("true", "false", "null") else raw)
        except json.JSONDecodeError:
            value = raw
        parsed[key.replace("-", "_")] = value
    return parsed


def metrics_table(title: str, metrics: dict[str, float]) -> Table:
    table = Table(title=title)
    for name in metrics:
        table.add_column(name, justify="right")
    table.add_row(*(f"{v:.4f}" for v in metrics.values()))
    return table
