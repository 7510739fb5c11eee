"""Endpoint protection profiles (``windows10EndpointProtectionConfiguration``): the repaired
settings written into the profile's own properties, nested drive policies included.

A property's dotted path is its fact's declared ``graph`` origin (``bitLockerSystemDrivePolicy
.startupAuthenticationTpmPinUsage``). The request sends every top-level property that changed,
whole: a nested drive policy goes with all its other properties and its ``recoveryOptions`` as
the profile has them, so it stays valid whether Graph merges or replaces complex properties.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..importers.origins import GRAPH, OriginIndex
from ..vocabulary import Fact
from .values import emit_error, raw_value


def graph_path(index: OriginIndex, fact: Fact, graph_type: str) -> str | None:
    """The fact's own (not alternate) property path in a resource of ``graph_type``."""
    for path, bindings in index.graph.get(graph_type, {}).items():
        if any(b.fact is fact and not b.weak for b in bindings):
            return path
    return None


def expressible(index: OriginIndex, fact: Fact, graph_type: str) -> bool:
    """Whether a profile of ``graph_type`` has a property for ``fact``."""
    return graph_path(index, fact, graph_type) is not None


def repaired_profile(
    document: Mapping[str, Any],
    graph_type: str,
    changes: Mapping[Fact, Any],
    after: Mapping[str, Any],
    index: OriginIndex,
    file: str = "",
) -> dict[str, Any]:
    """A copy of the profile with each changed fact's property set (None writes null).

    A nested object the profile has null (every setting below it not configured) is made with
    each of its properties as ``after`` (the repaired policy's settings) has it, so the settings
    a null object meant are still what the new object says."""
    new = copy.deepcopy(dict(document))
    for fact, value in changes.items():
        path = graph_path(index, fact, graph_type)
        if path is None:
            raise emit_error(f"a {graph_type} has no property for {fact.name} ({fact.label})", file=file)
        parts = path.split(".")
        for depth in range(1, len(parts)):
            if _made(new, parts[:depth]):
                _fill(new, ".".join(parts[:depth]), graph_type, after, index)
        _put(new, parts, None if value is None else raw_value(index, fact, value, GRAPH))
    return new


def _made(target: dict[str, Any], parts: list[str]) -> bool:
    """Make the object at ``parts`` when it is null or absent; whether it was made."""
    for part in parts[:-1]:
        target = target[part]
    if isinstance(target.get(parts[-1]), dict):
        return False
    target[parts[-1]] = {}
    return True


def _fill(new: dict[str, Any], container: str, graph_type: str, after: Mapping[str, Any], index: OriginIndex) -> None:
    for binding in index.graph_under(graph_type, container):
        value = after.get(binding.fact.name)
        if not binding.weak and value is not None:
            _put(new, binding.key.split("."), raw_value(index, binding.fact, value, GRAPH))


def _put(target: dict[str, Any], parts: list[str], raw: Any) -> None:
    """Set a nested property, making the objects above it when the profile has them null."""
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = {}
            target[part] = child
        target = child
    target[parts[-1]] = raw


def patch_body(original: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body: the resource's ``@odata.type`` (Graph needs it to update a derived
    deviceConfiguration) and each top-level property that differs, whole."""
    body: dict[str, Any] = {}
    if "@odata.type" in original:
        body["@odata.type"] = original["@odata.type"]
    body.update({key: value for key, value in new.items() if original.get(key, _ABSENT) != value})
    return body


_ABSENT = object()
