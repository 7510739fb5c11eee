"""Which waivers cover each device of a fleet: its names and ids, its groups, its policies.

The waivers are applied after evaluation (``evaluation`` turns the covered failures into
``waived``); this module only says, for a row, which waiver covers which rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..assignments import AssignedPolicies, Assignments, device_keys
from ..facts import Facts
from ..importers import ImportedPolicy
from ..waivers import KnownNames, Waiver, WaiverMatcher


class FleetWaivers:
    """The active waivers of a run and what a fleet row needs to find its own: the assignments'
    groups (a device's groups are those that list one of its names or ids), and the policies."""

    def __init__(
        self,
        matcher: WaiverMatcher,
        policy: Facts | AssignedPolicies | None,
        imported: Iterable[ImportedPolicy] = (),
    ) -> None:
        self.matcher = matcher
        self.assignments = policy.assignments if isinstance(policy, AssignedPolicies) else None
        self.names: dict[str, tuple[str, ...]] = {}  # policy id -> its id and display name
        if isinstance(policy, AssignedPolicies):
            self.names = {p.policy_id: (p.policy_id, p.display_name) for p in policy.policies}
        # Without assignments every device gets every policy: their ids and names, once.
        self.every = tuple(name for p in imported for name in (p.policy_id, p.display_name) if name)

    def for_row(self, data: Any, chosen: frozenset[str]) -> Mapping[str, Waiver]:
        """Rule id -> the waiver covering it on the device of ``data`` given the policies ``chosen``."""
        keys = device_keys(data)
        if self.assignments is None:
            return self.matcher.for_device(keys, (), self.every)
        policies = [name for policy_id in chosen for name in self.names.get(policy_id, (policy_id,)) if name]
        return self.matcher.for_device(keys, groups_of(self.assignments, keys), policies)


def groups_of(assignments: Assignments, keys: Iterable[str]) -> tuple[str, ...]:
    """The groups of an assignment file (or a snapshot) that list a device known by ``keys``."""
    folded = {k.casefold() for k in keys}
    return tuple(g.name for g in assignments.groups if not folded.isdisjoint(g.members))


def known_names(
    rules: Iterable[str],
    policy: Facts | AssignedPolicies | None,
    imported: Iterable[ImportedPolicy],
    devices: Iterable[str] | None,
) -> KnownNames:
    """What a fleet run's waivers may name: its rules, the devices given (None: not read), the
    assignments' groups (None without assignments), the policies' ids and display names."""
    groups = [g.name for g in policy.assignments.groups] if isinstance(policy, AssignedPolicies) else None
    policies = {name for p in imported for name in (p.policy_id, p.display_name) if name}
    if isinstance(policy, AssignedPolicies):
        policies |= {name for p in policy.policies for name in (p.policy_id, p.display_name) if name}
    return KnownNames(frozenset(rules), None if devices is None else frozenset(devices), groups, policies)
