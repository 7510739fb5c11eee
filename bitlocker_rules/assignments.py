"""Which policies apply to which device: an assignment file maps devices and groups to policies.

Without one, every ``--policy`` applies to every device. With one, a device gets the policies
assigned to all devices, to it by name or id, and to every group it is a member of, minus the
policies any of its groups is excluded from (in Intune an exclusion wins over an inclusion).
Policies are named by their id (or display name); devices by name or id, without regard to
case. The policies a device gets are merged once per distinct set, so their conflicts are
found once and every device of the set shares the merged facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from .errors import Diagnostic, InputError, suggest
from .facts import Facts, merge_facts
from .reading import read_json

_SECTIONS = ("all_devices", "groups", "devices")
_GROUP_KEYS = ("members", "policies", "excluded_from")


@frozen
class AssignedPolicy:
    """A policy an assignment file can name: its id, display name and facts."""

    policy_id: str
    display_name: str
    facts: Facts


@frozen
class Group:
    """A group of devices (names or ids, case-folded), the policies assigned to it and excluded from it."""

    name: str
    members: frozenset[str]
    policies: tuple[str, ...]
    excluded_from: tuple[str, ...] = ()


@frozen
class Assignments:
    """An assignment file, its policy names resolved to ids (in the order the policies were given)."""

    all_devices: tuple[str, ...]
    groups: tuple[Group, ...]
    devices: Mapping[str, tuple[str, ...]]  # case-folded device name or id -> policy ids
    unassigned: tuple[str, ...] = ()  # ids of given policies that no device, group or all_devices names

    def policy_ids(self, device_keys: Iterable[str]) -> frozenset[str]:
        """The ids of the policies a device known by any of ``device_keys`` gets."""
        ids, excluded = self.included_and_excluded(device_keys)
        return frozenset(ids - excluded)

    def included_and_excluded(self, device_keys: Iterable[str]) -> tuple[set[str], set[str]]:
        """The ids of the policies assigned to a device known by any of ``device_keys``, and of
        those its groups are excluded from (an exclusion wins)."""
        keys = {k.casefold() for k in device_keys if k}
        ids = set(self.all_devices)
        excluded: set[str] = set()
        for key in keys:
            ids.update(self.devices.get(key, ()))
        for group in self.groups:
            if not keys.isdisjoint(group.members):
                ids.update(group.policies)
                excluded.update(group.excluded_from)
        return ids, excluded


# A device's policies: their ids, their merged facts (None when there is none), how reports name them.
ChosenPolicies = tuple[frozenset[str], Facts | None, tuple[str, ...]]


class AssignedPolicies:
    """The merged policy facts each fleet row gets, merged once per distinct set of policies."""

    def __init__(self, assignments: Assignments, policies: Sequence[AssignedPolicy]) -> None:
        self.assignments = assignments
        self.policies = tuple(policies)
        self._merged: dict[frozenset[str], ChosenPolicies] = {}

    def for_row(self, data: Any) -> tuple[Facts | None, tuple[str, ...]]:
        """The merged policies of the device a fleet row describes (None when it gets none), and
        how reports name those policies, in the order they were given."""
        _, merged, names = self.chosen(data)
        return merged, names

    def chosen(self, data: Any) -> ChosenPolicies:
        """``for_row`` with the ids of the policies chosen first (what tells one set from another)."""
        return self.merged(self.policy_ids(data))

    def chosen_in_scope(self, data: Any) -> tuple[frozenset[str], Facts | None, tuple[str, ...], tuple[str, ...]]:
        """``chosen`` with what decided the device's scope beyond its groups, in words (nothing
        here; a snapshot's assignment filters say what they decided)."""
        return (*self.chosen(data), ())

    def merged(self, ids: frozenset[str]) -> ChosenPolicies:
        """The policies of ``ids``: their merged facts and names, merged once per set."""
        found = self._merged.get(ids)
        if found is None:
            chosen = [p for p in self.policies if p.policy_id in ids]
            merged = merge_facts([p.facts for p in chosen], name="policies") if chosen else None
            found = self._merged[ids] = ids, merged, tuple(p.facts.name or p.policy_id for p in chosen)
        return found

    def policy_ids(self, data: Any) -> frozenset[str]:
        """The ids of the policies the device of fleet row ``data`` gets."""
        return self.assignments.policy_ids(device_keys(data))


def device_keys(data: Any) -> tuple[str, ...]:
    """The names and ids a fleet row knows its device by (own rows, Graph managedDevice rows, and
    a page of one device's records: its managedDevice's)."""
    if not isinstance(data, dict):
        return ()
    if isinstance(data.get("value"), list):  # one device's records: all but its recovery keys name it
        records = [r for r in data["value"] if isinstance(r, dict) and "volumeType" not in r]
        return tuple(dict.fromkeys(key for record in records for key in device_keys(record)))
    keys = (data.get("deviceName"), data.get("id"), data.get("azureADDeviceId"))
    return tuple(k.strip() for k in keys if isinstance(k, str) and k.strip())


def read_assignments(path: str | Path, policies: Sequence[AssignedPolicy]) -> Assignments:
    """Read an assignment file; InputError lists every problem with its JSON path."""
    data, source = read_json(path)
    reader = _Reader(source.name, policies)
    assignments = reader.assignments(data)
    if reader.problems:
        raise InputError(reader.problems)
    return assignments


class _Reader:
    """Checks an assignment file's shape and resolves policy names, collecting every problem."""

    def __init__(self, origin: str, policies: Sequence[AssignedPolicy]) -> None:
        self.origin = origin
        self.problems: list[Diagnostic] = []
        self.by_name: dict[str, str] = {}  # case-folded id or display name -> policy id
        self.names: list[str] = []  # the ids and display names as the policies give them
        for policy in policies:
            for name in (policy.display_name, policy.policy_id):
                if name and name.casefold() not in self.by_name:
                    self.by_name[name.casefold()] = policy.policy_id
                    self.names.append(name)
        self.order = [p.policy_id for p in policies]

    def assignments(self, data: Any) -> Assignments:
        if not isinstance(data, dict):
            self.problem("$", "expected a JSON object with `all_devices`, `groups` and/or `devices`")
            return Assignments((), (), {})
        for key in data:
            if key not in _SECTIONS:
                self.problem(f"$.{key}", f"unknown section `{key}`", suggest(key, _SECTIONS))
        groups = tuple(
            self.group(name, spec, f"$.groups[{json.dumps(name)}]")
            for name, spec in self.mapping(data.get("groups"), "$.groups").items()
        )
        devices = {
            name.strip().casefold(): self.policies(ids, f"$.devices[{json.dumps(name)}]")
            for name, ids in self.mapping(data.get("devices"), "$.devices").items()
        }
        everyone = self.policies(data.get("all_devices", []), "$.all_devices")
        named = {*everyone, *(i for ids in devices.values() for i in ids), *(i for g in groups for i in g.policies)}
        return Assignments(everyone, groups, devices, tuple(i for i in self.order if i not in named))

    def group(self, name: str, spec: Any, path: str) -> Group:
        if not isinstance(spec, dict):
            self.problem(path, "expected an object with `members`, `policies` and `excluded_from`")
            return Group(name, frozenset(), ())
        for key in spec:
            if key not in _GROUP_KEYS:
                self.problem(f"{path}.{key}", f"unknown key `{key}`", suggest(key, _GROUP_KEYS))
        members = frozenset(m.strip().casefold() for m in self.strings(spec.get("members", []), f"{path}.members"))
        return Group(
            name,
            members,
            self.policies(spec.get("policies", []), f"{path}.policies"),
            self.policies(spec.get("excluded_from", []), f"{path}.excluded_from"),
        )

    def policies(self, names: Any, path: str) -> tuple[str, ...]:
        """Policy ids for the names at ``path``, in the order the policies were given."""
        ids = set()
        for index, name in enumerate(self.strings(names, path)):
            found = self.by_name.get(name.strip().casefold())
            if found is None:
                known = ", ".join(f"`{i}`" for i in self.order) or "none (give --policy files)"
                self.problem(
                    f"{path}[{index}]",
                    f"no --policy has the id or display name `{name}`",
                    suggest(name, self.names) or f"the policies given: {known}",
                )
            else:
                ids.add(found)
        return tuple(i for i in self.order if i in ids)

    def strings(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(path, "expected a list of strings")
            return []
        return value

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, "expected a JSON object")
            return {}
        return value

    def problem(self, path: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Diagnostic("I501", message, path=path, file=self.origin, help=hint))
