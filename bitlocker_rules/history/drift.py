"""Policy drift: what changed in a tenant's BitLocker policies between two pulled snapshots.

Policies are matched by id (a policy only one snapshot has was added or removed; a rename is a
changed name). Each policy is read as a map of *settings*, each under a key that does not depend
on how Graph happened to send it: a Graph property by its path (``bitLockerSystemDrivePolicy.
encryptionMethod``), a settings-catalog setting by its ``settingDefinitionId``, a custom
profile's OMA-URI setting by its URI, an endpoint-security intent's setting by the profile
property its ``definitionId`` names. A setting is named by the Intune label the vocabulary gives
the fact the importers read from it, and its values are shown as the admin reads them (through
the importers' own conversion: ``importers.OriginIndex``); one the vocabulary does not declare is
named by its key and shown as Graph wrote it. An encrypted OMA-URI value is never shown, nor
compared: a pull never reads it.

Normalised, because Graph sends the same tenant differently from one read to the next: the
order of every list (policies, settings, children, OMA-URI settings, assignments, groups, list
values), the instance ids of settings and assignments, counters (``version``), timestamps (every
``…DateTime``), OData annotations (``@odata.context`` names the Graph root read, ``@odata.etag``
changes on every save), and what Graph derives from the rest (``settingCount``, ``isAssigned``,
template references). A property that is ``null`` is not configured, as one that is absent.
``docs/history.md`` lists the same.

Assignments are compared as targets: all devices, all users, a group included or excluded (by
group id, shown with its name), with its assignment filter and filter type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from ..errors import redact
from ..importers import OriginIndex, index_for
from ..importers.imported import is_annotation, is_secret_field
from ..importers.origins import Binding, Unmappable, normalise_csp
from ..reading import loads_json
from ..snapshot import (
    EXCLUSION,
    FILTER_ID,
    FILTER_TYPE,
    POLICY_ANNOTATION,
    POLICY_KINDS,
    complete_manifest,
    snapshot_records,
)
from ..vocabulary import Vocabulary

# Properties that change without a change of meaning (or that Graph derives from what is compared).
IGNORED = frozenset(
    {"id", "version", "settingCount", "isAssigned", "settingInstanceTemplateReference", "settingValueTemplateReference"}
)
SECRET_SHOWN = "(secret: not shown)"
KIND_NAMES = {
    "device_configurations": "device_configuration",
    "configuration_policies": "configuration_policy",
    "intents": "intent",
}
# Labels of a policy's own properties (its settings are labelled by the vocabulary).
NAME_KEYS = {
    "displayName": "Name",
    "name": "Name",
    "description": "Description",
    "platforms": "Platform",
    "technologies": "Technologies",
    "templateId": "Template",
    "templateReference.templateId": "Template",
}
EMPTY_SHOWN = "(empty)"
_INTENT_SOURCE = "deviceConfiguration--"  # an intent's definitionId: deviceConfiguration--<graph type>_<path>
_CATALOG_TYPE = "deviceManagementConfigurationPolicy"
_SECRET = object()  # a secret's value, wherever it was: never kept here


@frozen
class SettingChange:
    """One setting of one policy that changed: its Intune label (or its key), the key it is
    known by, and its values before and after as the admin reads them (None: not configured)."""

    label: str
    key: str
    before: str | None
    after: str | None


@frozen
class Target:
    """Who an assignment gives a policy to. Equal by ids; the names are shown as each snapshot has them."""

    target: str  # "all devices", "all users", "group", "excluded group", or Graph's type for another
    group_id: str | None = None
    filter_id: str | None = None
    filter_type: str | None = None
    group: str | None = attrs.field(default=None, eq=False)
    filter: str | None = attrs.field(default=None, eq=False)


@frozen
class PolicyDrift:
    """One policy that drifted: ``added``, ``removed`` or ``changed``; its settings that
    changed (every setting, for a policy added or removed) and its assignments added and removed."""

    policy_id: str
    name: str
    kind: str  # the snapshot's kind of record: device_configuration, configuration_policy, intent
    change: str
    settings: tuple[SettingChange, ...]
    assigned: tuple[Target, ...]
    unassigned: tuple[Target, ...]


@frozen
class Drift:
    """Every policy that drifted from the old snapshot to the new one, by kind, then name, then id."""

    old: str
    new: str
    policies: tuple[PolicyDrift, ...]

    @property
    def empty(self) -> bool:
        """No policy changed."""
        return not self.policies


@frozen
class Setting:
    """One setting as a snapshot has it: its label, its value normalised (compared) and shown."""

    label: str
    value: str  # canonical JSON of the raw value
    shown: str


@frozen
class PolicyState:
    """One policy as a snapshot has it: its name, kind, settings by key and assignment targets."""

    policy_id: str
    name: str
    kind: str
    settings: Mapping[str, Setting]
    targets: frozenset[Target]


def policy_drift(old_folder: str | Path, new_folder: str | Path, vocabulary: Vocabulary) -> Drift:
    """The drift between two complete snapshots."""
    index = index_for(vocabulary)
    before = read_policies(old_folder, index)
    after = read_policies(new_folder, index)
    either = {**before, **after}
    kinds = list(KIND_NAMES.values())
    order = sorted(either, key=lambda i: (kinds.index(either[i].kind), either[i].name.casefold(), i))
    found = (_compared(before.get(policy_id), after.get(policy_id)) for policy_id in order)
    return Drift(str(old_folder), str(new_folder), tuple(p for p in found if p is not None))


def _compared(old: PolicyState | None, new: PolicyState | None) -> PolicyDrift | None:
    """What changed in one policy (None: nothing)."""
    state = new or old
    assert state is not None  # one of them is, by the caller's order
    settings = _setting_changes(old.settings if old else {}, new.settings if new else {})
    old_targets = old.targets if old else frozenset()
    new_targets = new.targets if new else frozenset()
    assigned, unassigned = _sorted(new_targets - old_targets), _sorted(old_targets - new_targets)
    change = "added" if old is None else "removed" if new is None else "changed"
    if change == "changed" and not (settings or assigned or unassigned):
        return None
    return PolicyDrift(state.policy_id, state.name, state.kind, change, settings, assigned, unassigned)


def _setting_changes(old: Mapping[str, Setting], new: Mapping[str, Setting]) -> tuple[SettingChange, ...]:
    """The settings whose values differ (or that only one side has), by label: not in Graph's order, which varies."""
    either = {**old, **new}
    return tuple(
        SettingChange(
            either[key].label,
            key,
            old[key].shown if key in old else None,
            new[key].shown if key in new else None,
        )
        for key in sorted(either, key=lambda k: (either[k].label.casefold(), k))
        if _value(old.get(key)) != _value(new.get(key))
    )


def _value(setting: Setting | None) -> str | None:
    return setting.value if setting is not None else None


def _sorted(targets: frozenset[Target]) -> tuple[Target, ...]:
    return tuple(sorted(targets, key=lambda t: (t.target, t.group or "", t.group_id or "", t.filter_id or "")))


# -- reading a snapshot's policies -----------------------------------------------------------


def read_policies(folder: str | Path, index: OriginIndex) -> dict[str, PolicyState]:
    """A complete snapshot's policies by id, each with its settings and assignment targets."""
    folder = Path(folder)
    manifest = complete_manifest(folder)
    groups = _names(snapshot_records(folder, manifest, "groups"), "displayName")
    filters = _names(snapshot_records(folder, manifest, "assignment_filters"), "displayName")
    targets: dict[str, set[Target]] = {}
    for _, assignment_kind in POLICY_KINDS:
        for record in snapshot_records(folder, manifest, assignment_kind):
            policy = record.get(POLICY_ANNOTATION)
            target = record.get("target")
            if isinstance(policy, dict) and isinstance(target, dict):
                targets.setdefault(str(policy.get("id")), set()).add(_target(target, groups, filters))
    found: dict[str, PolicyState] = {}
    for kind, _ in POLICY_KINDS:
        for record in snapshot_records(folder, manifest, kind):
            policy_id = str(record.get("id"))
            name = record.get("displayName") or record.get("name") or policy_id
            settings = dict(policy_settings(record, kind, index))
            found[policy_id] = PolicyState(
                policy_id, str(redact(str(name))), KIND_NAMES[kind], settings, frozenset(targets.get(policy_id, ()))
            )
    return found


def _names(records: Iterator[dict], key: str) -> dict[str, str]:
    return {str(r["id"]): str(r.get(key) or r["id"]) for r in records if r.get("id")}


def _target(target: Mapping[str, Any], groups: Mapping[str, str], filters: Mapping[str, str]) -> Target:
    """An assignment's target (Graph's ``deviceAndAppManagementAssignmentTarget``) as compared."""
    kind = str(target.get("@odata.type", "")).removeprefix("#microsoft.graph.")
    words = {
        "allDevicesAssignmentTarget": "all devices",
        "allLicensedUsersAssignmentTarget": "all users",
        "groupAssignmentTarget": "group",
        EXCLUSION.removeprefix("#microsoft.graph."): "excluded group",
    }
    group_id = target.get("groupId")
    filter_id = target.get(FILTER_ID) or None
    filter_type = target.get(FILTER_TYPE) if filter_id else None  # "none" without a filter is no filter
    return Target(
        words.get(kind, kind),
        str(group_id) if group_id else None,
        str(filter_id) if filter_id else None,
        str(filter_type or "include") if filter_id else None,
        groups.get(str(group_id), str(group_id)) if group_id else None,
        filters.get(str(filter_id), str(filter_id)) if filter_id else None,
    )


def policy_settings(record: Mapping[str, Any], kind: str, index: OriginIndex) -> Iterator[tuple[str, Setting]]:
    """A policy record's settings, each under its stable key (see the module's docstring)."""
    graph_type = _CATALOG_TYPE if kind == "configuration_policies" else _graph_type(record)
    for path, raw in _properties(record, ()):
        if path == ("settings",) and kind == "configuration_policies":
            yield from _unique(_catalog_settings(raw, index))
        elif path == ("settings",) and kind == "intents":
            yield from _unique(_intent_settings(raw, index))
        elif path == ("omaSettings",):
            yield from _unique(_oma_settings(raw, index))
        else:
            key = ".".join(path)
            yield key, _graph_setting(index, graph_type, key, raw)


def _graph_type(record: Mapping[str, Any]) -> str:
    return str(record.get("@odata.type", "")).removeprefix("#microsoft.graph.")


def _unique(settings: Iterator[tuple[str, Setting]]) -> Iterator[tuple[str, Setting]]:
    """Settings with a key met before get ``#2``, ``#3``… (in the order of their values, not Graph's)."""
    grouped: dict[str, list[Setting]] = {}
    for key, setting in settings:
        grouped.setdefault(key, []).append(setting)
    for key, same in grouped.items():
        for number, setting in enumerate(sorted(same, key=lambda s: s.value), 1):
            yield (key if number == 1 else f"{key}#{number}"), setting


def _properties(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """The leaves of a JSON object by path, without what is ignored; ``settings`` and
    ``omaSettings`` are leaves (each kind reads its own); null and empty objects are not configured."""
    for key, child in value.items():
        if is_annotation(key) or key in IGNORED or key.endswith("DateTime") or key == "assignments":
            continue
        here = (*path, key)
        if isinstance(child, dict) and key not in ("settings", "omaSettings"):
            yield from _properties(child, here)
        elif child is not None:
            yield here, (_SECRET if is_secret_field(key) else child)


def _canonical(raw: Any) -> str:
    """A raw value as compared: JSON with sorted keys, every list in a stable order."""
    return json.dumps(_ordered(raw), sort_keys=True, ensure_ascii=False)


def _ordered(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _ordered(v) for k, v in raw.items() if not is_annotation(k) and k not in IGNORED}
    if isinstance(raw, list):
        return sorted((_ordered(item) for item in raw), key=lambda item: json.dumps(item, sort_keys=True))
    return raw


def _graph_setting(index: OriginIndex, graph_type: str, key: str, raw: Any) -> Setting:
    bindings = index.graph.get(graph_type, {}).get(key, ())
    binding = next((b for b in bindings if not b.weak), bindings[0] if bindings else None)
    label = binding.fact.label if binding else NAME_KEYS.get(key, key)
    return _setting(index, binding, label, raw)


def _setting(index: OriginIndex, binding: Binding | None, label: str, raw: Any) -> Setting:
    if raw is _SECRET:  # a secret-named field: present, never shown nor compared by value
        return Setting(label, '"secret"', SECRET_SHOWN)
    return Setting(label, _canonical(raw), _shown(index, binding, raw))


def _shown(index: OriginIndex, binding: Binding | None, raw: Any) -> str:
    """A raw value as the admin reads it: through the fact's conversion when the vocabulary has one."""
    if binding is not None:
        try:
            return index.vocabulary.display(binding.fact, index.convert(binding, raw))
        except (Unmappable, TypeError, ValueError):
            pass
    if isinstance(raw, str):
        return str(redact(raw)) if raw else EMPTY_SHOWN
    return str(redact(_canonical(raw)))


def _catalog_settings(settings: Any, index: OriginIndex) -> Iterator[tuple[str, Setting]]:
    """A settings-catalog policy's setting instances (children included) by ``settingDefinitionId``."""
    for setting in settings if isinstance(settings, list) else ():
        instance = setting.get("settingInstance", setting) if isinstance(setting, dict) else None
        if isinstance(instance, dict):
            yield from _instance(instance, index)


def _instance(instance: Mapping[str, Any], index: OriginIndex) -> Iterator[tuple[str, Setting]]:
    definition = str(instance.get("settingDefinitionId"))
    binding = index.catalog.get(definition)
    label = binding.fact.label if binding else definition
    choice = instance.get("choiceSettingValue")
    if isinstance(choice, dict):
        option = choice.get("value")
        suffix = str(option).removeprefix(definition + "_")
        converted = int(suffix) if suffix.isdigit() and suffix != str(option) else option
        yield definition, Setting(label, _canonical(option), _shown(index, binding, converted))
        for child in choice.get("children") or ():
            if isinstance(child, dict):
                yield from _instance(child, index)
        return
    for name in ("simpleSettingValue", "simpleSettingCollectionValue"):
        value = instance.get(name)
        if isinstance(value, dict):
            yield definition, _setting(index, binding, label, value.get("value"))
            return
        if isinstance(value, list):
            raws = [v.get("value") if isinstance(v, dict) else v for v in value]
            yield definition, Setting(label, _canonical(raws), _shown(index, binding, sorted(raws, key=str)))
            return
    groups = instance.get("groupSettingCollectionValue", instance.get("groupSettingValue"))
    for group in groups if isinstance(groups, list) else [groups] if isinstance(groups, dict) else ():
        for child in group.get("children") or () if isinstance(group, dict) else ():
            if isinstance(child, dict):
                yield from _instance(child, index)
    if groups is None:  # another shape: compared whole, shown as Graph wrote it
        rest = {k: v for k, v in instance.items() if k != "settingDefinitionId"}
        yield definition, Setting(label, _canonical(rest), str(redact(_canonical(rest))))


def _oma_settings(settings: Any, index: OriginIndex) -> Iterator[tuple[str, Setting]]:
    """A custom profile's OMA-URI settings by URI; an encrypted value is never shown nor compared."""
    for setting in settings if isinstance(settings, list) else ():
        if not isinstance(setting, dict):
            continue
        uri = str(setting.get("omaUri", ""))
        bindings = index.csp_node.get(normalise_csp(uri), ())
        binding = bindings[0] if bindings else None
        label = binding.fact.label if binding else uri
        key = f"omaSettings {normalise_csp(uri)}"
        raw = _SECRET if setting.get("isEncrypted") is True else setting.get("value")
        yield key, _setting(index, binding, label, raw)


def _intent_settings(settings: Any, index: OriginIndex) -> Iterator[tuple[str, Setting]]:
    """An intent's settings by the profile property each ``definitionId`` names (its value,
    ``valueJson``, read as JSON; a whole object's properties each on their own)."""
    for setting in settings if isinstance(settings, list) else ():
        if not isinstance(setting, dict):
            continue
        definition = str(setting.get("definitionId", ""))
        head, _, name = definition.partition("_")
        graph_type = head.removeprefix(_INTENT_SOURCE) if head.startswith(_INTENT_SOURCE) and name else ""
        try:
            value = loads_json(setting["valueJson"])
        except (KeyError, TypeError, ValueError):
            value = setting.get("valueJson")
        if not graph_type:
            if value is not None:  # null: not configured
                yield definition, _setting(index, None, definition, value)
            continue
        path = tuple(name.split("_"))
        leaves = _properties(value, path) if isinstance(value, dict) else [(path, value)] if value is not None else []
        for here, raw in leaves:
            key = ".".join(here)
            yield key, _graph_setting(index, graph_type, key, raw)
