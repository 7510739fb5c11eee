"""A plan's two states: today's policies and assignments, and the proposal's.

The proposal changes today's state in three ways, applied in this order: policy files
(``--proposal-policy``: a policy whose id, or display name when it has no id, is one of
today's replaces it; any other is added), patch files (``--patch``: a Graph PATCH body applied
over one of today's policies as exported) and an assignment file (``--proposal-assignments``,
in place of today's). Both states are the fleet's policies: their merged facts when there is
no assignment file, ``AssignedPolicies`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import field, frozen

from ..assignments import AssignedPolicies, AssignedPolicy, Assignments, read_assignments
from ..engine import Engine
from ..errors import Diagnostic, InputError, suggest
from ..facts import Facts, merge_facts
from ..fleet.job import FleetJob
from ..importers import ImportedPolicy, import_policies
from ..reading import read_json
from ..snapshot import SnapshotPolicies, read_snapshot
from ..snapshot.scope import FilteredTarget
from .patches import Patch, read_patch

Policies = Facts | AssignedPolicies | None


def _paths(paths: Iterable[str]) -> tuple[str, ...]:
    return tuple(paths)


@frozen
class Proposal:
    """What a plan proposes: changed or new policy files, patch files, and an assignment file."""

    policies: tuple[str, ...] = field(default=(), converter=_paths)
    patches: tuple[str, ...] = field(default=(), converter=_paths)
    assignments: str | None = None


@frozen
class PlanStates:
    """Today's policies and the proposal's, as the fleet takes them, and what the proposal did:
    the ids of the policies it replaced, patched and added, and notes (policies assigned to no device)."""

    before: Policies
    after: Policies
    replaced: tuple[str, ...] = ()
    patched: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    group_names: Mapping[str, str] = field(factory=dict)  # a snapshot's groups' display names, by id


@frozen
class _Today:
    """Today's policies as an assignment file names them, the parsed files they came from, and the assignments."""

    policies: tuple[AssignedPolicy, ...]
    files: tuple[tuple[str, Any], ...]  # (file name, parsed JSON) of each --policy file
    assignments: Assignments | None
    assignment_file: str | None
    filtered: tuple[FilteredTarget, ...] = ()  # a snapshot's assignments with filters, decided per device
    group_names: Mapping[str, str] = field(factory=dict)  # a snapshot's groups' display names, by id


def plan_states(job: FleetJob, proposal: Proposal, engine: Engine) -> PlanStates:
    """Both states of a plan, every input read once; InputError for a proposal that names no policy of today's."""
    today = _today(job, engine)
    after = list(today.policies)
    replaced, added = _apply_policies(after, proposal.policies, engine)
    patched_ids = tuple(_apply_patch(after, today.files, read_patch(path), engine) for path in proposal.patches)
    before_state = _state(today.policies, today.assignments, today.filtered)
    after_assignments = _after_assignments(today, proposal, after)
    notes = tuple(
        f"policy `{p.policy_id}` is assigned to no device"
        for p in after
        if after_assignments is not None and p.policy_id in after_assignments.unassigned
    )
    # A proposal's own assignment file replaces today's assignments, filters included.
    after_filtered = today.filtered if proposal.assignments is None else ()
    after_state = _state(after, after_assignments, after_filtered)
    return PlanStates(before_state, after_state, replaced, patched_ids, added, notes, today.group_names)


def _today(job: FleetJob, engine: Engine) -> _Today:
    if job.snapshot is not None:
        tenant = read_snapshot(job.snapshot, engine.vocabulary)
        records = tuple((p.origin, record) for record, p in tenant.policy_records())  # what a --patch applies to
        return _Today(tuple(tenant.assigned), records, tenant.assignments, None, tenant.filtered, tenant.group_names)
    files = []
    policies = []
    for path in job.policies:
        data, source = read_json(path)
        files.append((source.name, data))
        policies += _assigned(import_policies(data, engine.vocabulary, origin=source.name), source.name)
    assignments = read_assignments(job.assignments, policies) if job.assignments else None
    return _Today(tuple(policies), tuple(files), assignments, job.assignments)


def _assigned(imported: Sequence[ImportedPolicy], name: str) -> list[AssignedPolicy]:
    """Imported policies as an assignment file names them (as ``FleetJob.setup`` does)."""
    return [
        AssignedPolicy(p.policy_id or p.display_name or f"{name}#{i}", p.display_name, p.facts)
        for i, p in enumerate(imported)
    ]


def _apply_policies(
    policies: list[AssignedPolicy], paths: Sequence[str], engine: Engine
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Put each proposed policy in place of today's of the same id (or name), or add it."""
    replaced, added = [], []
    for path in paths:
        data, source = read_json(path)
        for proposed in _assigned(import_policies(data, engine.vocabulary, origin=source.name), source.name):
            index = _index_of(policies, proposed)
            if index is None:
                policies.append(proposed)
                added.append(proposed.policy_id)
            else:
                policies[index] = proposed
                replaced.append(proposed.policy_id)
    return tuple(replaced), tuple(added)


def _index_of(policies: Sequence[AssignedPolicy], proposed: AssignedPolicy) -> int | None:
    for i, p in enumerate(policies):
        if p.policy_id == proposed.policy_id or (
            proposed.display_name and p.display_name == proposed.display_name and p.policy_id == p.display_name
        ):
            return i
    return None


def _apply_patch(policies: list[AssignedPolicy], files: Sequence[tuple[str, Any]], patch: Patch, engine: Engine) -> str:
    """Apply a patch over today's export of its policy; the patched policy takes its place."""
    found = _exported(files, patch.policy_id)
    if found is None:
        known = [p.policy_id for p in policies]
        raise InputError(
            [
                Diagnostic(
                    "I802",
                    f"the patch names policy `{patch.policy_id}`, which no --policy file or --snapshot holds",
                    file=patch.origin,
                    path="$.policy" if patch.wrapped else None,
                    help=suggest(patch.policy_id, known) or "today's policies: " + (", ".join(known) or "none"),
                )
            ]
        )
    name, item = found
    origin = f"{name} patched by {patch.origin}"
    imported = _assigned(import_policies(patch.applied(item), engine.vocabulary, origin=origin), origin)
    for proposed in imported:
        index = next(i for i, p in enumerate(policies) if p.policy_id == patch.policy_id)
        policies[index] = AssignedPolicy(patch.policy_id, proposed.display_name, proposed.facts)
    return patch.policy_id


def _exported(files: Sequence[tuple[str, Any]], policy_id: str) -> tuple[str, dict] | None:
    """The file and the exported object of the policy with this id (alone, in an array or a Graph page)."""
    for name, data in files:
        items = data.get("value") if isinstance(data, dict) and isinstance(data.get("value"), list) else data
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, dict) and item.get("id") == policy_id:
                return name, item
    return None


def _after_assignments(today: _Today, proposal: Proposal, after: Sequence[AssignedPolicy]) -> Assignments | None:
    """The proposal's assignments: its file, or today's (file or snapshot) naming the proposal's policies."""
    if proposal.assignments is not None:
        return read_assignments(proposal.assignments, after)
    if today.assignment_file is not None:
        return read_assignments(today.assignment_file, after)
    if today.assignments is not None:  # a snapshot's: policies added by the proposal are assigned to no device
        known = {p.policy_id for p in today.policies}
        unassigned = tuple(p.policy_id for p in after if p.policy_id not in known)
        return Assignments(
            today.assignments.all_devices,
            today.assignments.groups,
            today.assignments.devices,
            (*today.assignments.unassigned, *unassigned),
        )
    return None


def _state(
    policies: Sequence[AssignedPolicy], assignments: Assignments | None, filtered: Sequence[FilteredTarget] = ()
) -> Policies:
    if assignments is None:  # every policy applies to every device
        return merge_facts([p.facts for p in policies], name="policies") if policies else None
    if filtered:  # a snapshot's assignment filters, evaluated on each device's record as check --snapshot does
        return SnapshotPolicies(assignments, policies, filtered)
    return AssignedPolicies(assignments, policies)
