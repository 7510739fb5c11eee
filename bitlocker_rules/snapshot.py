"""A pulled tenant snapshot read back: its policies, who they are assigned to, and its devices.

``pull`` (``tenant/``) writes a folder of Graph records as JSON Lines and a ``manifest.json``;
this module is what reads it, below the fleet (which cannot import ``tenant``). The manifest is
checked first (a snapshot that is not complete is refused: ``pull --resume`` finishes it). The
policies go through the importers, as ``--policy`` files do; their assignment targets become an
``Assignments`` (all devices; each group with its transitive device members, the policies
assigned to it and those it is excluded from), so a snapshot is checked by the same assignment
machinery as an assignment file. The managed devices are not read here: they are the fleet,
streamed row by row from ``managed_devices.jsonl`` (``devices_path``).

An assignment with an assignment filter is decided device by device (``SnapshotPolicies``): the
filter's rule (``assignment_filters``) is evaluated on the device's managedDevice record, with
Intune's precedence between exclude filters, no filter and include filters; where a filter
cannot be decided (a property the record lacks or this version cannot read faithfully, an
operator such as ``-match``, a rule that cannot be parsed) the assignment applies as if it had
no filter, and each decision is recorded (``SnapshotPolicies.scope``).

What the snapshot holds and the check cannot use is said, never dropped silently
(``TenantSnapshot.notes``): an assignment to all users (not device-scoped), a filter that
cannot always be evaluated, a policy the importers cannot read. An endpoint-security intent is
read as the Endpoint protection profile its settings make (``intent_as_profile``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from .assignment_filters import FilterSyntaxError, Match, Rule, parse_filter, problems
from .assignments import AssignedPolicies, AssignedPolicy, Assignments, Group, device_keys
from .errors import BitLockerRulesError, Diagnostic, InputError
from .facts import Facts
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
    filtered: tuple[FilteredTarget, ...] = ()  # the assignments with a filter (not in ``assignments``)

    @property
    def devices_path(self) -> Path:
        """The managed devices' file: the fleet to stream."""
        return devices_path(self.folder)

    def policies_per_device(self) -> SnapshotPolicies:
        """The policies each managed device gets, filters evaluated on its record."""
        return SnapshotPolicies(self.assignments, self.assigned, self.filtered)


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
        policies += _policies(folder, manifest, kind, vocabulary, notes)
    order = list(dict.fromkeys(p.policy_id for p in policies))
    members = _members(folder, manifest)
    assigning = _Assigning(order, members, _filters(folder, manifest), notes)
    for _, kind in POLICY_KINDS:
        for record in _records(folder, manifest, kind):
            assigning.target(record)
    assignments = assigning.assignments()
    assigned = tuple(AssignedPolicy(p.policy_id, p.display_name, p.facts) for p in policies)
    filtered = tuple(assigning.filtered)
    notes += _filter_notes(filtered)
    return TenantSnapshot(folder, manifest, tuple(policies), assigned, assignments, tuple(notes), filtered)


def _records(folder: Path, manifest: Mapping[str, Any], kind: str) -> Iterator[dict]:
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
    for number, stored in enumerate(_records(folder, manifest, kind), 1):
        origin = f"{folder / kind}.jsonl#{number}"  # the file and line a SARIF location points at
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
    for member in _records(folder, manifest, "group_members"):
        group, device = member.get(GROUP_ANNOTATION), member.get("deviceId")
        if isinstance(group, str) and isinstance(device, str) and device.strip():
            members[group].add(device.strip().casefold())
    return members


def _filters(folder: Path, manifest: Mapping[str, Any]) -> dict[str, AssignmentFilter]:
    """Each assignment filter, its rule parsed, by id."""
    found = {}
    for record in _records(folder, manifest, "assignment_filters"):
        if record.get("id"):
            found[str(record["id"])] = assignment_filter(record)
    return found


def assignment_filter(record: Mapping[str, Any]) -> AssignmentFilter:
    """A Graph ``deviceAndAppManagementAssignmentFilter`` with its rule parsed (or why it cannot be)."""
    name = str(record.get("displayName") or record["id"])
    rule = record.get("rule")
    if not isinstance(rule, str):
        return AssignmentFilter(str(record["id"]), name, None, ("the filter has no rule",))
    try:
        parsed = parse_filter(rule)
    except FilterSyntaxError as exc:
        why = f"its rule cannot be read at column {exc.column}: {exc}"
        return AssignmentFilter(str(record["id"]), name, None, (why,))
    return AssignmentFilter(str(record["id"]), name, parsed, problems(parsed))


@frozen
class AssignmentFilter:
    """An assignment filter: its id, name, parsed rule (None when it cannot be parsed), and what
    of it can never be evaluated here (a property or operator; empty: all of it can)."""

    filter_id: str
    name: str
    rule: Rule | None
    unevaluable: tuple[str, ...] = ()

    def match(self, device: Mapping[str, Any]) -> Match:
        """The rule on a managedDevice record (None: not evaluated, with why)."""
        return self.rule.evaluate(device) if self.rule is not None else Match(None, self.unevaluable)


@frozen
class FilteredTarget:
    """An assignment with a filter: its policy, its group (None: all devices), the filter and its mode."""

    policy_id: str
    group: str | None
    members: frozenset[str]
    mode: str  # include or exclude
    filter: AssignmentFilter


@frozen
class FilterDecision:
    """What an assignment filter decided for one device and policy: ``applied`` (the policy is
    given), ``not applied``, or ``not evaluated`` (given as if the assignment had no filter), and why."""

    policy_id: str
    filter: str
    mode: str
    outcome: str
    why: tuple[str, ...] = ()

    def text(self) -> str:
        """The decision in a sentence (the filter's name in backticks)."""
        if self.outcome == NOT_EVALUATED:
            return f"filter `{self.filter}` ({self.mode}) not evaluated ({'; '.join(self.why)}): applied as if absent"
        matched = (self.outcome == APPLIED) == (self.mode == "include")
        verdict = "the policy applies" if self.outcome == APPLIED else "the policy does not apply"
        return f"filter `{self.filter}` ({self.mode}) {'matched' if matched else 'did not match'}: {verdict}"


class SnapshotPolicies(AssignedPolicies):
    """``AssignedPolicies`` with a snapshot's assignment filters evaluated on each device's record.

    Intune's precedence for one policy and one device (Filter reports and troubleshooting,
    "Filters and assignment conflict resolution"): an excluded group wins; then an assignment
    with an exclude filter (the policy applies unless the device matches one of them); then an
    assignment with no filter; then include filters (the policy applies if the device matches
    one of them). A filter that cannot be decided for the device leaves its assignment applied
    as if it had no filter, and says so (``scope``).
    """

    def __init__(
        self, assignments: Assignments, policies: Sequence[AssignedPolicy], filtered: Sequence[FilteredTarget]
    ) -> None:
        super().__init__(assignments, policies)
        self.filtered = tuple(filtered)
        self.names = {p.policy_id: p.facts.name or p.policy_id for p in self.policies}

    def policy_ids(self, data: Any) -> frozenset[str]:
        """The ids of the policies the device of managedDevice row ``data`` gets."""
        return self.scope(data)[0] if self.filtered else super().policy_ids(data)

    def chosen_in_scope(self, data: Any) -> tuple[frozenset[str], Facts | None, tuple[str, ...], tuple[str, ...]]:
        """``chosen``, with each filter decision on the device in words, naming its policy."""
        if not self.filtered:
            return super().chosen_in_scope(data)
        ids, decisions = self.scope(data)
        return (*self.merged(ids), tuple(f"{self.names[d.policy_id]}: {d.text()}" for d in decisions))

    def scope(self, data: Any) -> tuple[frozenset[str], tuple[FilterDecision, ...]]:
        """The ids of the policies the device gets, and each filter decision on the way."""
        keys = device_keys(data)
        ids, excluded = self.assignments.included_and_excluded(keys)
        given = ids - excluded
        folded = {k.casefold() for k in keys}
        by_policy: dict[str, list[FilteredTarget]] = defaultdict(list)
        for target in self.filtered:
            if target.policy_id not in excluded and (target.group is None or not folded.isdisjoint(target.members)):
                by_policy[target.policy_id].append(target)
        decisions: list[FilterDecision] = []
        device = data if isinstance(data, dict) else {}
        for policy_id, targets in by_policy.items():
            if _filtered_policy(policy_id, targets, policy_id in given, device, decisions):
                given.add(policy_id)
            else:
                given.discard(policy_id)
        return frozenset(given), tuple(decisions)


def _filtered_policy(
    policy_id: str, targets: list[FilteredTarget], unfiltered: bool, device: Mapping[str, Any], decisions: list
) -> bool:
    """Whether ``policy_id`` applies, given the filtered assignments that name the device (Intune's
    precedence: exclude filters, then no filter, then include filters; within a mode, any match)."""
    excluding = [t for t in targets if t.mode == "exclude"]
    if not excluding and unfiltered:
        return True
    including = not excluding  # a match applies the policy (include) or withholds it (exclude)
    results = [(t, t.filter.match(device)) for t in excluding or targets]
    matched = next((t for t, r in results if r.value is True), None)
    unknown = next(((t, r) for t, r in results if r.value is None), None)
    if matched is None and unknown is not None:
        target, result = unknown
        decisions.append(FilterDecision(policy_id, target.filter.name, target.mode, NOT_EVALUATED, result.unknown))
        return True
    target = matched or results[0][0]
    applies = including == (matched is not None)
    decisions.append(FilterDecision(policy_id, target.filter.name, target.mode, APPLIED if applies else NOT_APPLIED))
    return applies


APPLIED, NOT_APPLIED, NOT_EVALUATED = "applied", "not applied", "not evaluated"


def _filter_notes(filtered: Sequence[FilteredTarget]) -> list[str]:
    """A note for each filter that cannot always be evaluated, naming what of it cannot."""
    seen: dict[str, AssignmentFilter] = {t.filter.filter_id: t.filter for t in filtered}
    return [
        f"assignment filter `{f.name}` is not evaluated where it depends on what this version cannot read "
        f"({'; '.join(f.unevaluable)}); there its assignments apply as if they had no filter"
        for f in seen.values()
        if f.unevaluable
    ]


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

    def target(self, record: dict) -> None:
        """One assignment: its policy gets all devices, a group, or a group excluded."""
        policy = record.get(POLICY_ANNOTATION)
        policy_id = policy.get("id") if isinstance(policy, dict) else None
        target = record.get("target")
        if policy_id not in self.known or not isinstance(target, dict):
            return  # a policy not read (noted already), or not an assignment
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
