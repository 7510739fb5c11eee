"""A fleet run's engine and policies, built the same way in the reading process and in each worker.

``FleetJob`` is the run's description as plain data (picklable, so a worker process gets it
and builds its own engine); ``FleetJob.build`` reads the rulesets, the policy files and the
assignment file once, into a ``FleetSetup``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from attrs import field, frozen

from ..assignments import AssignedPolicies, AssignedPolicy, read_assignments
from ..engine import Engine
from ..facts import Facts, merge_facts
from ..importers import ImportedPolicy, load_policies
from ..snapshot import read_snapshot


@frozen
class FleetSetup:
    """What a fleet run evaluates with: the engine, the policies each device gets (their merged
    facts, or ``AssignedPolicies`` from an assignment file or a snapshot), the policies as
    imported, and what a snapshot holds that the run does not use (``TenantSnapshot.notes``)."""

    engine: Engine
    policy: Facts | AssignedPolicies | None
    imported: tuple[ImportedPolicy, ...]
    notes: tuple[str, ...] = ()


def _names(names: Iterable[str] | None) -> tuple[str, ...] | None:
    return tuple(names) if names else None


def _paths(paths: Iterable[str]) -> tuple[str, ...]:
    return tuple(paths)


def _pairs(scenarios: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    items = scenarios.items() if isinstance(scenarios, Mapping) else scenarios or ()
    return tuple((name, why) for name, why in items)


@frozen
class FleetJob:
    """A fleet run's inputs: ruleset names or paths (None: every shipped one), policy files,
    an assignment file, and the declared scenarios with how each was declared; or, instead of
    policy files and an assignment file, a pulled snapshot's folder (its policies and
    assignments; its devices are the rows, ``snapshot.devices_path``)."""

    rules: tuple[str, ...] | None = field(default=None, converter=_names)
    policies: tuple[str, ...] = field(default=(), converter=_paths)
    assignments: str | None = None
    scenarios: tuple[tuple[str, str], ...] = field(default=(), converter=_pairs)
    snapshot: str | None = None

    def build(self) -> FleetSetup:
        """The engine and the policies, each input read once.

        Without an assignment file every policy applies to every device: their merged facts.
        """
        return self.setup(Engine.load(list(self.rules) if self.rules else None, scenarios=dict(self.scenarios)))

    def setup(self, engine: Engine) -> FleetSetup:
        """``build`` with an engine already loaded (its rulesets and scenarios are the engine's)."""
        if self.snapshot is not None:
            tenant = read_snapshot(self.snapshot, engine.vocabulary)
            return FleetSetup(engine, tenant.policies_per_device(), tenant.policies, tenant.notes)
        by_file = [(path, load_policies(path, engine.vocabulary)) for path in self.policies]
        imported = tuple(p for _, policies in by_file for p in policies)
        if self.assignments is None:
            return FleetSetup(engine, merged_policies(imported), imported)
        given = [
            AssignedPolicy(p.policy_id or p.display_name or f"{path}#{i}", p.display_name, p.facts)
            for path, policies in by_file
            for i, p in enumerate(policies)
        ]
        return FleetSetup(engine, AssignedPolicies(read_assignments(self.assignments, given), given), imported)

    def engine_and_policy(self) -> tuple[Engine, Facts | AssignedPolicies | None]:
        """``build``'s engine and policies: what ``evaluate_fleet_parallel`` builds in each worker."""
        setup = self.build()
        return setup.engine, setup.policy


def fleet_engine(
    rules: Sequence[str] | None,
    policies: Sequence[str],
    assignments: str | None = None,
    scenarios: Mapping[str, str] | None = None,
) -> tuple[Engine, Facts | AssignedPolicies | None]:
    """The engine and the policies of a fleet run: ``FleetJob(...).engine_and_policy()``."""
    return FleetJob(rules, policies, assignments, scenarios).engine_and_policy()


def device_policies(policy: Facts | AssignedPolicies | None, data: object) -> Facts | None:
    """The merged facts of the policies the device of fleet row ``data`` gets (None: none)."""
    return policy.for_row(data)[0] if isinstance(policy, AssignedPolicies) else policy


def merged_policies(imported: Iterable[ImportedPolicy]) -> Facts | None:
    """The facts of every imported policy, merged (None when there is none)."""
    parts = [p.facts for p in imported]
    return merge_facts(parts, name="policies") if parts else None


def policy_facts(paths: Iterable[str], engine: Engine) -> Facts | None:
    """Every policy in the given files, merged (None when there is none)."""
    return merged_policies(p for path in paths for p in load_policies(path, engine.vocabulary))
