"""A pulled tenant snapshot read back: its policies, who they are assigned to, and its devices.

``pull`` (``tenant/``) writes a folder of Graph records as JSON Lines and a ``manifest.json``;
this module is what reads it, below the fleet (which cannot import ``tenant``). The manifest is
checked first (a snapshot that is not complete is refused: ``pull --resume`` finishes it). The
policies go through the importers, as ``--policy`` files do; their assignment targets become an
``Assignments`` (all devices; each group with its transitive device members, the policies
assigned to it and those it is excluded from), so a snapshot is checked by the same assignment
machinery as an assignment file. The managed devices are not read here: they are the fleet,
streamed row by row from ``managed_devices.jsonl`` (``devices_path``).

What the snapshot holds and the check cannot use is said, never dropped silently
(``TenantSnapshot.notes``): an assignment to all users (not device-scoped), an assignment
filter (recorded; not evaluated: its rule reads device properties such as the manufacturer or
model, which no fact of the vocabulary holds, so the assignment is applied as if the filter
matched), a policy the importers cannot read. An endpoint-security intent is read as the
Endpoint protection profile its settings make (``intent_as_profile``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from .assignments import AssignedPolicy, Assignments, Group
from .errors import BitLockerRulesError, Diagnostic, InputError
from .importers import ImportedPolicy, import_policies
from .vocabulary import Vocabulary

SCHEMA = "bitlocker-rules-snapshot"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
DEVICES = "managed_devices"

# Each kind of policy a pull keeps, with the kind of its assignments.
POLICY_KINDS = (
    ("device_configurations", "device_configuration_assignments"),
    ("configuration_policies", "configuration_policy_assignments"),
    ("intents", "intent_assignments"),
)
POLICY_ANNOTATION = "@bitlockerRules.policy"
GROUP_ANNOTATION = "@bitlockerRules.groupId"

ALL_DEVICES = "#microsoft.graph.allDevicesAssignmentTarget"
ALL_USERS = "#microsoft.graph.allLicensedUsersAssignmentTarget"
GROUP = "#microsoft.graph.groupAssignmentTarget"
EXCLUSION = "#microsoft.graph.exclusionGroupAssignmentTarget"
FILTER_ID = "deviceAndAppManagementAssignmentFilterId"
FILTER_TYPE = "deviceAndAppManagementAssignmentFilterType"

SNAPSHOT_PROBLEM = "I601"  # a folder that is not a complete snapshot this version reads


@frozen
class TenantSnapshot:
    """A snapshot's policies as imported, the assignments they have, and what the check cannot use."""

    folder: Path
    manifest: Mapping[str, Any]
    policies: tuple[ImportedPolicy, ...]
    assigned: tuple[AssignedPolicy, ...]
    assignments: Assignments
    notes: tuple[str, ...] = ()

    @property
    def devices_path(self) -> Path:
        """The managed devices' file: the fleet to stream."""
        return devices_path(self.folder)


def devices_path(folder: str | Path) -> Path:
    """The managed devices' file of the snapshot in ``folder``."""
    return Path(folder) / f"{DEVICES}.jsonl"


def manifest_path(folder: str | Path) -> Path:
    """The manifest of the snapshot in ``folder``."""
    return Path(folder) / MANIFEST


def snapshot_error(folder: str | Path, message: str, help: str | None = None) -> InputError:
    """An ``InputError`` about the snapshot in ``folder`` (the command line exits 2)."""
    return InputError([Diagnostic(SNAPSHOT_PROBLEM, message, file=str(folder), help=help)])


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """A snapshot's manifest, checked to be one this version reads (its shape only; see
    ``complete_manifest`` for a snapshot to check)."""
    path = manifest_path(folder)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise snapshot_error(folder, "this folder holds no snapshot (no manifest.json)") from None
    except (OSError, ValueError) as exc:
        raise snapshot_error(folder, f"manifest.json cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise snapshot_error(folder, "manifest.json is not a bitlocker-rules snapshot manifest")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise snapshot_error(
            folder,
            f"the snapshot's schema version is {manifest.get('schema_version')!r}; this version reads {SCHEMA_VERSION}",
        )
    shapes = {"units": dict, "kinds": dict, "skipped": list, "complete": bool}
    damaged = [key for key, shape in shapes.items() if not isinstance(manifest.get(key), shape)]
    if damaged:
        raise snapshot_error(folder, f"manifest.json is damaged ({', '.join(damaged)})")
    return manifest


def complete_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a complete snapshot; an incomplete one is refused, with how to finish it."""
    manifest = read_manifest(folder)
    if manifest["complete"] is not True:
        why = manifest.get("error") or "the pull has not finished"
        raise snapshot_error(
            folder,
            f"this snapshot is incomplete ({why})",
            help="finish it with `bitlocker-rules pull --out <folder> --resume` (the same --graph-url and --auth)",
        )
    return manifest


def read_snapshot(folder: str | Path, vocabulary: Vocabulary) -> TenantSnapshot:
    """A complete snapshot's policies and assignments (its devices are streamed: ``devices_path``)."""
    folder = Path(folder)
    manifest = complete_manifest(folder)
    notes: list[str] = []
    policies: list[ImportedPolicy] = []
    for kind, _ in POLICY_KINDS:
        # Each kind by id, not in the order Graph listed them (which varies from one read to the
        # next): a conflict names its policies in this order, so two pulls check the same.
        policies += sorted(_policies(folder, manifest, kind, vocabulary, notes), key=lambda p: p.policy_id)
    order = list(dict.fromkeys(p.policy_id for p in policies))
    assigning = _Assigning(order, _members(folder, manifest), _filters(folder, manifest), notes)
    for _, kind in POLICY_KINDS:
        for record in snapshot_records(folder, manifest, kind):
            assigning.target(record)
    assignments = assigning.assignments()
    assigned = tuple(AssignedPolicy(p.policy_id, p.display_name, p.facts) for p in policies)
    return TenantSnapshot(folder, manifest, tuple(policies), assigned, assignments, tuple(notes))


def snapshot_records(folder: Path, manifest: Mapping[str, Any], kind: str) -> Iterator[dict]:
    """The records of ``kind`` one at a time (none when the snapshot has no such file)."""
    entry = manifest["kinds"].get(kind)
    if not isinstance(entry, dict):
        return
    path = folder / f"{kind}.jsonl"
    try:
        with path.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, 1):
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise snapshot_error(folder, f"{path.name} line {number} is not JSON ({exc})") from None
                if not isinstance(record, dict):
                    raise snapshot_error(folder, f"{path.name} line {number} is not a JSON object")
                yield record
    except OSError as exc:
        raise snapshot_error(
            folder, f"{path.name} cannot be read ({exc.strerror or exc})", help="pull again into a new folder"
        ) from None


def _policies(
    folder: Path, manifest: Mapping[str, Any], kind: str, vocabulary: Vocabulary, notes: list[str]
) -> list[ImportedPolicy]:
    """The policies of one kind through the importers; one they cannot read is noted and left out."""
    found = []
    for number, stored in enumerate(snapshot_records(folder, manifest, kind), 1):
        origin = f"{folder.name}/{kind}.jsonl#{number}"
        record = intent_as_profile(stored, notes) if kind == "intents" else stored
        try:
            found += [p for p in import_policies(record, vocabulary, origin=origin) if p.policy_id]
        except BitLockerRulesError as exc:
            name = record.get("displayName") or record.get("name") or record.get("id") or origin
            notes.append(f"{kind} `{name}` is not checked: the importers cannot read it ({exc.diagnostics[0].message})")
    return found


def intent_as_profile(intent: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """An endpoint-security intent as the Endpoint protection profile its settings are made of.

    Each setting of a disk encryption intent names the profile property it sets
    (``definitionId`` ``deviceConfiguration--windows10EndpointProtectionConfiguration_<property>``)
    and carries the value as JSON text (``valueJson``: Graph's ``deviceManagementSettingInstance``),
    so the intent reads as that profile through the importers that read profiles. A property of
    a nested object is named by its path (``..._bitLockerSystemDrivePolicy_encryptionMethod``:
    Graph's property names have no ``_``); a setting of another shape is noted, not guessed."""
    profile: dict[str, Any] = {
        "@odata.type": _PROFILE_TYPE,
        "id": intent.get("id"),
        "displayName": intent.get("displayName"),
    }
    settings = intent.get("settings")
    for setting in settings if isinstance(settings, list) else ():
        definition = setting.get("definitionId") if isinstance(setting, dict) else None
        prefix, _, name = str(definition).partition("_")
        try:
            value = json.loads(setting["valueJson"]) if prefix == _INTENT_PREFIX and name else _UNREAD
        except (KeyError, TypeError, ValueError):
            value = _UNREAD
        if value is _UNREAD:
            notes.append(f"intents `{profile['displayName'] or profile['id']}`: setting `{definition}` is not read")
        elif value is not None:  # null: not configured
            _place(profile, name.split("_"), value)
    return profile


def _place(profile: dict[str, Any], path: list[str], value: Any) -> None:
    """``value`` at ``path`` in ``profile``, merged into an object a whole setting gave there."""
    *parents, last = path
    for key in parents:
        child = profile.get(key)
        profile = profile.setdefault(key, {}) if not isinstance(child, dict) else child
    if isinstance(value, dict) and isinstance(profile.get(last), dict):
        profile[last].update(value)
    else:
        profile[last] = value


_PROFILE_TYPE = "#microsoft.graph.windows10EndpointProtectionConfiguration"
_INTENT_PREFIX = "deviceConfiguration--windows10EndpointProtectionConfiguration"
_UNREAD = object()


def _members(folder: Path, manifest: Mapping[str, Any]) -> dict[str, set[str]]:
    """Each group's transitive device members, by the Entra device id a managed device carries
    as ``azureADDeviceId`` (case-folded, as ``Assignments`` compares device keys)."""
    members: dict[str, set[str]] = defaultdict(set)
    for member in snapshot_records(folder, manifest, "group_members"):
        group, device = member.get(GROUP_ANNOTATION), member.get("deviceId")
        if isinstance(group, str) and isinstance(device, str) and device.strip():
            members[group].add(device.strip().casefold())
    return members


def _filters(folder: Path, manifest: Mapping[str, Any]) -> dict[str, str]:
    """Each assignment filter's display name (or id), by id."""
    return {
        str(f["id"]): str(f.get("displayName") or f["id"])
        for f in snapshot_records(folder, manifest, "assignment_filters")
        if f.get("id")
    }


class _Assigning:
    """Assignment records (Graph's targets, annotated with their policy) → ``Assignments``."""

    def __init__(
        self, order: list[str], members: Mapping[str, set[str]], filters: Mapping[str, str], notes: list[str]
    ) -> None:
        self.order, self.members, self.filters, self.notes = order, members, filters, notes
        self.known = set(order)
        self.everyone: set[str] = set()
        self.included: dict[str, set[str]] = defaultdict(set)  # group id -> policy ids
        self.excluded: dict[str, set[str]] = defaultdict(set)
        self.named: set[str] = set()

    def assignments(self) -> Assignments:
        """What the targets read so far give: one ``Group`` per group named (members, included, excluded)."""
        groups = tuple(
            Group(
                group,
                frozenset(self.members.get(group, ())),
                self._ordered(self.included.get(group, set())),
                self._ordered(self.excluded.get(group, set())),
            )
            for group in sorted(self.included.keys() | self.excluded.keys())
        )
        unassigned = tuple(i for i in self.order if i not in self.named)
        return Assignments(self._ordered(self.everyone), groups, {}, unassigned)

    def _ordered(self, ids: set[str]) -> tuple[str, ...]:
        """``ids`` in the order the policies were read (the order reports name them in)."""
        return tuple(i for i in self.order if i in ids)

    def target(self, record: dict) -> None:
        """One assignment: its policy gets all devices, a group, or a group excluded."""
        policy = record.get(POLICY_ANNOTATION)
        policy_id = policy.get("id") if isinstance(policy, dict) else None
        target = record.get("target")
        if policy_id not in self.known or not isinstance(target, dict):
            return  # a policy not read (noted already), or not an assignment
        kind, group = target.get("@odata.type"), target.get("groupId")
        if target.get(FILTER_ID) and kind != EXCLUSION:
            self._filter_note(policy_id, target)
        if kind == ALL_DEVICES:
            self.everyone.add(policy_id)
        elif kind == ALL_USERS:
            self.notes.append(
                f"policy {policy_id} is assigned to all users: not device-scoped, so it is not given to any device here"
            )
            return
        elif kind == GROUP and isinstance(group, str):
            self.included[group].add(policy_id)
        elif kind == EXCLUSION and isinstance(group, str):
            self.excluded[group].add(policy_id)
        else:
            self.notes.append(f"policy {policy_id} has an assignment target this version does not read ({kind})")
            return
        self.named.add(policy_id)

    def _filter_note(self, policy_id: str, target: Mapping[str, Any]) -> None:
        filter_id = str(target[FILTER_ID])
        name = self.filters.get(filter_id, filter_id)
        how = target.get(FILTER_TYPE) or "include"
        self.notes.append(
            f"policy {policy_id}: assignment filter `{name}` ({how}) is not evaluated "
            "(its rule reads device properties no fact holds); the assignment is applied as if it matched"
        )
