"""A whole plan: both states built, the fleet's rows evaluated under both in one pass, then the
exact question for every pair of policy sets the fleet's devices move between."""

from __future__ import annotations

from collections.abc import Callable

from ..analysis import Deadline
from ..assignments import AssignedPolicies
from ..engine import Engine
from ..errors import Diagnostic
from ..facts import Facts
from ..fleet.devices import fleet_device
from ..fleet.job import FleetJob
from ..fleet.rows import read_fleet
from ..outcome import UsageError
from ..snapshot import device_reader, devices_path
from .devices import PlanPass
from .possible import PossibleRegression, possible_regressions
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
) -> Plan:
    """The plan of ``proposal`` over today's state ``job`` and, when given, the fleet file's
    devices (a snapshot's devices when ``job`` names a snapshot); ``write`` gets each device's
    record. ``timeout`` bounds the possible-device questions together (seconds)."""
    engine = engine or job.build().engine
    states = plan_states(job, proposal, engine)
    rows = fleet if fleet is not None else _snapshot_devices(job)
    pairs: list[tuple[Facts | None, Facts | None, tuple[tuple[str, ...], tuple[str, ...]]]]
    if rows is None:
        fleet_plan, pairs = None, [(_single(states.before), _single(states.after), ((), ()))]
    else:
        # A snapshot's device rows get their encryption report row and recovery keys joined, as check --snapshot's do.
        plan_pass = PlanPass(engine, states, fleet_device if job.snapshot is None else device_reader(job.snapshot))
        fleet_plan = plan_pass.run(read_fleet(rows, decode=False), write)
        pairs = plan_pass.policy_pairs()
    deadline = Deadline.of(timeout)
    possible: list[PossibleRegression] = []
    for before, after, names in pairs:
        possible += possible_regressions(engine, before, after, names, deadline)
    return Plan(_summary(states, proposal), fleet_plan, tuple(possible), timeout)


def _single(policy: Facts | AssignedPolicies | None) -> Facts | None:
    """Without a fleet, every policy applies to every device: their merged facts (or none)."""
    if isinstance(policy, AssignedPolicies):
        message = "a plan with assignments needs the devices they name: give a fleet (or a snapshot)"
        raise UsageError([Diagnostic("U003", message, file="make_plan(fleet)")])
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
