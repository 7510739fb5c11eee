"""Graph resources read through the vocabulary's ``graph`` / ``graph_type`` origins.

One walker serves every Graph resource: the Endpoint protection template
(``windows10EndpointProtectionConfiguration``, v1.0 and beta, with its nested drive
policies and recovery options), ``managedDevice`` (with ``hardwareInformation`` and
``deviceHealthAttestationState``) and ``managedDeviceEncryptionState``. A property whose
dotted path is a declared origin becomes that fact; a path that leads to declared origins
is descended into (``null`` there = every setting below it not configured); a property the
vocabulary lists as ``not_read`` gets a notice saying why; every other property is skipped
with a notice. OData annotations (``@odata.type``, ``x@odata.navigationLink``,
``#microsoft.graph.assign``) are metadata, not properties: ignored at every level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ..jsonpath import JsonPath
from .imported import (
    DROPPED_SECRET,
    ENTITY_KEYS,
    SKIPPED,
    UNDECLARED,
    Collector,
    child_path,
    is_annotation,
    is_blank,
    is_secret_field,
)
from .origins import Binding, NotRead, Unmappable


def walk(
    obj: Mapping[str, Any],
    graph_type: str,
    collector: Collector,
    path: JsonPath = (),
    *,
    prefix: str = "",
    consumed: Iterable[str] = ENTITY_KEYS,
) -> None:
    """Map every property of a Graph object of ``graph_type`` through its declared origins."""
    index = collector.index
    table = index.graph.get(graph_type, {})
    containers = index.graph_containers.get(graph_type, set())
    not_read = index.graph_not_read.get(graph_type, {})
    consumed = frozenset(consumed)
    for key, raw in obj.items():
        full = prefix + key
        here = child_path(path, key)
        if is_annotation(key) or (not prefix and key in consumed):
            continue
        if full in not_read and raw is not None and not is_blank(raw):
            note_not_read(collector, full, not_read[full], here)
        bindings = table.get(full)
        if bindings:
            for binding in bindings:
                if (
                    binding.fact.type.kind == "collection"
                    and isinstance(raw, list)
                    and raw
                    and all(isinstance(item, dict) for item in raw)
                ):
                    records(raw, binding, graph_type, collector, here)
                else:
                    collector.take(binding, raw, here)
        elif full in containers:
            if raw is None:
                collector.imply_not_configured(index.graph_under(graph_type, full), here)
            elif isinstance(raw, dict):
                walk(raw, graph_type, collector, here, prefix=full + ".")
            else:
                collector.error(
                    "I403",
                    f"`{full}` must be a JSON object or null",
                    here,
                    help=f"a {graph_type} carries `{full}` as a nested object",
                )
        elif full not in not_read:
            skip(collector, full, here, graph_type)


def note_not_read(collector: Collector, name: str, entries: Iterable[NotRead], path: JsonPath) -> None:
    """A property the vocabulary deliberately does not read as a fact: a notice with its reason."""
    for entry in entries:
        collector.note(SKIPPED, f"`{name}` is not read as {entry.fact.name} ({entry.fact.label}): {entry.why}", path)


def skip(collector: Collector, name: str, path: JsonPath, graph_type: str) -> None:
    """A property no origin declares (``name`` is its dotted path): a notice, never silence."""
    key = name.rsplit(".", 1)[-1]
    if is_secret_field(key):
        collector.note(DROPPED_SECRET, f"`{name}` holds a recovery secret; it is never read or kept", path)
    elif key.lower().startswith("bitlocker"):
        collector.note(
            UNDECLARED,
            f"`{name}` looks like a BitLocker property of {graph_type} but the "
            "vocabulary declares no fact for it; skipped",
            path,
        )
    else:
        collector.note(SKIPPED, f"`{name}` is not a BitLocker-relevant property of {graph_type}; skipped", path)


def records(items: list, binding: Binding, graph_type: str, collector: Collector, path: JsonPath) -> None:
    """A Graph list of objects as a collection fact's records, field by field."""
    fields = collector.index.field_bindings(binding.fact, graph_type)
    rows = []
    for number, item in enumerate(items):
        row = record(item, fields, collector, child_path(path, number), graph_type)
        if row is not None:
            rows.append(row)
    collector.set(binding.fact, tuple(rows), path, weak=binding.weak)


def record(
    item: Mapping[str, Any],
    fields: Mapping[str, Binding],
    collector: Collector,
    path: JsonPath,
    graph_type: str,
) -> Mapping[str, Any] | None:
    """One Graph object as one record of a collection (declared fields only)."""
    row = {}
    ok = True
    for key, raw in item.items():
        here = child_path(path, key)
        if is_annotation(key):
            continue
        binding = fields.get(key)
        if binding is None and is_secret_field(key):
            collector.note(DROPPED_SECRET, f"`{key}` holds a recovery secret; it is never read or kept", here)
            continue
        if binding is None:
            collector.note(
                SKIPPED,
                f"`{key}` is not a field of {graph_type} records the vocabulary declares; its value was dropped",
                here,
            )
            continue
        if raw is None or (is_blank(raw) and not binding.owner.startswith("policy.")):
            continue  # a field a device record leaves empty is missing for that record
        try:
            row[binding.fact.name] = collector.index.convert(binding, raw)
        except Unmappable as exc:
            collector.bad(binding.fact, raw, here, str(exc), what=f"{binding.owner}.{binding.fact.name}")
            ok = False
    return MappingProxyType(row) if ok else None
