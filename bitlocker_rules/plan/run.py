"""A whole plan: both states built, the fleet's rows evaluated under both in one pass, then the
exact question for every pair of policy sets the fleet's devices move between, and for every
other pair a possible membership of groups and filters gives."""

from __future__ import annotations

from collections.abc import Callable

from attrs import evolve

from ..analysis import Deadline
from ..assignments import AssignedPolicies
from ..engine import Engine
from ..facts import Facts
from ..fleet.devices import fleet_device
from ..fleet.job import FleetJob
from ..fleet.rows import read_fleet
from ..snapshot import device_reader, devices_path
from .devices import PlanPass, changes_policies
from .memberships import LIMIT, Membership, MembershipSearch, possible_memberships
from .possible import PossibleRegression, possible_regressions, question_key
from .proposal import PlanStates, Proposal, plan_states
from .records import DevicePlan, Plan, ProposalSummary


def make_plan(
    job: FleetJob,
    proposal: Proposal,
    fleet: str | None,
    *,
    timeout: float = 5.0,
    write: Callable[[DevicePlan], None] | None = None,
    engine: Engine | None = None,
    memberships: int | None = None,
) -> Plan:
    """The plan of ``proposal`` over today's state ``job`` and, when given, the fleet file's
    devices (a snapshot's devices when ``job`` names a snapshot); ``write`` gets each device's
    record. ``timeout`` bounds the possible-device questions together (seconds); ``memberships``
    the distinct patterns of group and filter hits searched for the pairs no device has (``LIMIT``)."""
    engine = engine or job.build().engine
    states = plan_states(job, proposal, engine)
    rows = fleet if fleet is not None else _snapshot_devices(job)
    search = possible_memberships(states.before, states.after, LIMIT if memberships is None else memberships)
    search = evolve(search, group_names=states.group_names)  # a snapshot's groups are named by id: their names
    pairs: list[_Pair] = []
    seen: set[tuple[frozenset[str], frozenset[str]]] = set()
    if rows is None:
        fleet_plan = None
        if not search.pairs:  # without assignments every device gets every policy: one pair
            pairs.append((_merged(states.before), _merged(states.after), ((), ()), None))
    else:
        # A snapshot's device rows get their encryption report row and recovery keys joined, as check --snapshot's do.
        plan_pass = PlanPass(engine, states, fleet_device if job.snapshot is None else device_reader(job.snapshot))
        fleet_plan = plan_pass.run(read_fleet(rows, decode=False), write)
        pairs += [(*pair, None) for pair in plan_pass.policy_pairs()]
        seen.update(plan_pass.pairs)
    pairs += _membership_pairs(engine, states, search, seen)
    return Plan(_summary(states, proposal), fleet_plan, _answers(engine, pairs, Deadline.of(timeout)), timeout, search)


def _answers(engine: Engine, pairs: list[_Pair], deadline: Deadline) -> tuple[PossibleRegression, ...]:
    """Each pair's possible-device answers, asked once per distinct pair of settings (a pair
    with the same settings as one asked gets its answers under its own names)."""
    asked: dict[tuple, list[PossibleRegression]] = {}
    possible: list[PossibleRegression] = []
    for before, after, names, membership in pairs:
        key = question_key(before, after)
        if key in asked:
            possible += [evolve(p, policies_before=names[0], policies_after=names[1], membership=membership)
                         for p in asked[key]]  # fmt: skip
        else:
            possible += asked.setdefault(key, possible_regressions(engine, before, after, names, deadline, membership))
    return tuple(possible)


# A pair of policy sets to ask the possible-device question of: each side's merged facts, how
# reports name each side's policies, and the membership that gives it (None: a fleet's device has it).
_Pair = tuple[Facts | None, Facts | None, tuple[tuple[str, ...], tuple[str, ...]], Membership | None]


def _membership_pairs(
    engine: Engine, states: PlanStates, search: MembershipSearch, seen: set[tuple[frozenset[str], frozenset[str]]]
) -> list[_Pair]:
    """The pairs a possible membership gives and no device of the fleet has, whose policies differ."""
    found: list[_Pair] = []
    for pair in search.pairs:
        if (pair.before, pair.after) in seen:
            continue  # today's fleet has it: asked under today's wording
        before, names_before = _side(states.before, pair.before)
        after, names_after = _side(states.after, pair.after)
        if changes_policies(engine, before, after):
            found.append((before, after, (names_before, names_after), pair.membership))
    return found


def _side(policy: Facts | AssignedPolicies | None, ids: frozenset[str]) -> tuple[Facts | None, tuple[str, ...]]:
    """One side's merged facts for the policies ``ids`` and their names (every policy, unnamed, without assignments)."""
    if isinstance(policy, AssignedPolicies):
        _, merged, names = policy.merged(ids)
        return merged, names
    return policy, ()


def _merged(policy: Facts | AssignedPolicies | None) -> Facts | None:
    """Without assignments, every policy applies to every device: their merged facts (or none)."""
    assert not isinstance(policy, AssignedPolicies), "a side with assignments has a membership search"
    return policy


def _snapshot_devices(job: FleetJob) -> str | None:
    """A snapshot's device rows (its policies were read once, by ``plan_states``)."""
    return None if job.snapshot is None else str(devices_path(job.snapshot))


def _summary(states: PlanStates, proposal: Proposal) -> ProposalSummary:
    return ProposalSummary(states.replaced, states.patched, states.added, proposal.assignments, states.notes)


def device_json(plan: DevicePlan) -> dict:
    """A device's plan as its JSON Lines record (``docs/plan.md``)."""
    return {
        "row": plan.row,
        "device": plan.device,
        **({"policies_before": list(plan.policies_before)} if plan.policies_before is not None else {}),
        **({"policies_after": list(plan.policies_after)} if plan.policies_after is not None else {}),
        "changes": [
            {"rule": c.rule, "before": c.before, "after": c.after, "kinds": list(c.kinds)} for c in plan.changes
        ],
        "still_failing": list(plan.still_failing),
        "settings": [
            {"setting": s.fact, "label": s.label, "before": s.before, "after": s.after} for s in plan.settings
        ],
        "verdicts": plan.verdicts,  # last: every rule, [today, proposal]
    }
