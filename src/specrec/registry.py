"""A name -> entry registry, one per pluggable family (sources, encoders, transforms, backbones...)."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from specrec.errors import SpecrecError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names (and aliases) to entries; unknown names raise a `SpecrecError` listing the choices."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            for key in (name, *aliases):
                if key in self._entries or key in self._aliases:
                    raise ValueError(f"{self.family} '{key}' is registered twice")
            self._entries[name] = entry
            for alias in aliases:
                self._aliases[alias] = name
            return entry

        return add

    def canonical(self, name: str) -> str:
        """The registered name behind `name` (itself or the name it aliases)."""
        key = self._aliases.get(name, name)
        if key not in self._entries:
            raise SpecrecError(
                f"unknown {self.family} '{name}'; choose one of: {', '.join(self.names())}"
            )
        return key

    def get(self, name: str) -> T:
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
