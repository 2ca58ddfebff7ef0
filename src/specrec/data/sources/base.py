"""The source contract: `RawData`, the `Source` base class and the SOURCES registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from specrec.errors import SpecrecError
from specrec.registry import Registry

INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp")
"""Required columns of `RawData.interactions`; `rating` (float64) is optional."""


@dataclass
class RawData:
    """What every source returns.

    - `interactions`: `user_id:str, item_id:str, timestamp:int64` (seconds UTC), optional
      `rating:float64`, in the order of the raw file.
    - `items`: `item_id:str` plus string metadata columns, one row per item id (may be empty).
    """

    interactions: pl.DataFrame
    items: pl.DataFrame


class Source:
    """A raw format. `locate` finds the files (cheap; their bytes are fingerprinted), `read` parses.

    Sources that take a column mapping list its keys in `column_keys` and defaults in
    `default_columns`; `required_columns` must be present after merging. With `every_field`,
    `read` keeps every metadata field of the item file in the order first seen (LLMEmb's
    attribute prompt lists them), not only those of the default template; `prompt_dropped_keys`
    are the fields that prompt leaves out.
    """

    name: str = ""
    column_keys: tuple[str, ...] = ()
    default_columns: dict[str, str] = {}
    required_columns: tuple[str, ...] = ()
    prompt_dropped_keys: tuple[str, ...] = ()

    def __init__(self, every_field: bool = False) -> None:
        self.every_field = every_field

    def resolve_columns(self, columns: dict[str, str] | None) -> dict[str, str] | None:
        """The column mapping with defaults filled in (None for sources that take none)."""
        if not self.column_keys:
            if columns:
                raise SpecrecError(
                    f"source {self.name} takes no --column mapping "
                    "(only csv, parquet and recbole do); drop --column"
                )
            return None
        unknown = sorted(set(columns or {}) - set(self.column_keys))
        if unknown:
            raise SpecrecError(
                f"unknown column role(s) {unknown}; use {', '.join(self.column_keys)} "
                "(--column ROLE=NAME)"
            )
        resolved = {**self.default_columns, **(columns or {})}
        missing = [key for key in self.required_columns if not resolved.get(key)]
        if missing:
            raise SpecrecError(
                f"the {', '.join(missing)} column(s) must be named; pass --column {missing[0]}=NAME"
            )
        return resolved

    def locate(self, paths: list[Path], columns: dict[str, str] | None) -> dict[str, Path]:
        """Role ('interactions', 'items', ...) -> file to read; raises SpecrecError if none fit."""
        raise NotImplementedError

    def default_template(self, files: dict[str, Path], columns: dict[str, str] | None) -> str:
        """The item text template used when the user gives none ('' = no item text)."""
        raise NotImplementedError

    def prompt_noun(self, files: dict[str, Path]) -> str:
        """What LLMEmb's prompt calls an item: 'The <noun> has the following attributes'."""
        return "item"

    def read(self, files: dict[str, Path], columns: dict[str, str] | None) -> RawData:
        raise NotImplementedError


SOURCES: Registry[type[Source]] = Registry("source")
