"""Today's fleet under both states in one pass: each row read and typed once, its verdict codes
computed under today's policies and the proposal's (``VerdictPath.device_codes``), compared.

What two codes tuples of a ruleset change is worked out once per distinct pair, and what two
sets of policies change (effective settings, conflicts) once per distinct pair of sets, so a
fleet of similar devices pays for its distinct situations. Only counters and the first
``SHOWN`` changed devices are kept; ``write`` gets every device's record as it is made.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..assignments import AssignedPolicies
from ..engine import Engine, conflict_record
from ..errors import BitLockerRulesError, redact
from ..facts import Facts
from ..fleet.devices import DeviceReader, RowTyper, device_facts, device_subject, fleet_device
from ..fleet.evaluation import VerdictPath
from ..fleet.results import BAD_ROWS_LISTED
from ..fleet.rows import BadRow, FleetRow, JsonLine, decoded_row
from ..history.diff import CHANGES, DeviceChange, Diff, RuleChange, RuleMoves, change_kinds
from ..outcome import ConflictRecord
from ..verdict import STATUSES, Verdict
from .proposal import PlanStates
from .records import ConflictMove, DevicePlan, FleetPlan, SettingDelta, SettingMove

SHOWN = 50  # changed devices a report lists; --jsonl has every one
_DELTAS_LIMIT = 20_000  # distinct (ruleset, codes before, codes after) kept; past it the cache starts afresh
_CODES_LIMIT = 5_000  # distinct (ruleset, codes) counted per side before they are folded into per-rule counts
_NAMES = tuple(s.value for s in STATUSES)


class _RulesetDelta:
    """What one ruleset's codes before and after change on a device (made once per distinct pair)."""

    __slots__ = ("changed", "changes", "still", "verdicts")

    def __init__(self, rules: tuple[str, ...], before: tuple[int, ...], after: tuple[int, ...]) -> None:
        self.verdicts = {rule: (_NAMES[b], _NAMES[a]) for rule, b, a in zip(rules, before, after)}
        self.changes: list[RuleChange] = []
        self.changed: list[str] = []  # every rule whose verdict changes, whatever the kind
        self.still = [rule for rule, b, a in zip(rules, before, after) if b == a == Verdict.FAIL]
        if before == after:
            return
        for rule, b, a in zip(rules, before, after):
            if b != a:
                self.changed.append(rule)
                kinds = change_kinds(_NAMES[b], _NAMES[a])
                if kinds:
                    self.changes.append(RuleChange(rule, _NAMES[b], _NAMES[a], kinds))


class _PolicyDelta:
    """What two sets of policies change for a device: effective settings, conflicts created and resolved."""

    __slots__ = ("created", "resolved", "settings")

    def __init__(self, engine: Engine, before: Facts | None, after: Facts | None) -> None:
        self.settings = _setting_deltas(engine, before, after)
        was, now = _conflicts(engine, before), _conflicts(engine, after)
        self.created = tuple(c for c in now if c not in was)
        self.resolved = tuple(c for c in was if c not in now)


def changes_policies(engine: Engine, before: Facts | None, after: Facts | None) -> bool:
    """Whether two sets of policies differ for a device: an effective setting, a conflict created or resolved."""
    delta = _PolicyDelta(engine, before, after)
    return bool(delta.settings or delta.created or delta.resolved)


def _conflicts(engine: Engine, policy: Facts | None) -> tuple[ConflictRecord, ...]:
    return tuple(conflict_record(c, engine.vocabulary) for c in engine.conflicts(policy)) if policy else ()


def _setting_deltas(engine: Engine, before: Facts | None, after: Facts | None) -> tuple[SettingDelta, ...]:
    """The policy settings whose effective value differs, in the vocabulary's order."""
    shown_before, shown_after = _shown_settings(engine, before), _shown_settings(engine, after)
    deltas = []
    for fact in engine.vocabulary.facts:
        b, a = shown_before.get(fact, "not set"), shown_after.get(fact, "not set")
        if b != a:
            declared = engine.vocabulary.fact(fact)
            deltas.append(SettingDelta(fact, declared.label if declared else fact, b, a))
    return tuple(deltas)


def _shown_settings(engine: Engine, policy: Facts | None) -> dict[str, str]:
    """A set of policies' effective settings as Intune shows them; a setting in conflict as such."""
    if policy is None:
        return {}
    shown = {}
    for fact, value in policy.values.items():
        declared = engine.vocabulary.fact(fact)
        shown[fact] = engine.vocabulary.display(declared, value) if declared else str(value)
    for conflict in engine.conflicts(policy):
        shown[conflict.fact] = "in conflict"
    return shown


def _policy_names(policy: Facts | AssignedPolicies | None, chosen: frozenset[str]) -> tuple[str, ...]:
    """How reports name a set of policies, in the order they were given (none without assignments)."""
    if not isinstance(policy, AssignedPolicies):
        return ()
    return tuple(p.facts.name or p.policy_id for p in policy.policies if p.policy_id in chosen)


class PlanPass:
    """One pass over a fleet's rows, each device evaluated under both states."""

    def __init__(self, engine: Engine, states: PlanStates, reader: DeviceReader = fleet_device) -> None:
        self.engine, self.reader = engine, reader
        self.before, self.after = VerdictPath(engine, states.before), VerdictPath(engine, states.after)
        self.typer = RowTyper(engine.vocabulary)
        self.rules = tuple(tuple(rule.id for rule in loaded.rules) for loaded in engine.rulesets)
        self.deltas: dict[tuple[int, tuple[int, ...], tuple[int, ...]], _RulesetDelta] = {}
        self.policy_deltas: dict[tuple[frozenset[str], frozenset[str]], _PolicyDelta] = {}
        self.codes_before: Counter = Counter()  # (ruleset index, codes) -> devices
        self.codes_after: Counter = Counter()
        self.pairs: Counter = Counter()  # (chosen before, chosen after) -> devices
        self.moves: dict[str, Counter] = {}
        self.totals: Counter = Counter(dict.fromkeys((*CHANGES, "still_failing"), 0))
        self.shown: list[DeviceChange] = []
        self.changed_devices = self.newly_failing_devices = self.settings_changed_devices = self.devices = 0
        self.bad: list[tuple[int, str]] = []  # the first BAD_ROWS_LISTED; the others are counted
        self.bad_not_listed = 0
        self.folded_before: dict[str, dict[str, int]] = {}
        self.folded_after: dict[str, dict[str, int]] = {}

    def run(self, rows: Iterable[FleetRow], write: Callable[[DevicePlan], None] | None = None) -> FleetPlan:
        """Evaluate every row under both states; ``write`` gets each device's record, in row order."""
        for row in rows:
            plan = self.device(row)
            if plan is not None and write is not None:
                write(plan)
        return self.result()

    def device(self, row: FleetRow) -> DevicePlan | None:
        """One row's device under both states (None for a bad row, which is kept with its number)."""
        if isinstance(row.data, JsonLine):
            row = FleetRow(row.number, decoded_row(row.number, row.data.raw, row.data.encoding))
        if isinstance(row.data, BadRow):
            self._bad(row.number, row.data.message)
            return None
        data = row.data
        try:
            values = self.typer.values(data) if self.reader in (device_facts, fleet_device) else None
            device = self.reader(data, self.engine, row.number) if values is None else None
        except BitLockerRulesError as exc:
            self._bad(row.number, redact("; ".join(d.message for d in exc.diagnostics)))
            return None
        chosen_before, before = self.before.device_codes(data, values, device)
        chosen_after, after = self.after.device_codes(data, values, device)
        return self._compare(row.number, data, (chosen_before, chosen_after), before, after)

    def _bad(self, number: int, problem: str) -> None:
        if len(self.bad) < BAD_ROWS_LISTED:
            self.bad.append((number, problem))
        else:
            self.bad_not_listed += 1

    def _compare(
        self,
        number: int,
        data: Any,
        chosen: tuple[frozenset[str], frozenset[str]],
        before: tuple[tuple[int, ...], ...],
        after: tuple[tuple[int, ...], ...],
    ) -> DevicePlan:
        self.devices += 1
        self.pairs[chosen] += 1
        changes: list[RuleChange] = []
        still: list[str] = []
        verdicts: dict[str, tuple[str, str]] = {}
        for index, (b, a) in enumerate(zip(before, after)):
            self.codes_before[(index, b)] += 1
            self.codes_after[(index, a)] += 1
            delta = self._delta(index, b, a)
            still += delta.still
            verdicts.update(delta.verdicts)
            for rule in delta.changed:
                self.moves.setdefault(rule, Counter())["changed"] += 1
            for change in delta.changes:
                self.moves[change.rule].update(change.kinds)
                self.totals.update(change.kinds)
                changes.append(change)
        if len(self.codes_before) > _CODES_LIMIT or len(self.codes_after) > _CODES_LIMIT:
            self._fold()
        for rule in still:
            self.moves.setdefault(rule, Counter())["still_failing"] += 1
        self.totals["still_failing"] += len(still)
        settings = self._policy_delta(chosen).settings
        self.settings_changed_devices += bool(settings)
        subject = device_subject(data, number)
        if changes:
            self.changed_devices += 1
            self.newly_failing_devices += any("newly_failing" in c.kinds for c in changes)
            if len(self.shown) < SHOWN:
                self.shown.append(DeviceChange(subject, tuple(changes), tuple(still)))
        return DevicePlan(
            number, subject, self._names(self.before, data), self._names(self.after, data),
            tuple(changes), tuple(still), settings, verdicts,
        )  # fmt: skip

    def _delta(self, index: int, before: tuple[int, ...], after: tuple[int, ...]) -> _RulesetDelta:
        key = (index, before, after)
        delta = self.deltas.get(key)
        if delta is None:
            if len(self.deltas) >= _DELTAS_LIMIT:
                self.deltas.clear()
            delta = self.deltas[key] = _RulesetDelta(self.rules[index], before, after)
        return delta

    def _fold(self) -> None:
        """Move the counts per distinct codes tuple into per-rule counts (memory stays flat)."""
        for codes, folded in ((self.codes_before, self.folded_before), (self.codes_after, self.folded_after)):
            self._rule_counts(codes, folded)
            codes.clear()

    def _policy_delta(self, chosen: tuple[frozenset[str], frozenset[str]]) -> _PolicyDelta:
        delta = self.policy_deltas.get(chosen)
        if delta is None:
            delta = self.policy_deltas[chosen] = _PolicyDelta(
                self.engine, self.before.contexts[chosen[0]].policy, self.after.contexts[chosen[1]].policy
            )
        return delta

    @staticmethod
    def _names(path: VerdictPath, data: Any) -> tuple[str, ...] | None:
        """How reports name the policies a device gets on one side (None without an assignment file)."""
        policy = path.policy
        return policy.chosen(data)[2] if isinstance(policy, AssignedPolicies) else None

    def policy_pairs(self) -> list[tuple[Facts | None, Facts | None, tuple[tuple[str, ...], tuple[str, ...]]]]:
        """Each distinct pair of policy sets the fleet's devices get whose settings differ: (today's
        merged facts, the proposal's, how reports name each side's policies), most devices first."""
        found = []
        for (b, a), _ in self.pairs.most_common():
            delta = self._policy_delta((b, a))
            if delta.settings or delta.created or delta.resolved:
                names = (_policy_names(self.before.policy, b), _policy_names(self.after.policy, a))
                found.append((self.before.contexts[b].policy, self.after.contexts[a].policy, names))
        return found

    def result(self) -> FleetPlan:
        """The fleet's plan from what the pass counted."""
        self._fold()
        before, after = self.folded_before, self.folded_after
        rules = tuple(
            RuleMoves(
                rule,
                before.get(rule, dict.fromkeys(_NAMES, 0)),
                after.get(rule, dict.fromkeys(_NAMES, 0)),
                {k: self.moves.get(rule, Counter())[k] for k in (*CHANGES, "still_failing")},
            )
            for rules in self.rules
            for rule in rules
        )
        diff = Diff(
            "today",
            "proposal",
            self.devices,
            self.devices,
            tuple(self.shown),
            (),
            (),
            rules,
            (),
            {**self.totals, "appeared": 0, "left": 0},  # the same devices on both sides
        )
        unchanged = {r.rule: self.devices - self.moves.get(r.rule, Counter())["changed"] for r in rules}
        return FleetPlan(
            diff,
            self.changed_devices,
            self.newly_failing_devices,
            self.settings_changed_devices,
            self._setting_moves(),
            self._conflict_moves(),
            tuple(self.bad),
            self.bad_not_listed,
            unchanged,
        )

    def _rule_counts(
        self, codes: Mapping[tuple[int, tuple[int, ...]], int], counts: dict[str, dict[str, int]]
    ) -> dict[str, dict[str, int]]:
        """Add the counts per codes tuple to ``counts``, per rule and verdict."""
        for (index, tuple_), devices in codes.items():
            for rule, code in zip(self.rules[index], tuple_):
                by_status = counts.setdefault(rule, dict.fromkeys(_NAMES, 0))
                by_status[_NAMES[code]] += devices
        return counts

    def _setting_moves(self) -> tuple[SettingMove, ...]:
        reach: Counter = Counter()
        for chosen, devices in self.pairs.items():
            for delta in self._policy_delta(chosen).settings:
                reach[delta] += devices
        return tuple(SettingMove(delta, devices) for delta, devices in reach.most_common())

    def _conflict_moves(self) -> tuple[ConflictMove, ...]:
        reach: Counter = Counter()
        for chosen, devices in self.pairs.items():
            delta = self._policy_delta(chosen)
            reach.update({(c, True): devices for c in delta.created})
            reach.update({(c, False): devices for c in delta.resolved})
        return tuple(ConflictMove(c, created, devices) for (c, created), devices in reach.most_common())
