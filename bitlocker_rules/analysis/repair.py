"""Repairs: the fewest policy-setting changes for one device, and the one change that
helps a fleet most."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import Diagnostic
from ..vocabulary import Vocabulary
from .analyzer import Analyzer, _values_of
from .domains import _domains
from .evaluation import _EMPTY, _complete, _Ctx
from .logic import _GOAL_WORDS
from .records import AnalysisError, FleetChange, FleetRepair, Prerequisite, Repair, SettingChange
from .search import _DEAD, _Constraint, _groups, _prepare, _search, _status
from .selection import _Entry, _interpreter_state
from .values import _same, _show, _typed


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
    values = dict(_values_of(facts))
    satisfied = _GOAL_WORDS["satisfied"]
    policy = {f for e in entries for f in e.facts if _policy(vocabulary, f)}
    fixed = {f: values.get(f) for e in entries for f in e.facts if f not in policy}
    current = {f: values.get(f) for f in policy}

    prerequisites, reachable = [], []
    for e in entries:
        if analyzer.satisfiable([e], satisfied, fixed):
            reachable.append(e)
        else:
            prerequisites.append(_prerequisite(analyzer, e, fixed, values))
    rest, cores = analyzer.split(reachable, satisfied, fixed)
    conflicts = [analyzer.conflict(core, _blocking(analyzer, core, fixed)) for core in cores]
    left_out = [core[-1].id for core in cores]
    assignment = _optimal(analyzer, rest, fixed, current, max_changes)
    if assignment is None:
        raise AnalysisError([Diagnostic("A201", f"no repair with at most {max_changes} changes")])
    changed = {f: v for f, v in assignment.items() if f in policy and not _same(v, current.get(f))}
    after = _typed({**values, **changed})
    for e in rest:
        if not _interpreter_state(e, after) & satisfied:
            raise AssertionError(f"analysis bug: the repair does not satisfy {e.id}")
    disputed = {c.fact: c for c in getattr(facts, "conflicts", ())}
    changes = tuple(
        _change(analyzer, f, current.get(f), v, _alternatives(analyzer, rest, fixed, assignment, f),
                disputed.get(f))
        for f, v in sorted(changed.items(), key=lambda kv: _order_key(entries, kv[0]))
    )
    outcomes = tuple((e.id, e.interpreter.verdict(e.rule, after)[0]) for e in entries)
    prerequisites = [
        _with_conditions(p, next(e for e in entries if e.id == p.rule), after) for p in prerequisites
    ]
    return Repair(changes, tuple(prerequisites), tuple(conflicts), outcomes, tuple(left_out))


def _policy(vocabulary: Vocabulary, name: str) -> bool:
    decl = vocabulary.fact(name)
    return decl is not None and decl.policy_controlled


def _order_key(entries: Sequence[_Entry], fact: str) -> tuple[int, int]:
    for i, e in enumerate(entries):
        if fact in e.facts:
            return i, e.facts.index(fact)
    return len(entries), 0


def _optimal(analyzer: Analyzer, entries: Sequence[_Entry], fixed, current, max_changes) -> dict[str, Any] | None:
    """Iterative deepening on the number of changed settings, per independent group of
    rules: the first budget that works is optimal for the group, and the groups add up."""
    satisfied = _GOAL_WORDS["satisfied"]
    constraints = [_Constraint([e], satisfied) for e in entries]
    _prepare(constraints, fixed)
    result = dict(fixed) | dict(current)
    spent = 0
    for group in _groups(constraints):
        members = [c.entries[0] for c in group]
        domains = _domains(members, analyzer.vocabulary, fixed, first=current)
        here = {v: current.get(v) for c in group for v in c.vars}
        probe = _Ctx({**fixed, **here}, domains)
        violated = [c.vars for c in group if _status(c, probe) == _DEAD]
        used: set[str] = set()
        low = 0
        for facts in violated:  # disjoint violated rules each need a change of their own
            if not used.intersection(facts):
                used.update(facts)
                low += 1
        limit = len(here) if max_changes is None else min(max_changes - spent, len(here))
        found = None
        for k in range(low, limit + 1):
            found = _search(group, fixed, domains, here, k, violated)
            if found is not None:
                spent += k
                break
        if found is None:
            return None
        result.update(found)
    return result


def _alternatives(analyzer: Analyzer, entries, fixed, assignment, fact) -> tuple[str, ...]:
    """Other values of ``fact`` that work with the rest of the repair unchanged."""
    satisfied = _GOAL_WORDS["satisfied"]
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
        if all(_interpreter_state(e, trial) & satisfied for e in touching):
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
    satisfied = _GOAL_WORDS["satisfied"]
    read = list(dict.fromkeys(f for e in entries for f in e.facts if f in fixed))
    free = {k: v for k, v in fixed.items() if k not in read}
    if not analyzer.satisfiable(entries, satisfied, free):
        return ()
    needed = []
    kept = dict(free)
    for f in read:
        trial = {**kept, f: fixed[f]}
        if analyzer.satisfiable(entries, satisfied, trial):
            kept = trial
        else:
            needed.append(f)
    return tuple(needed)


def _prerequisite(analyzer: Analyzer, e: _Entry, fixed: Mapping[str, Any], values) -> Prerequisite:
    satisfied = _GOAL_WORDS["satisfied"]
    blocking = _blocking(analyzer, [e], fixed)
    needed: tuple[tuple[str, str, str], ...] = ()
    if blocking:
        free = {k: v for k, v in fixed.items() if k not in blocking}
        assignment = analyzer.solve([(e, satisfied)], free) or {}
        needed = tuple((f, analyzer.label(f), _show(analyzer.vocabulary, f, assignment.get(f))) for f in blocking)
    return Prerequisite(e.id, e.ruleset.id, e.rule.title, blocking, (), needed)


def _with_conditions(p: Prerequisite, e: _Entry, values: Mapping[str, Any]) -> Prerequisite:
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
    satisfied = _GOAL_WORDS["satisfied"]
    fleet = [dict(_values_of(d)) for d in devices]
    policy = list(dict.fromkeys(f for e in entries for f in e.facts if _policy(vocabulary, f)))
    domains = _domains(entries, vocabulary, {})

    def holds(e: _Entry, values: Mapping[str, Any]) -> bool:
        ctx = _Ctx(_complete(values, e.facts), _EMPTY)
        return bool(e.state(ctx) & satisfied)

    base = [[holds(e, values) for e in entries] for values in fleet]
    before = sum(all(row) for row in base)
    ranking = [FleetChange(None, before)]
    for fact in policy:
        touching = [i for i, e in enumerate(entries) if fact in e.facts]
        others = [i for i in range(len(entries)) if i not in touching]
        ready = [d for d, row in enumerate(base) if all(row[i] for i in others)]
        olds = {repr(fleet[d].get(fact)) for d in range(len(fleet))}
        for value in domains.get(fact, ()):
            count = sum(
                1 for d in ready
                if all(holds(entries[i], {**fleet[d], fact: value}) for i in touching)
            )
            old = fleet[0].get(fact) if len(olds) == 1 and fleet else None
            change = _change(analyzer, fact, old, value)
            if len(olds) > 1:
                change = SettingChange(change.fact, change.label, "(varies)", change.new, None, value)
            ranking.append(FleetChange(change, count))
    ranking.sort(key=lambda c: -c.devices_satisfied)
    best = ranking[0]
    if best.change is not None and best.devices_satisfied == before:
        best = FleetChange(None, before)
    if best.change is not None:
        for values in fleet:
            after = _typed({**values, best.change.fact: best.change.new_value})
            ok = all(_interpreter_state(e, after) & satisfied for e in entries)
            if ok != all(holds(e, {**values, best.change.fact: best.change.new_value}) for e in entries):
                raise AssertionError("analysis bug: fleet evaluation disagrees with the interpreter")
    return FleetRepair(best, before, len(fleet), tuple(ranking[:top]))
