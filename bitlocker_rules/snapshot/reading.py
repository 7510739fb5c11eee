"""A complete snapshot's policies and the assignments that give them to devices.

The policies go through the importers, as ``--policy`` files do (each named by its file and
line, ``FILE.jsonl#LINE``, which SARIF locates); their assignment targets become an
``Assignments`` (all devices; each group with its transitive device members, the policies
assigned to it and those it is excluded from), so a snapshot is checked by the same assignment
machinery as an assignment file, and the assignments with a filter are kept to be decided device
by device (``scope``). What the snapshot holds and the check cannot use is said, never dropped
silently (``TenantSnapshot.notes``): an assignment to all users (not device-scoped), a filter
that cannot always be evaluated, a policy the importers cannot read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from ..assignments import AssignedPolicy, Assignments, Group
from ..errors import BitLockerRulesError, Diagnostic, redact
from ..importers import ImportedPolicy, import_policies
from ..importers.imported import UNREADABLE
from ..vocabulary import Vocabulary
from .files import (
    ALL_DEVICES,
    ALL_USERS,
    EXCLUSION,
    FILTER_ID,
    FILTER_TYPE,
    GROUP,
    GROUP_ANNOTATION,
    POLICY_ANNOTATION,
    POLICY_KINDS,
    RecordLine,
    complete_manifest,
    devices_path,
    records,
)
from .scope import AssignmentFilter, FilteredTarget, SnapshotPolicies, assignment_filter, filter_notes


@frozen
class TenantSnapshot:
    """A snapshot's policies as imported, the assignments they have, and what the check cannot use."""

    folder: Path
    manifest: Mapping[str, Any]
    policies: tuple[ImportedPolicy, ...]
    assigned: tuple[AssignedPolicy, ...]
    assignments: Assignments
    notes: tuple[str, ...] = ()
    filtered: tuple[FilteredTarget, ...] = ()  # the assignments with a filter (not in ``assignments``)
    stored: tuple[Mapping[str, Any], ...] = ()  # each policy's record as the snapshot holds it, in order
    group_names: Mapping[str, str] = field(factory=dict)  # each group's displayName, by id

    def policy_records(self) -> list[tuple[Mapping[str, Any], ImportedPolicy]]:
        """Each policy's Graph record as stored (an intent as itself, not as its profile) with
        what the importers made of it: what ``repair --emit`` writes a change into."""
        return list(zip(self.stored, self.policies, strict=True))

    @property
    def devices_path(self) -> Path:
        """The managed devices' file: the fleet to stream."""
        return devices_path(self.folder)

    def policies_per_device(self) -> SnapshotPolicies:
        """The policies each managed device gets, filters evaluated on its record."""
        return SnapshotPolicies(self.assignments, self.assigned, self.filtered)


def read_snapshot(folder: str | Path, vocabulary: Vocabulary) -> TenantSnapshot:
    """A complete snapshot's policies and assignments (its devices are streamed: ``devices_path``)."""
    folder = Path(folder)
    manifest = complete_manifest(folder)
    notes: list[str] = []
    read: list[tuple[dict, ImportedPolicy]] = []
    for kind, _ in POLICY_KINDS:
        # Each kind by id, not in the order Graph listed them (which varies from one read to the
        # next): a conflict names its policies in this order, so two pulls check the same.
        read += sorted(_policies(folder, manifest, kind, vocabulary, notes), key=lambda pair: pair[1].policy_id)
    policies = [policy for _, policy in read]
    order = list(dict.fromkeys(p.policy_id for p in policies))
    members = _members(folder, manifest)
    assigning = _Assigning(order, members, _filters(folder, manifest), notes)
    for _, kind in POLICY_KINDS:
        for number, record in enumerate(records(folder, manifest, kind), 1):
            assigning.target(record, RecordLine(folder, kind, number))
    assignments = assigning.assignments()
    assigned = tuple(AssignedPolicy(p.policy_id, p.display_name, p.facts) for p in policies)
    filtered = tuple(assigning.filtered)
    notes += filter_notes(filtered)
    stored = tuple(record for record, _ in read)
    names = group_names(folder, manifest)
    return TenantSnapshot(
        folder, manifest, tuple(policies), assigned, assignments, tuple(notes), filtered, stored, names
    )


def group_names(folder: Path, manifest: Mapping[str, Any]) -> dict[str, str]:
    """The display name of each group the snapshot holds (the groups its assignments name), by id."""
    return {
        str(record["id"]): str(redact(str(record["displayName"])))
        for record in records(folder, manifest, "groups")
        if record.get("id") and isinstance(record.get("displayName"), str) and record["displayName"].strip()
    }


def _policies(
    folder: Path, manifest: Mapping[str, Any], kind: str, vocabulary: Vocabulary, notes: list[str]
) -> list[tuple[dict, ImportedPolicy]]:
    """The policies of one kind through the importers, each with its stored record; one they
    cannot read is noted and left out."""
    found: list[tuple[dict, ImportedPolicy]] = []
    for number, stored in enumerate(records(folder, manifest, kind), 1):
        origin = f"{folder / kind}.jsonl#{number}"  # the file and line a SARIF location points at
        try:
            read = [p for p in import_policies(stored, vocabulary, origin=origin) if p.policy_id]
        except BitLockerRulesError as exc:
            name = stored.get("displayName") or stored.get("name") or stored.get("id") or origin
            notes.append(f"{kind} `{name}` is not checked: the importers cannot read it ({exc.diagnostics[0].message})")
            continue
        found += [(stored, p) for p in read]
        if kind == "intents":  # an intent's setting the importers cannot read is said, as before
            notes += [f"{kind} `{p.display_name or p.policy_id}`: {n.message}" for p in read for n in unread(p)]
    return found


def unread(policy: ImportedPolicy) -> list[Diagnostic]:
    """The notices of what a policy holds and the importers could not read."""
    return [n for n in policy.notices if n.code == UNREADABLE]


def _members(folder: Path, manifest: Mapping[str, Any]) -> dict[str, set[str]]:
    """Each group's transitive device members, by the Entra device id a managed device carries
    as ``azureADDeviceId`` (case-folded, as ``Assignments`` compares device keys)."""
    members: dict[str, set[str]] = defaultdict(set)
    for number, member in enumerate(records(folder, manifest, "group_members"), 1):
        group, device = member.get(GROUP_ANNOTATION), member.get("deviceId")
        if not isinstance(group, str):  # pull names each member's group
            line = RecordLine(folder, "group_members", number)
            raise line.damaged((GROUP_ANNOTATION,), group, "the group's id (a string)")
        if isinstance(device, str) and device.strip():  # a member without one is no managed device's
            members[group].add(device.strip().casefold())
    return members


def _filters(folder: Path, manifest: Mapping[str, Any]) -> dict[str, AssignmentFilter]:
    """Each assignment filter, its rule parsed, by id."""
    found = {}
    for number, record in enumerate(records(folder, manifest, "assignment_filters"), 1):
        if not isinstance(record.get("id"), str):  # Graph gives every filter its id
            line = RecordLine(folder, "assignment_filters", number)
            raise line.damaged(("id",), record.get("id"), "the filter's id (a string)")
        found[record["id"]] = assignment_filter(record)
    return found


class _Assigning:
    """Assignment records (Graph's targets, annotated with their policy) → ``Assignments``."""

    def __init__(
        self,
        order: list[str],
        members: Mapping[str, set[str]],
        filters: Mapping[str, AssignmentFilter],
        notes: list[str],
    ) -> None:
        self.order, self.members, self.filters, self.notes = order, members, filters, notes
        self.filtered: list[FilteredTarget] = []
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

    def target(self, record: dict, line: RecordLine) -> None:
        """One assignment (at ``line``): its policy gets all devices, a group, or a group excluded."""
        policy = record.get(POLICY_ANNOTATION)
        policy_id = policy.get("id") if isinstance(policy, dict) else None
        target = record.get("target")
        if not isinstance(policy_id, str):  # pull names each assignment's policy, as Graph gives a target
            raise line.damaged((POLICY_ANNOTATION, "id"), policy_id, "the id of the policy assigned (a string)")
        if not isinstance(target, dict):
            raise line.damaged(("target",), target, "the assignment's target (an object)")
        if policy_id not in self.known:
            return  # a policy not read (noted already), or one the rules do not read (no BitLocker setting)
        kind, group = target.get("@odata.type"), target.get("groupId")
        if target.get(FILTER_ID) and kind in (ALL_DEVICES, GROUP) and (kind == ALL_DEVICES or isinstance(group, str)):
            self._filtered(policy_id, group if kind == GROUP else None, target)
        elif kind == ALL_DEVICES:
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

    def _filtered(self, policy_id: str, group: str | None, target: Mapping[str, Any]) -> None:
        """An assignment with a filter: kept to be decided device by device (``SnapshotPolicies``)."""
        filter_id = str(target[FILTER_ID])
        mode = str(target.get(FILTER_TYPE) or "include").casefold()
        found = self.filters.get(filter_id) or AssignmentFilter(
            filter_id, filter_id, None, ("the snapshot does not hold this filter",)
        )
        if mode not in ("include", "exclude"):
            found = AssignmentFilter(filter_id, found.name, None, (f"filter mode `{mode}` is not include or exclude",))
            mode = "include"
        members = frozenset(self.members.get(group, ())) if group is not None else frozenset()
        self.filtered.append(FilteredTarget(policy_id, group, members, mode, found))
