"""What a plan finds, as records the renderers in ``report/`` format.

Today's fleet against the proposal's is a ``history.Diff`` (old: today, new: the proposal), the
records ``diff`` makes of two runs, so the same renderers show both; a plan adds the settings
that change for devices, the conflicts created and resolved, and what every possible device
could do (``PossibleRegression``).
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen

from ..history.diff import Diff
from ..outcome import ConflictRecord
from .memberships import NOTHING_SEARCHED, MembershipSearch
from .possible import PossibleRegression


@frozen
class SettingDelta:
    """An effective setting that changes for a device: its Intune label and its value before and
    after as Intune shows it (``not set``; ``in conflict`` when the device's policies disagree)."""

    fact: str
    label: str
    before: str
    after: str


@frozen
class SettingMove:
    """An effective setting's change and how many of the fleet's devices it reaches."""

    delta: SettingDelta
    devices: int


@frozen
class ConflictMove:
    """A conflict between a device's policies that the proposal creates or resolves (``created``:
    True, or False for resolved), naming each policy and its value, and how many devices it reaches."""

    conflict: ConflictRecord
    created: bool
    devices: int


@frozen
class DevicePlan:
    """One device of the fleet: its policies on each side, the rules whose verdict changes, the
    rules failing on both sides, the effective settings that change, and every rule's verdict
    before and after (the record ``--jsonl`` writes)."""

    row: int
    device: str
    policies_before: tuple[str, ...] | None
    policies_after: tuple[str, ...] | None
    changes: tuple  # history.RuleChange records
    still_failing: tuple[str, ...]
    settings: tuple[SettingDelta, ...]
    verdicts: Mapping[str, tuple[str, str]]  # rule -> (verdict today, under the proposal)


@frozen
class FleetPlan:
    """Today's fleet under the proposal: the diff of the two states (its ``devices`` are the first
    ``SHOWN`` devices that change; every one is in ``--jsonl``), how many devices' results change,
    how many newly fail a rule and how many get other effective settings, the settings and
    conflicts that move, and the rows not read."""

    diff: Diff
    changed_devices: int
    newly_failing_devices: int
    settings_changed_devices: int
    settings: tuple[SettingMove, ...]
    conflicts: tuple[ConflictMove, ...]
    bad_rows: tuple[tuple[int, str], ...]  # the first rows not read, with why
    bad_rows_not_listed: int
    unchanged: Mapping[str, int]  # rule -> devices whose verdict of it does not change


@frozen
class ProposalSummary:
    """What the proposal does to today's policies: the ids replaced, patched and added, and notes."""

    replaced: tuple[str, ...] = ()
    patched: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    assignments: str | None = None
    notes: tuple[str, ...] = ()


@frozen
class Plan:
    """A whole plan: the proposal, today's fleet under it (None without a fleet), every possible
    device's question per ruleset and pair of policy sets, the time limit of those questions, and
    how far the search of every possible membership went (``memberships``)."""

    proposal: ProposalSummary
    fleet: FleetPlan | None
    possible: tuple[PossibleRegression, ...]
    timeout: float
    memberships: MembershipSearch = NOTHING_SEARCHED

    @property
    def regressions(self) -> bool:
        """Whether a device of the fleet, or a possible device, gets worse: a rule newly failing."""
        fleet_worse = self.fleet is not None and self.fleet.diff.totals.get("newly_failing", 0) > 0
        return fleet_worse or any(p.worse for p in self.possible)

    @property
    def undecided(self) -> bool:
        """Whether some possible-device question was not decided in time (or at all), or some
        group combination was not searched (never counted as safe)."""
        return not self.memberships.complete or any(p.worse is None for p in self.possible)
