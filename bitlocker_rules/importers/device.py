"""Device inputs: Graph ``managedDevice``, ``managedDeviceEncryptionState``,
``bitlockerRecoveryKey`` lists, a CSP read-out, and the project's own device JSON.

Every mapping goes through the vocabulary's origins (``graph_type`` managedDevice /
managedDeviceEncryptionState / bitlockerRecoveryKey, ``csp``). Status bitmasks are decoded
with the table of their own source: the CSP ``Status/DeviceEncryptionStatus`` integer with
the members' ``csp`` bits, Graph ``advancedBitLockerStates`` with the Graph flag names (or
the Graph numbers) — the two number the low bits differently (conflict C1).
Recovery keys keep id, volume type and creation time; a ``key`` is never read or kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..jsonpath import JsonPath
from . import graph
from .imported import DROPPED_SECRET, SKIPPED, Collector, child_path, clean, is_secret_field
from .origins import looks_secret

MANAGED_DEVICE = "managedDevice"
ENCRYPTION_STATE = "managedDeviceEncryptionState"
RECOVERY_KEY = "bitlockerRecoveryKey"

# managedDevice / encryption-state properties read as the device's identity (record
# attributes, not facts).
IDENTITY_KEYS = frozenset({"id", "deviceName"})


def import_graph_device(data: Mapping[str, Any], graph_type: str, collector: Collector, path: JsonPath) -> None:
    """A managedDevice or managedDeviceEncryptionState resource."""
    graph.walk(data, graph_type, collector, path, consumed=IDENTITY_KEYS)


def import_recovery_keys(keys: Sequence[tuple[Any, JsonPath]], collector: Collector, path: JsonPath) -> tuple[str, ...]:
    """``bitlockerRecoveryKey`` resources (each with its JSON path) as ``device.recovery_keys``.

    Returns the Entra device ids the keys belong to.
    """
    index = collector.index
    facts = index.graph_records.get(RECOVERY_KEY, [])
    if not facts:
        collector.note(SKIPPED, "the vocabulary declares no fact for bitlockerRecoveryKey; keys skipped", path)
        return ()
    fact = facts[0]
    fields = index.field_bindings(fact, RECOVERY_KEY)
    rows, device_ids = [], []
    for item, here in keys:
        if not isinstance(item, Mapping):
            collector.error("I403", "a recovery key must be a JSON object", here)
            continue
        device_id = item.get("deviceId")
        if isinstance(device_id, str) and device_id not in device_ids:
            device_ids.append(device_id)
        body = {k: v for k, v in item.items() if k != "deviceId"}
        row = graph.record(body, fields, collector, here, RECOVERY_KEY)
        if row is not None:
            rows.append(row)
    if len(device_ids) > 1:
        collector.error(
            "I405",
            f"recovery keys of {len(device_ids)} devices in one input",
            path,
            help="import the keys of one device at a time ($filter=deviceId eq '…')",
        )
    collector.set(fact, tuple(rows), path)
    return tuple(device_ids)


def scrub(value: Any, collector: Collector, path: JsonPath) -> Any:
    """The project's own JSON with secret-named fields removed (noticed, never kept) and
    recovery passwords masked in every string."""
    if isinstance(value, Mapping):
        kept = {}
        for key, inner in value.items():
            here = child_path(path, str(key))
            if isinstance(key, str) and is_secret_field(key):
                collector.note(DROPPED_SECRET, f"`{key}` holds a recovery secret; it is never read or kept", here)
                continue
            kept[key] = scrub(inner, collector, here)
        return kept
    if isinstance(value, list):
        return [scrub(item, collector, child_path(path, n)) for n, item in enumerate(value)]
    if isinstance(value, str) or looks_secret(value):
        return clean(value)
    return value
