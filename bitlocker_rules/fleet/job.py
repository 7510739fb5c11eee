"""A fleet run's engine and policies, built the same way in the reading process and in each worker."""

from __future__ import annotations

from ..assignments import AssignedPolicies, AssignedPolicy, read_assignments
from ..engine import Engine
from ..facts import Facts, merge_facts
from ..importers import load_policies


def fleet_engine(rules, policies, assignments: str | None = None, scenarios: dict[str, str] | None = None
                 ) -> tuple[Engine, Facts | AssignedPolicies | None]:
    """The engine and the policies of a fleet run (also built in each worker process).

    Without an assignment file every policy applies to every device: their merged facts.
    """
    engine = Engine.load(list(rules) if rules else None, scenarios=scenarios)
    if assignments is None:
        return engine, policy_facts(policies, engine)
    given = [AssignedPolicy(p.policy_id or p.display_name or f"{path}#{i}", p.display_name, p.facts)
             for path in policies for i, p in enumerate(load_policies(path, engine.vocabulary))]
    return engine, AssignedPolicies(read_assignments(assignments, given), given)

def policy_facts(paths, engine: Engine) -> Facts | None:
    """Every policy in the given files, merged (None when there is none)."""
    parts = [p.facts for path in paths for p in load_policies(path, engine.vocabulary)]
    return merge_facts(parts, name="policies") if parts else None
