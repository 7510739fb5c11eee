"""The import stage: Intune exports and device inventories → facts, through the
vocabulary's declared origins.

``load_policies(path)`` and ``load_devices(path)`` are the entry points for files (exported
from ``bitlocker_rules`` too); ``import_*`` take JSON already parsed. The vocabulary is the
shipped one unless given.

Policies::

    from bitlocker_rules.importers import import_policy, load_policies
    policy = import_policy(json.load(f), vocabulary, origin="ep.json")
    policy.facts            # Facts: typed values by fact name; name and origins for provenance
    policy.policy_type      # "EndpointProtectionTemplate", "SettingsCatalog", ...
    policy.notices          # Diagnostics (severity "note") for everything skipped

Devices::

    device = import_device(managed_device_json, vocabulary, origin="device.json")
    state = import_device(encryption_state_json, vocabulary, origin="report.json")
    facts = merge_facts([device.facts, state.facts], name=device.name)

Accepted inputs (``detect``): Graph ``windows10EndpointProtectionConfiguration`` (v1.0 and
beta), settings-catalog ``deviceManagementConfigurationPolicy`` with ``settings``,
``windows10CustomConfiguration`` OMA-URI profiles, endpoint-security ``deviceManagementIntent``
with its ``settings`` (read as the profile they make, ``intents``), the project's own policy JSON;
``managedDevice``, ``managedDeviceEncryptionState``, ``bitlockerRecoveryKey`` lists, a CSP
read-out ``{"./Device/Vendor/MSFT/BitLocker/Status/…": value}``, the project's own device
JSON. Each may be a single object, a Graph page ``{"value": [...]}``, a single object in
Graph's wrapper ``{"value": {...}}`` or a JSON array. OData annotations are ignored everywhere.
Errors are InputError with JSON paths; recovery keys and passwords are never kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ..errors import Diagnostic, InputError, ProblemList
from ..facts import facts_from_mapping, given_vocabulary, merge_facts
from ..jsonpath import JsonPath
from ..outcome import require
from ..reading import read_json
from ..vocabulary import Vocabulary
from . import catalog, graph, intents, omauri
from . import device as _device
from .detect import (
    CUSTOM_OMA_URI,
    DEVICE_JSON,
    DEVICE_KINDS,
    ENCRYPTION_STATE,
    ENDPOINT_SECURITY_INTENT,
    GRAPH_ENDPOINT_PROTECTION,
    MANAGED_DEVICE,
    OTHER_GRAPH,
    PAGE,
    POLICY_JSON,
    POLICY_KINDS,
    RECOVERY_KEY,
    SETTINGS_CATALOG,
    Detection,
    detect,
    is_wrapped_object,
)
from .imported import INCOMPLETE, SKIPPED, Collector, ImportedDevice, ImportedPolicy, child_path, clean, subject_name
from .omauri import AdmxPayload, PayloadError, parse_admx
from .origins import OriginIndex, index_for

__all__ = [
    "AdmxPayload",
    "Detection",
    "ImportedDevice",
    "ImportedPolicy",
    "OriginIndex",
    "PayloadError",
    "detect",
    "import_device",
    "import_devices",
    "import_policies",
    "import_policy",
    "index_for",
    "joined_device",
    "load_devices",
    "load_policies",
    "parse_admx",
]

POLICY_TYPE_FACT = "policy.policy_type"
_Imported = TypeVar("_Imported", ImportedPolicy, ImportedDevice)
DEVICE_NAMESPACES = ("device", "actor", "action", "tenant")
_ACCEPTED_POLICIES = (
    "a Graph windows10EndpointProtectionConfiguration, a settings-catalog configurationPolicy with "
    "`settings`, a windows10CustomConfiguration with `omaSettings`, an endpoint-security deviceManagementIntent "
    'with its `settings` ($expand=settings), or {"settings": {fact: value}}'
)
_ACCEPTED_DEVICES = (
    "a Graph managedDevice, a managedDeviceEncryptionState, bitlockerRecoveryKey records, "
    '{"./Device/Vendor/MSFT/BitLocker/Status/…": value}, or {"facts": {fact: value}}'
)


def _exactly_one(found: tuple[_Imported, ...], noun: str, plural: str, origin: str) -> _Imported:
    if len(found) != 1:
        raise InputError(
            [
                Diagnostic(
                    "I406",
                    f"expected one {noun}, found {len(found)}",
                    path=(),
                    file=origin,
                    help=f"use import_{plural} for a page or an array of {plural}",
                )
            ]
        )
    return found[0]


# ---------------------------------------------------------------------------------------
# Policies


def import_policy(data: Any, vocabulary: Vocabulary | None = None, *, origin: str = "<input>") -> ImportedPolicy:
    """One policy from a parsed export (a page must hold exactly one)."""
    return _exactly_one(import_policies(data, vocabulary, origin=origin), "policy", "policies", origin)


def import_policies(
    data: Any, vocabulary: Vocabulary | None = None, *, origin: str = "<input>"
) -> tuple[ImportedPolicy, ...]:
    """Every policy of a parsed export: one object, a Graph page or a JSON array."""
    vocabulary = given_vocabulary(vocabulary, "import_policies(vocabulary)")
    items, page_notes = _items(data, origin)
    return _read_each(items, _one_policy, index_for(vocabulary), origin, page_notes)


def load_policies(path: str | Path, vocabulary: Vocabulary | None = None) -> tuple[ImportedPolicy, ...]:
    """Every policy of a policy file, whatever its kind: a Graph Endpoint protection profile,
    a settings-catalog policy, a custom OMA-URI profile, an endpoint-security intent (each
    alone, in a Graph page or in an array) or the project's own policy JSON, as ``check
    --policy`` reads it. Each has its ``facts`` (merge them with ``merge_facts``) and its
    ``notices`` (what was skipped, and why). Malformed JSON is reported with line and column."""
    require(path, (str, PathLike), "load_policies(path)", "a file path (str or pathlib.Path)")
    vocabulary = given_vocabulary(vocabulary, "load_policies(vocabulary)")
    data, source = read_json(path)
    return import_policies(data, vocabulary, origin=source.name)


def _one_policy(item: Any, index: OriginIndex, origin: str, path: JsonPath) -> ImportedPolicy:
    found = detect(item)
    if found.kind not in POLICY_KINDS and found.kind != OTHER_GRAPH:
        what = (
            f"this looks like a device input ({found.kind}), not a policy"
            if found.kind in DEVICE_KINDS
            else f"cannot tell what kind of policy this is ({found.reason})"
        )
        raise InputError([Diagnostic("I407", what, path=path, file=origin, help=f"expected {_ACCEPTED_POLICIES}")])
    collector = Collector(index, origin, ("policy",))
    policy_id = clean(item.get("id") or "")
    display = clean(item.get("displayName") or item.get("name") or "")
    name = subject_name("policy", display, policy_id, origin)
    policy_type = None
    if found.kind == POLICY_JSON:
        settings = _device.scrub(item["settings"], collector, child_path(path, "settings"))
        facts = facts_from_mapping(
            settings,
            index.vocabulary,
            origin=origin,
            default_namespace="policy",
            allowed=("policy",),
            path=child_path(path, "settings"),
            name=name,
        )
        return ImportedPolicy(
            facts,
            policy_id,
            display,
            found.kind,
            facts.get(POLICY_TYPE_FACT),
            tuple(collector.notices),
            origin,
            found.api_version,
        )
    if found.kind == GRAPH_ENDPOINT_PROTECTION:
        graph.walk(item, found.graph_type, collector, path)
        policy_type = _policy_type_of_resource(collector, found.graph_type, child_path(path, "@odata.type"))
    elif found.kind == SETTINGS_CATALOG:
        policy_type = catalog.import_catalog(item, collector, path)
    elif found.kind == CUSTOM_OMA_URI:
        omauri.import_oma_uri(item, collector, path)
        policy_type = _policy_type_of_resource(collector, found.graph_type, child_path(path, "@odata.type"))
    elif found.kind == ENDPOINT_SECURITY_INTENT:
        # Read as the Endpoint protection profile its settings make, so it has that profile's type.
        intents.import_intent(item, collector, path)
        policy_type = _policy_type_of_resource(collector, intents.GRAPH_TYPE, child_path(path, "templateId"))
    else:
        collector.note(
            SKIPPED,
            f"{item.get('@odata.type')} is not a BitLocker policy type; skipped",
            child_path(path, "@odata.type"),
        )
    facts = collector.facts(name)
    return ImportedPolicy(
        facts, policy_id, display, found.kind, policy_type, tuple(collector.notices), origin, found.api_version
    )


def _policy_type_of_resource(collector: Collector, graph_type: str, path: JsonPath) -> str | None:
    """``policy.policy_type`` from the member whose origin ``graph_type`` is this resource (read at ``path``)."""
    fact = collector.vocabulary.fact(POLICY_TYPE_FACT)
    if fact is None or fact.type.enum is None:
        return None
    members = collector.index.members_with(fact.type.enum.name, "graph_type", graph_type)
    if not members:
        return None
    collector.set(fact, members[0], path)
    return members[0]


# ---------------------------------------------------------------------------------------
# Devices


def import_device(data: Any, vocabulary: Vocabulary | None = None, *, origin: str = "<input>") -> ImportedDevice:
    """One device from a parsed input. A page may hold one device's records: its managedDevice,
    its encryption report row and its recovery keys, each at most once but the keys; they are
    read as ``check --device`` reads them one file each, and joined (``joined_device``)."""
    values = data.get("value") if isinstance(data, Mapping) else data
    if isinstance(values, list) and len(values) > 1:  # a page: of one device's records?
        joined = _one_devices_records(data, vocabulary, origin)
        if joined is not None:
            return joined
    return _exactly_one(import_devices(data, vocabulary, origin=origin), "device", "devices", origin)


def _one_devices_records(data: Any, vocabulary: Vocabulary | None, origin: str) -> ImportedDevice | None:
    """A page of a managedDevice and/or its encryption report row, with any recovery keys, as one
    device (each record read at its own path in the page); None for a page of anything else."""
    items, notes = _items(data, origin)
    kinds = [detect(item).kind for item, _ in items]
    if not {MANAGED_DEVICE, ENCRYPTION_STATE} & set(kinds) or not set(kinds) <= _JOINABLE:
        return None
    index = index_for(given_vocabulary(vocabulary, "import_device(vocabulary)"))
    kinded = list(zip(items, kinds, strict=True))
    parts = [_one_device(item, index, origin, path) for (item, path), kind in kinded if kind != RECOVERY_KEY]
    keys = [found for found, kind in kinded if kind == RECOVERY_KEY]
    if keys:
        base: JsonPath = ("value",) if isinstance(data, Mapping) else ()
        parts.append(_recovery_keys(keys, index, origin, base, detect(keys[0][0]), ()))
    if notes:
        parts[0] = attrs.evolve(parts[0], notices=parts[0].notices + notes)
    return joined_device(parts, origin)


_JOINABLE = frozenset({MANAGED_DEVICE, ENCRYPTION_STATE, RECOVERY_KEY})


def joined_device(parts: Sequence[ImportedDevice], origin: str) -> ImportedDevice:
    """One device's parts (a managedDevice, an encryption report row, recovery keys) as one
    device, their facts merged as ``check --device`` merges them; InputError when two parts of
    one kind are given or the parts name different devices (Intune id, Entra device id)."""
    problems = [
        f"{len(same)} {kind} records" for kind in _JOINABLE if len(same := [p for p in parts if p.kind == kind]) > 1
    ]
    for what in ("device_id", "azure_ad_device_id"):
        ids = {getattr(p, what).casefold() for p in parts if getattr(p, what)}
        if len(ids) > 1:
            problems.append(f"{len(ids)} different {what.replace('_', ' ').replace('azure ad', 'Entra')}s")
    if problems:
        raise InputError(
            [
                Diagnostic(
                    "I405",
                    f"these are not one device's records ({', '.join(sorted(problems))})",
                    path=(),
                    file=origin,
                    help="give one managedDevice, its encryption report row and its recovery keys",
                )
            ]
        )
    first = parts[0]
    named = next((p for p in parts if p.device_name), first)
    facts = merge_facts([p.facts for p in parts], name=named.facts.name)
    return ImportedDevice(
        facts,
        next((p.device_id for p in parts if p.device_id), ""),
        named.device_name,
        next((p.azure_ad_device_id for p in parts if p.azure_ad_device_id), ""),
        first.kind,
        tuple(n for p in parts for n in p.notices),
        origin,
        first.api_version,
    )


def import_devices(
    data: Any, vocabulary: Vocabulary | None = None, *, origin: str = "<input>"
) -> tuple[ImportedDevice, ...]:
    """Every device of a parsed input. A page of recovery keys is one device's keys."""
    index = index_for(given_vocabulary(vocabulary, "import_devices(vocabulary)"))
    items, page_notes = _items(data, origin)
    if items and all(detect(item).kind == RECOVERY_KEY for item, _ in items):
        base: JsonPath = ("value",) if isinstance(data, Mapping) else ()
        return (_recovery_keys(items, index, origin, base, detect(items[0][0]), page_notes),)
    return _read_each(items, _one_device, index, origin, page_notes)


def load_devices(path: str | Path, vocabulary: Vocabulary | None = None) -> tuple[ImportedDevice, ...]:
    """Every device part of a device file, whatever its kind: a Graph managedDevice, a
    managedDeviceEncryptionState, bitlockerRecoveryKey records, a CSP read-out or the
    project's own device JSON, as ``check --device`` reads it (each with ``facts`` and
    ``notices``). Malformed JSON is reported with line and column."""
    require(path, (str, PathLike), "load_devices(path)", "a file path (str or pathlib.Path)")
    vocabulary = given_vocabulary(vocabulary, "load_devices(vocabulary)")
    data, source = read_json(path)
    return import_devices(data, vocabulary, origin=source.name)


def _one_device(item: Any, index: OriginIndex, origin: str, path: JsonPath) -> ImportedDevice:
    found = detect(item)
    if found.kind not in DEVICE_KINDS:
        what = (
            f"this looks like a policy ({found.kind}), not a device input"
            if found.kind in POLICY_KINDS
            else f"cannot tell what kind of device input this is ({found.reason})"
        )
        raise InputError([Diagnostic("I407", what, path=path, file=origin, help=f"expected {_ACCEPTED_DEVICES}")])
    if found.kind == RECOVERY_KEY:
        return _recovery_keys([(item, path)], index, origin, path, found, ())
    collector = Collector(index, origin, DEVICE_NAMESPACES)
    device_id = clean(item.get("id") or "")
    device_name = clean(item.get("deviceName") or "")
    name = subject_name("device", device_name, device_id, origin)
    if found.kind == DEVICE_JSON:
        values = _device.scrub(item["facts"], collector, child_path(path, "facts"))
        facts = facts_from_mapping(
            values,
            index.vocabulary,
            origin=origin,
            default_namespace="device",
            allowed=DEVICE_NAMESPACES,
            path=child_path(path, "facts"),
            name=name,
        )
    else:
        if found.kind in (MANAGED_DEVICE, ENCRYPTION_STATE):
            _device.import_graph_device(item, found.graph_type, collector, path)
        else:  # CSP_STATUS
            omauri.import_csp_values(item, collector, path)
        facts = collector.facts(name)
    return ImportedDevice(
        facts,
        device_id,
        device_name,
        clean(facts.get("device.azure_ad_device_id") or ""),
        found.kind,
        tuple(collector.notices),
        origin,
        found.api_version,
    )


def _recovery_keys(
    items: Sequence[tuple[Any, JsonPath]],
    index: OriginIndex,
    origin: str,
    path: JsonPath,
    found: Detection,
    notes: tuple[Diagnostic, ...],
) -> ImportedDevice:
    collector = Collector(index, origin, DEVICE_NAMESPACES)
    device_ids = _device.import_recovery_keys(items, collector, path)
    aad_id = clean(device_ids[0]) if device_ids else ""
    name = subject_name("device", "", aad_id, origin)
    facts = collector.facts(name)
    return ImportedDevice(
        facts, "", "", aad_id, RECOVERY_KEY, tuple(collector.notices) + tuple(notes), origin, found.api_version
    )


def _read_each(
    items: Iterable[tuple[Any, JsonPath]],
    read_one: Callable[[Any, OriginIndex, str, JsonPath], _Imported],
    index: OriginIndex,
    origin: str,
    page_notes: tuple[Diagnostic, ...],
) -> tuple[_Imported, ...]:
    """Each item read by ``read_one``; every item's problems reported together; the page's notes
    go with the first item read."""
    found: list[_Imported] = []
    problems = ProblemList()
    for item, path in items:
        if problems.full:  # each item's error is made and rendered: 400,000 bad items took 25 s
            problems.stopped = True
            break
        try:
            found.append(read_one(item, index, origin, path))
        except InputError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise problems.error()
    if found and page_notes:
        found[0] = attrs.evolve(found[0], notices=found[0].notices + page_notes)
    return tuple(found)


# ---------------------------------------------------------------------------------------
# Pages


def _items(data: Any, origin: str) -> tuple[list[tuple[Any, JsonPath]], tuple[Diagnostic, ...]]:
    """The objects of an input with their JSON paths, and notices about the page itself."""
    found = detect(data)
    if found.kind != PAGE:
        return [(data, ())], ()
    if isinstance(data, Mapping) and is_wrapped_object(data):
        return [_unwrapped(data["value"], origin)], ()
    values, base = (data, ()) if isinstance(data, list) else (data["value"], ("value",))
    notes: tuple[Diagnostic, ...] = ()
    if isinstance(data, Mapping) and data.get("@odata.nextLink"):
        notes = (
            Diagnostic(
                INCOMPLETE,
                "this is one page of a longer Graph result (@odata.nextLink); the next pages were not read",
                severity="note",
                path=("@odata.nextLink",),
                file=origin,
            ),
        )
    items = []
    for number, item in enumerate(values):
        here = child_path(base, number)
        if isinstance(item, list) or (isinstance(item, Mapping) and detect(item).kind == PAGE):
            raise InputError([Diagnostic("I408", "a page inside a page is not supported", path=here, file=origin)])
        items.append((item, here))
    return items, notes


def _unwrapped(item: Mapping[str, Any], origin: str) -> tuple[Any, JsonPath]:
    """The one object of ``{"value": {...}}`` (Graph's single-object response wrapper)."""
    if detect(item).kind == PAGE:
        raise InputError([Diagnostic("I408", "a page inside a page is not supported", path=("value",), file=origin)])
    return item, ("value",)
