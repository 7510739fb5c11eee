"""Repairs: the fewest policy-setting changes for one device, and the one change that
helps a fleet most."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen

from ..errors import Diagnostic
from ..vocabulary import Vocabulary
from .analyzer import Analyzer, _values_of
from .domains import _domains
from .evaluation import _EMPTY, _complete, _Ctx
from .logic import _GOAL_WORDS
from .records import AnalysisError, FleetChange, FleetRepair, Prerequisite, Repair, SettingChange
from .search import _DEAD, _changes_needed, _Constraint, _groups, _prepare, _search, _status
from .selection import _Entry, _interpreter_state
from .values import _same, _show, _typed


_SATISFIED = _GOAL_WORDS["satisfied"]


def repair(rulesets: Iterable[Any], vocabulary: Vocabulary, facts: Any, *, rules: Iterable[str] | None = None,
           max_changes: int | None = None) -> Repair:
    """The fewest policy-setting changes that satisfy the selected rules on one device.

    ``facts`` are the device's effective facts (a Facts record or a values mapping: the
    policy settings and the device facts merged; facts in conflict are absent, hence
    missing). Only facts of the ``policy`` namespace change; every other fact keeps its
    value (or stays missing). Rules that no policy can satisfy on this device become
    prerequisites with the device facts that block them; rules that cannot be satisfied
    together are reported as conflicts (minimal sets) and one rule of each is left out.
    """
    analyzer = Analyzer(rulesets, vocabulary, rules)
    entries = analyzer.select()
    device = _DeviceFacts.of(entries, vocabulary, facts)
    reachable, prerequisites = _split_reachable(analyzer, entries, device.fixed)
    rest, cores = analyzer.split(reachable, _SATISFIED, device.fixed)
    conflicts = tuple(analyzer.conflict(core, _blocking(analyzer, core, device.fixed)) for core in cores)
    assignment = _optimal(analyzer, rest, device.fixed, device.current, max_changes)
    if assignment is None:
        raise AnalysisError([Diagnostic("A201", f"no repair with at most {max_changes} changes")])
    changed = device.changed(assignment)
    after = _typed({**device.values, **changed})
    _confirm(rest, after)
    changes = _setting_changes(analyzer, entries, rest, device, assignment, changed)
    outcomes = tuple((e.id, e.interpreter.verdict(e.rule, after)[0]) for e in entries)
    prerequisites = [
        _with_conditions(p, next(e for e in entries if e.id == p.rule), after) for p in prerequisites
    ]
    return Repair(changes, tuple(prerequisites), conflicts, outcomes, tuple(core[-1].id for core in cores))


@frozen
class _DeviceFacts:
    """One device's facts as a repair sees them: the policy settings it may change, at their
    current values, and every other fact the rules read, fixed."""

    values: dict[str, Any]
    current: dict[str, Any]  # policy setting → its value now
    fixed: dict[str, Any]
    disputed: dict[str, Any]  # setting the assigned policies disagree on → their conflict

    @classmethod
    def of(cls, entries: Sequence[_Entry], vocabulary: Vocabulary, facts: Any) -> _DeviceFacts:
        """``facts`` (a Facts record or a values mapping) split for the rules of ``entries``."""
        values = dict(_values_of(facts))
        policy = {f for e in entries for f in e.facts if _policy(vocabulary, f)}
        fixed = {f: values.get(f) for e in entries for f in e.facts if f not in policy}
        current = {f: values.get(f) for f in policy}
        disputed = {c.fact: c for c in getattr(facts, "conflicts", ())}
        return cls(values, current, fixed, disputed)

    def changed(self, assignment: Mapping[str, Any]) -> dict[str, Any]:
        """The policy settings ``assignment`` gives another value than they have now."""
        return {f: v for f, v in assignment.items() if f in self.current and not _same(v, self.current.get(f))}


def _policy(vocabulary: Vocabulary, name: str) -> bool:
    """Whether ``name`` is a policy setting (a fact a repair may change)."""
    decl = vocabulary.fact(name)
    return decl is not None and decl.policy_controlled


def _split_reachable(analyzer: Analyzer, entries: Sequence[_Entry], fixed: Mapping[str, Any]
                     ) -> tuple[list[_Entry], list[Prerequisite]]:
    """The rules some policy satisfies on this device, and the others as prerequisites."""
    reachable, prerequisites = [], []
    for e in entries:
        if analyzer.satisfiable([e], _SATISFIED, fixed):
            reachable.append(e)
        else:
            prerequisites.append(_prerequisite(analyzer, e, fixed))
    return reachable, prerequisites


def _confirm(entries: Sequence[_Entry], after: Mapping[str, Any]) -> None:
    """Check with the interpreter that the repaired values satisfy every rule they should."""
    for e in entries:
        if not _interpreter_state(e, after) & _SATISFIED:
            raise AssertionError(f"analysis bug: the repair does not satisfy {e.id}")


def _setting_changes(analyzer: Analyzer, entries: Sequence[_Entry], rest: Sequence[_Entry], device: _DeviceFacts,
                     assignment: Mapping[str, Any], changed: Mapping[str, Any]) -> tuple[SettingChange, ...]:
    """The changed settings in the Intune words, in the order the rules read them, each
    with the other values that work as well."""
    return tuple(
        _change(analyzer, f, device.current.get(f), v, _alternatives(analyzer, rest, device.fixed, assignment, f),
                device.disputed.get(f))
        for f, v in sorted(changed.items(), key=lambda kv: _order_key(entries, kv[0]))
    )


def _order_key(entries: Sequence[_Entry], fact: str) -> tuple[int, int]:
    """Where ``fact`` is first read: (rule index, position among the rule's facts)."""
    for i, e in enumerate(entries):
        if fact in e.facts:
            return i, e.facts.index(fact)
    return len(entries), 0


def _optimal(analyzer: Analyzer, entries: Sequence[_Entry], fixed, current, max_changes) -> dict[str, Any] | None:
    """Iterative deepening on the number of changed settings, per independent group of
    rules: the first budget that works is optimal for the group, and the groups add up."""
    constraints = [_Constraint([e], _SATISFIED) for e in entries]
    _prepare(constraints, fixed)
    result = dict(fixed) | dict(current)
    spent = 0
    for group in _groups(constraints):
        room = None if max_changes is None else max_changes - spent
        found = _fewest_changes(analyzer, group, fixed, current, room)
        if found is None:
            return None
        changes, assignment = found
        spent += changes
        result.update(assignment)
    return result


def _fewest_changes(analyzer: Analyzer, group: Sequence[_Constraint], fixed: Mapping[str, Any],
                    current: Mapping[str, Any], room: int | None) -> tuple[int, dict[str, Any]] | None:
    """(changes, assignment) for one group with the fewest changed settings, at most
    ``room`` (None: no limit), or None when no such assignment exists."""
    domains = _domains([c.entries[0] for c in group], analyzer.vocabulary, fixed, first=current)
    here = {v: current.get(v) for c in group for v in c.vars}
    probe = _Ctx({**fixed, **here}, domains)
    violated = [c.vars for c in group if _status(c, probe) == _DEAD]
    limit = len(here) if room is None else min(room, len(here))
    for k in range(_changes_needed(violated), limit + 1):
        found = _search(group, fixed, domains, here, k, violated)
        if found is not None:
            return k, found
    return None


def _alternatives(analyzer: Analyzer, entries, fixed, assignment, fact) -> tuple[str, ...]:
    """Other values of ``fact`` that work with the rest of the repair unchanged."""
    decl = analyzer.vocabulary.fact(fact)
    if decl is None or decl.type.kind not in ("enum", "bool"):
        return ()
    options = list(decl.type.enum.member_names) if decl.type.enum else [True, False]
    touching = [e for e in entries if fact in e.facts]
    found = []
    for option in options:
        if _same(option, assignment.get(fact)):
            continue
        trial = _typed({**assignment, fact: option})
        if all(_interpreter_state(e, trial) & _SATISFIED for e in touching):
            found.append(_show(analyzer.vocabulary, fact, option))
    return tuple(found)


def _change(analyzer: Analyzer, fact: str, old: Any, new: Any, alternatives=(), disputed=None) -> SettingChange:
    """A SettingChange in the Intune words; a setting the assigned policies disagree on
    (a merge conflict, so missing) shows what each policy sets."""
    before = _show(analyzer.vocabulary, fact, old) if old is not None else "not set"
    if disputed is not None:
        before = "in conflict: " + "; ".join(
            f"{source.split(' $')[0]} sets {_show(analyzer.vocabulary, fact, value)}"
            for source, value in disputed.values
        )
    return SettingChange(
        fact, analyzer.label(fact), before,
        _show(analyzer.vocabulary, fact, new) if new is not None else "not set",
        old, new, alternatives,
    )


def _blocking(analyzer: Analyzer, entries: Sequence[_Entry], fixed: Mapping[str, Any]) -> tuple[str, ...]:
    """A minimal set of fixed facts that, set free, makes ``entries`` satisfiable (() if none does)."""
    read = list(dict.fromkeys(f for e in entries for f in e.facts if f in fixed))
    free = {k: v for k, v in fixed.items() if k not in read}
    if not analyzer.satisfiable(entries, _SATISFIED, free):
        return ()
    needed = []
    kept = dict(free)
    for f in read:
        trial = {**kept, f: fixed[f]}
        if analyzer.satisfiable(entries, _SATISFIED, trial):
            kept = trial
        else:
            needed.append(f)
    return tuple(needed)


def _prerequisite(analyzer: Analyzer, e: _Entry, fixed: Mapping[str, Any]) -> Prerequisite:
    """A rule no policy satisfies on this device: the device facts that block it and, for
    each, a value under which the rule could be satisfied."""
    blocking = _blocking(analyzer, [e], fixed)
    needed: tuple[tuple[str, str, str], ...] = ()
    if blocking:
        free = {k: v for k, v in fixed.items() if k not in blocking}
        assignment = analyzer.solve([(e, _SATISFIED)], free) or {}
        needed = tuple((f, analyzer.label(f), _show(analyzer.vocabulary, f, assignment.get(f))) for f in blocking)
    return Prerequisite(e.id, e.ruleset.id, e.rule.title, blocking, (), needed)


def _with_conditions(p: Prerequisite, e: _Entry, values: Mapping[str, Any]) -> Prerequisite:
    """``p`` with the reasons for the rule's verdict that read a blocking fact (all of them
    when none does)."""
    outcome = e.interpreter.evaluate(e.rule, values)
    wanted = set(p.facts)
    conditions = tuple(c for c in outcome.reasons if c.fact.split("[", 1)[0] in wanted) or outcome.reasons
    return Prerequisite(p.rule, p.ruleset, p.title, p.facts, conditions, p.needed)


def fleet_repair(rulesets: Iterable[Any], vocabulary: Vocabulary, devices: Iterable[Any], *,
                 rules: Iterable[str] | None = None, top: int = 5) -> FleetRepair:
    """The one policy-setting change (fact → value, set on every device) that makes the most
    devices satisfy every selected rule. ``devices`` are Facts records or values mappings
    (each with its own effective policy settings)."""
    analyzer = Analyzer(rulesets, vocabulary, rules)
    entries = analyzer.select()
    fleet = [dict(_values_of(d)) for d in devices]
    settings = list(dict.fromkeys(f for e in entries for f in e.facts if _policy(vocabulary, f)))
    domains = _domains(entries, vocabulary, {})
    base = [[_satisfied(e, values) for e in entries] for values in fleet]
    before = sum(all(row) for row in base)
    ranking = [FleetChange(None, before)]
    for fact in settings:
        ranking += _fleet_changes(analyzer, entries, fleet, base, fact, domains.get(fact, ()))
    ranking.sort(key=lambda c: -c.devices_satisfied)
    best = ranking[0]
    if best.change is not None and best.devices_satisfied == before:
        best = FleetChange(None, before)
    if best.change is not None:
        _confirm_fleet(entries, fleet, best.change)
    return FleetRepair(best, before, len(fleet), tuple(ranking[:top]))


def _satisfied(e: _Entry, values: Mapping[str, Any]) -> bool:
    """Whether ``e`` is satisfied under ``values`` (absent facts missing)."""
    ctx = _Ctx(_complete(values, e.facts), _EMPTY)
    return bool(e.state(ctx) & _SATISFIED)


def _fleet_changes(analyzer: Analyzer, entries: Sequence[_Entry], fleet: Sequence[Mapping[str, Any]],
                   base: Sequence[Sequence[bool]], fact: str, values: Iterable[Any]) -> list[FleetChange]:
    """Each value of one setting, set on every device, with how many devices then satisfy
    every rule (``base``: which rules each device satisfies now)."""
    touching = [i for i, e in enumerate(entries) if fact in e.facts]
    others = [i for i in range(len(entries)) if i not in touching]
    # A device that fails a rule not reading ``fact`` fails it whatever value ``fact`` takes.
    ready = [d for d, row in enumerate(base) if all(row[i] for i in others)]
    olds = {repr(fleet[d].get(fact)) for d in range(len(fleet))}
    old = fleet[0].get(fact) if len(olds) == 1 and fleet else None
    found = []
    for value in values:
        count = sum(1 for d in ready if all(_satisfied(entries[i], {**fleet[d], fact: value}) for i in touching))
        change = _change(analyzer, fact, old, value)
        if len(olds) > 1:
            change = SettingChange(change.fact, change.label, "(varies)", change.new, None, value)
        found.append(FleetChange(change, count))
    return found


def _confirm_fleet(entries: Sequence[_Entry], fleet: Sequence[Mapping[str, Any]], change: SettingChange) -> None:
    """Check with the interpreter, device by device, the fleet evaluation of ``change``."""
    for values in fleet:
        after = _typed({**values, change.fact: change.new_value})
        ok = all(_interpreter_state(e, after) & _SATISFIED for e in entries)
        if ok != all(_satisfied(e, {**values, change.fact: change.new_value}) for e in entries):
            raise AssertionError("analysis bug: fleet evaluation disagrees with the interpreter")
