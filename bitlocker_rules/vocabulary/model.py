"""The vocabulary as a whole: every declared fact by name with its converter, the enumerations,
Windows release names, role grants and scenarios; values shown in the admin's words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from attrs import field, frozen

from ..versions import WindowsVersion
from .conversion import Converter, parse_typed, value_converter
from .declarations import EnumType, Fact, Grant, Scenario, frozen_map


def _grant_tuple(grants: Iterable[Grant]) -> tuple[Grant, ...]:
    return tuple(grants)


@frozen
class Vocabulary:
    """Every fact a rule may name, the enumerations, Windows release names, role grants and scenarios."""

    facts: Mapping[str, Fact] = field(converter=frozen_map)
    enums: Mapping[str, EnumType] = field(converter=frozen_map)
    releases: Mapping[str, WindowsVersion] = field(converter=frozen_map)
    origin: str = "<vocabulary>"
    grants: tuple[Grant, ...] = field(default=(), converter=_grant_tuple)
    scenarios: Mapping[str, Scenario] = field(factory=frozen_map, converter=frozen_map)
    # One converter per fact, built once (see ``value_converter``): what fleets type values with.
    converters: Mapping[str, Converter] = field(init=False, eq=False, repr=False)
    # A digest of the file it was loaded from ("" when built in code): rulesets checked against
    # it can be kept between runs under that digest (see ``cache``).
    fingerprint: str = field(default="", eq=False, repr=False, kw_only=True)

    def __attrs_post_init__(self) -> None:
        converters = {name: value_converter(f.type, self.releases) for name, f in self.facts.items()}
        object.__setattr__(self, "converters", MappingProxyType(converters))

    def fact(self, name: str) -> Fact | None:
        """The declared fact called ``name``, or None."""
        return self.facts.get(name)

    def parse_value(self, fact: Fact, raw: Any) -> Any:
        """Turn a raw input value into the typed value of ``fact``; ValueError says what was expected."""
        if self.facts.get(fact.name) is fact:
            return self.converters[fact.name](raw)
        return parse_typed(fact.type, raw, self.releases)

    def display(self, fact: Fact, value: Any) -> str:
        """A value as the admin reads it (enum members by their Intune label)."""
        if fact.type.enum is not None and isinstance(value, str):
            return fact.member_label(value)
        if isinstance(value, bool):
            return fact.member_labels.get(str(value).lower(), "Yes" if value else "No")
        if isinstance(value, tuple) and fact.type.kind == "collection":
            return f"{len(value)} {fact.item_label or 'item'}{'' if len(value) == 1 else 's'}"
        if isinstance(value, WindowsVersion):
            return self.display_version(value)
        return str(value)

    def display_version(self, version: WindowsVersion) -> str:
        """A version with the release it belongs to, e.g. ``10.0.17134.0 (1803)``."""
        shipped = [(v, name) for name, v in self.releases.items() if v.build <= version.build]
        if not shipped:
            return str(version)
        best = max(v.build for v, _ in shipped)
        names = [name for v, name in shipped if v.build == best]
        # Prefer the fullest name ("Windows 11 23H2" over "23H2").
        name = max(names, key=len)
        exact = "" if best == version.build else "later than "
        return f"{version} ({exact}{name})"
