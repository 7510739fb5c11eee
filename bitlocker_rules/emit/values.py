"""Typed fact values back into each source's raw values: the importers' conversion inverted.

Every table comes from the vocabulary's declared origins through ``importers.origins`` (an
enum member's ``graph`` / ``catalog`` / ``csp`` value, ``[facts.member_values]`` first, a
bool fact's ``inverted``), so nothing here names a setting.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..errors import BitLockerRulesError, Diagnostic
from ..importers.origins import CATALOG, CSP, GRAPH, OriginIndex
from ..versions import WindowsVersion
from ..vocabulary import Fact


class Writer(Protocol):
    """Writes one fact's value into a list of a policy's settings."""

    def write(self, fact: Fact, value: Any) -> None:
        """Set ``fact`` to ``value`` (None removes it)."""


def written(
    document: Mapping[str, Any],
    key: str,
    changes: Mapping[Fact, Any],
    writer: Callable[[list[Any]], Writer],
    missing: str,
    file: str = "",
) -> dict[str, Any]:
    """A copy of the policy with each change written by ``writer`` into its list ``key``
    (``missing`` says what is wrong when the policy has no such list)."""
    new = copy.deepcopy(dict(document))
    items = new.get(key)
    if not isinstance(items, list):
        raise emit_error(missing, file=file)
    write = writer(items)
    for fact, value in changes.items():
        write.write(fact, value)
    return new


class EmitError(BitLockerRulesError):
    """A repaired setting that cannot be written in the shape its policy came in."""


def emit_error(message: str, *, file: str = "", help: str = "") -> EmitError:
    """An EmitError with one diagnostic (code E601) naming the policy file."""
    return EmitError([Diagnostic("E601", message, file=file or None, help=help or None)])


def member_raw(index: OriginIndex, fact: Fact, member: str, source: str) -> Any:
    """The raw value ``source`` carries for an enum member, as the importer reads it back."""
    given = fact.member_values.get(member, {})
    if source in given:
        return given[source]
    enum = fact.type.enum
    return index.member_origin(enum.name, member, source) if enum is not None else None


def raw_value(index: OriginIndex, fact: Fact, value: Any, source: str) -> Any:
    """``value`` of ``fact`` as ``source`` (graph, catalog or csp) writes it.

    Graph writes enum strings and booleans; the catalog and the CSP write an enum member's
    number and a bool as 1 or 0. A value the source has no spelling for is an EmitError.
    """
    kind = fact.type.kind
    if kind == "enum":
        raw = member_raw(index, fact, value, source)
        if raw is None:
            raise emit_error(f"{fact.name} = {value} has no {source} value in the vocabulary")
        return raw
    if kind == "bool":
        flipped = (not value) if source == GRAPH and fact.origins.get("inverted") else bool(value)
        return flipped if source == GRAPH else int(flipped)
    if kind == "collection":
        raise emit_error(f"{fact.name} is a list; writing lists back is not supported")
    if isinstance(value, WindowsVersion):
        return str(value)
    return value


def admx_data_value(index: OriginIndex, fact: Fact, value: Any) -> str:
    """An ADMX ``<data value="…"/>``: a member's CSP number or a bool as true/false, as text."""
    raw = raw_value(index, fact, value, CSP)
    if fact.type.kind == "bool":
        return "true" if raw else "false"
    return str(raw)


def catalog_option(index: OriginIndex, fact: Fact, definition: str, value: Any) -> str:
    """The settings-catalog option id of a choice: ``<settingDefinitionId>_<number>``."""
    return f"{definition}_{raw_value(index, fact, value, CATALOG)}"
