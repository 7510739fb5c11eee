"""Repairs: the fewest policy-setting changes that make a device's failing rules pass without
weakening the policy (the one change that helps a fleet most is in ``fleet_repairs``).

A repair's targets are the rules that fail now: each must pass afterwards, not merely stop
applying. Rules that pass or do not apply now stay satisfied; unknown ones must not fail. A
setting is lowered (given a weaker value, or one not comparable with its value now, by the
vocabulary's strength orders) only where the rules leave no other way: the set of lowered
settings is inclusion-minimal (see ``lowering``). Among those repairs, the fewest settings
change. A failing rule that no policy makes pass is a prerequisite (or in a conflict); the
changes that would only turn it off (make it not apply) are offered apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import evolve, frozen

from ..errors import Diagnostic
from ..facts import Conflict
from ..outcome import Status, first_input
from ..vocabulary import Vocabulary
from .analyzer import Analyzer, Goal, values_of, written_out
from .domains import fact_domains
from .evaluation import SearchContext
from .logic import goal_mask
from .lowering import Lowering, minimal_lowerings, repair_domains, restricted_domains
from .results import (
    AnalysisError,
    Deadline,
    Prerequisite,
    Repair,
    RuleConflict,
    SettingChange,
    TurnOff,
)
from .search import (
    DEAD,
    Constraint,
    backtrack,
    changes_needed,
    constraint_status,
    independent_groups,
    prepare,
)
from .selection import Entry, interpreter_state
from .values import same_value, shown_value, typed_assignment

_SATISFIED = goal_mask("satisfied")
_PASS = goal_mask(Status.PASS)
_FAIL = goal_mask(Status.FAIL)
_UNKNOWN = goal_mask(Status.UNKNOWN)
_NOT_FAILED = goal_mask([Status.PASS, Status.NOT_APPLICABLE, Status.UNKNOWN])
_OFF = goal_mask(Status.NOT_APPLICABLE)
_ANY = goal_mask(list(Status))


def repair(
    rulesets: Iterable[Any],
    vocabulary: Vocabulary,
    facts: Any,
    *,
    rules: Iterable[str] | None = None,
    max_changes: int | None = None,
    targets: Iterable[str] | None = None,
    timeout: float | Deadline | None = None,
    progress: Callable[[str], None] | None = None,
) -> Repair:
    """The fewest policy-setting changes that make the failing rules pass on one device.

    ``facts`` are the device's effective facts (a Facts record or a values mapping: the
    policy settings and the device facts merged; facts in conflict are absent, hence
    missing). Only facts of the ``policy`` namespace change; every other fact keeps its
    value (or stays missing). The targets are the selected rules that fail now (only those
    named in ``targets``, when given); each must pass. Rules that no policy makes pass on
    this device become prerequisites with the device facts that block them; targets that
    cannot pass together with the other rules' goals are reported as conflicts (minimal
    sets) and left out. No setting is lowered unless the rules leave no other way.

    ``timeout`` (seconds, or a ``Deadline``; None: no limit): past it ``Undecided`` (an
    ``AnalysisError``) is raised rather than a repair that might not be the smallest;
    ``progress`` is told what is being searched.
    """
    analyzer = Analyzer(rulesets, vocabulary, rules, Deadline.of(timeout, progress))
    entries = analyzer.select()
    device = _DeviceFacts.of(entries, vocabulary, facts)
    goals = _Goals.of(entries, device.values, targets)
    analyzer.deadline.step("which failing rules a policy change can make pass")
    reachable, prerequisites = _split_reachable(analyzer, goals.targets, device.fixed)
    # The other rules first: what passes now keeps passing, so a conflict leaves out a target.
    analyzer.deadline.step("which rules can reach their goals together")
    rest, cores = analyzer.split(goals.others + reachable, goals.masks, device.fixed)
    conflicts = tuple(_conflict(analyzer, core, goals.masks, device.fixed) for core in cores)
    lowering = Lowering.of(vocabulary, device.current)
    analyzer.deadline.step("the fewest settings to change")
    assignment = _optimal(analyzer, rest, goals.masks, device.fixed, lowering, max_changes)
    if assignment is None:
        raise AnalysisError([Diagnostic("A201", f"no repair with at most {max_changes} changes")])
    assignment = _strongest_values(analyzer, rest, goals.masks, written_out(assignment), lowering)
    changed = device.changed(assignment)
    after = typed_assignment({**device.values, **changed})
    _confirm(rest, goals.masks, after)
    changes = _setting_changes(analyzer, entries, rest, goals.masks, device, assignment, changed, lowering)
    outcomes = tuple((e.id, e.interpreter.verdict(e.rule, after)[0]) for e in entries)
    # The reasons a prerequisite fails are read on the facts now: after the repair it may
    # not even apply (another rule's fix can turn it off).
    prerequisites = [
        _with_conditions(p, next(e for e in entries if e.id == p.rule), typed_assignment(device.values))
        for p in prerequisites
    ]
    kept = {e.index for e in rest}
    unfixed = [e for e in goals.targets if e.index not in kept]
    turn_off = _turn_offs(analyzer, rest, goals.masks, unfixed, device, assignment, after)
    return Repair(changes, tuple(prerequisites), conflicts, outcomes, tuple(core[-1].id for core in cores), turn_off)


@frozen
class _DeviceFacts:
    """One device's facts as a repair sees them: the policy settings it may change, at their
    current values, and every other fact the rules read, fixed."""

    values: dict[str, Any]
    current: dict[str, Any]  # policy setting → its value now
    fixed: dict[str, Any]
    disputed: dict[str, Any]  # setting the assigned policies disagree on → their conflict

    @classmethod
    def of(cls, entries: Sequence[Entry], vocabulary: Vocabulary, facts: Any) -> _DeviceFacts:
        """``facts`` (a Facts record or a values mapping) split for the rules of ``entries``."""
        values = dict(values_of(facts))
        policy = {f for e in entries for f in e.facts if is_policy_setting(vocabulary, f)}
        fixed = {f: values.get(f) for e in entries for f in e.facts if f not in policy}
        current = {f: values.get(f) for f in policy}
        disputed = {c.fact: c for c in getattr(facts, "conflicts", ())}
        return cls(values, current, fixed, disputed)

    def changed(self, assignment: Mapping[str, Any]) -> dict[str, Any]:
        """The policy settings ``assignment`` gives another value than they have now."""
        return {f: v for f, v in assignment.items() if f in self.current and not same_value(v, self.current.get(f))}


@frozen
class _Goals:
    """What the repair asks of each rule (goal masks by entry index), from its verdict now: a
    target (it fails) must pass, a rule that passes or does not apply stays satisfied, an
    unknown one must not fail; a failing rule that is not a target may end anyhow."""

    masks: dict[int, int]
    targets: list[Entry]
    others: list[Entry]

    @classmethod
    def of(cls, entries: Sequence[Entry], values: Mapping[str, Any], targets: Iterable[str] | None) -> _Goals:
        """The goals of ``entries`` under ``values`` (the facts now); ``targets``: see ``repair``."""
        wanted = None if targets is None else set(targets)
        typed = typed_assignment(values)
        masks, chosen, others = {}, [], []
        for e in entries:
            state = interpreter_state(e, typed)
            # A disputed rule never fails (it is reported unknown): it is never a target.
            if state & _FAIL and not e.rule.disputed and (wanted is None or e.id in wanted):
                masks[e.index] = _PASS
                chosen.append(e)
                continue
            masks[e.index] = _SATISFIED if state & _SATISFIED else _NOT_FAILED if state & _UNKNOWN else _ANY
            others.append(e)
        return cls(masks, chosen, others)


def _conflict(
    analyzer: Analyzer, core: Sequence[Entry], goals: Mapping[int, int], fixed: Mapping[str, Any]
) -> RuleConflict:
    """The record of rules that cannot reach their goals together: the device facts that
    block them, and which of them must pass."""
    found = analyzer.conflict(core, _blocking(analyzer, core, goals, fixed))
    return evolve(found, passing=tuple(e.id for e in core if goals[e.index] == _PASS))


def is_policy_setting(vocabulary: Vocabulary, name: str) -> bool:
    """Whether ``name`` is a policy setting (a fact a repair may change)."""
    decl = vocabulary.fact(name)
    return decl is not None and decl.policy_controlled


def _split_reachable(
    analyzer: Analyzer, targets: Sequence[Entry], fixed: Mapping[str, Any]
) -> tuple[list[Entry], list[Prerequisite]]:
    """The targets some policy makes pass on this device, and the others as prerequisites."""
    reachable, prerequisites = [], []
    for e in targets:
        if analyzer.satisfiable([e], _PASS, fixed):
            reachable.append(e)
        else:
            prerequisites.append(_prerequisite(analyzer, e, fixed))
    return reachable, prerequisites


def _confirm(entries: Sequence[Entry], goals: Mapping[int, int], after: Mapping[str, Any]) -> None:
    """Check with the interpreter that the repaired values give every rule its goal."""
    for e in entries:
        if not interpreter_state(e, after) & goals[e.index]:
            raise AssertionError(f"analysis bug: the repair does not bring {e.id} to its goal")


def _optimal(
    analyzer: Analyzer,
    entries: Sequence[Entry],
    goals: Mapping[int, int],
    fixed: Mapping[str, Any],
    lowering: Lowering,
    max_changes: int | None,
) -> dict[str, Any] | None:
    """Per independent group of rules, the fewest changed settings among the repairs that
    lower an inclusion-minimal set of settings; the groups add up (they share no setting)."""
    constraints = [Constraint([e], goals[e.index]) for e in entries]
    prepare(constraints, fixed)
    result = dict(fixed) | dict(lowering.current)
    spent = 0
    for group in independent_groups(constraints):
        room = None if max_changes is None else max_changes - spent
        found = _group_repair(analyzer, group, fixed, lowering, room)
        if found is None:
            return None
        changes, assignment = found
        spent += changes
        result.update(assignment)
    return result


def _group_repair(
    analyzer: Analyzer, group: Sequence[Constraint], fixed: Mapping[str, Any], lowering: Lowering, room: int | None
) -> tuple[int, dict[str, Any]] | None:
    """(changes, assignment) for one group: for each minimal set of settings it must lower,
    the fewest changes that lower only those; the best of them (None past ``room``)."""
    domains = fact_domains([c.entries[0] for c in group], analyzer.vocabulary, fixed, first=lowering.current)
    domains = repair_domains(domains, lowering, analyzer.vocabulary)
    best = None
    for free in minimal_lowerings(group, fixed, domains, lowering, analyzer.deadline):
        limit = room if best is None else best[0] - 1 if room is None else min(room, best[0] - 1)
        found = _fewest_changes(
            group, fixed, restricted_domains(domains, lowering, free), lowering.current, limit, analyzer.deadline
        )
        if found is not None:
            best = found
    return best


def _fewest_changes(
    group: Sequence[Constraint],
    fixed: Mapping[str, Any],
    domains: Mapping[str, tuple],
    current: Mapping[str, Any],
    room: int | None,
    deadline: Deadline | None = None,
) -> tuple[int, dict[str, Any]] | None:
    """Iterative deepening on the number of changed settings: (changes, assignment) with the
    fewest, at most ``room`` (None: no limit), or None when no such assignment exists."""
    here = {v: current.get(v) for c in group for v in c.vars}
    probe = SearchContext({**fixed, **here}, domains)
    violated = [c.vars for c in group if constraint_status(c, probe) == DEAD]
    limit = len(here) if room is None else min(room, len(here))
    for k in range(changes_needed(violated), limit + 1):
        found = backtrack(group, fixed, domains, here, k, violated, deadline)
        if found is not None:
            return k, found
    return None


def _options(
    analyzer: Analyzer, entries: Sequence[Entry], goals: Mapping[int, int], assignment: Mapping[str, Any], fact: str
) -> list[Any]:
    """The values of an enum or bool ``fact`` that keep every rule reading it at its goal,
    the rest of ``assignment`` unchanged (none for other kinds)."""
    decl = analyzer.vocabulary.fact(fact)
    if decl is None or decl.type.kind not in ("enum", "bool"):
        return []
    values = decl.type.enum.member_names if decl.type.enum else (True, False)
    touching = [e for e in entries if fact in e.facts]
    return [
        v
        for v in values
        if all(interpreter_state(e, typed_assignment({**assignment, fact: v})) & goals[e.index] for e in touching)
    ]


def _strongest_values(
    analyzer: Analyzer,
    entries: Sequence[Entry],
    goals: Mapping[int, int],
    assignment: Mapping[str, Any],
    lowering: Lowering,
) -> dict[str, Any]:
    """``assignment`` with each lowered setting at the smallest lowering that works with the
    rest unchanged: Require → Allow rather than Require → Do not allow."""
    result = dict(assignment)
    for fact in sorted(lowering.current):
        if fact not in result or not lowering.lowers(fact, result[fact]):
            continue
        better = [
            v
            for v in _options(analyzer, entries, goals, result, fact)
            if lowering.lowers(fact, v) and lowering.stronger(fact, v, result[fact])
        ]
        if better:
            result[fact] = lowering.preferred(fact, better)[0]
    return result


def _setting_changes(
    analyzer: Analyzer,
    entries: Sequence[Entry],
    rest: Sequence[Entry],
    goals: Mapping[int, int],
    device: _DeviceFacts,
    assignment: Mapping[str, Any],
    changed: Mapping[str, Any],
    lowering: Lowering,
) -> tuple[SettingChange, ...]:
    """The changed settings in the Intune words, in the order the rules read them, each
    with the other values that work as well."""
    return tuple(
        setting_change(
            analyzer,
            f,
            device.current.get(f),
            v,
            _alternatives(analyzer, rest, goals, assignment, f, lowering),
            device.disputed.get(f),
        )
        for f, v in sorted(changed.items(), key=lambda kv: _order_key(entries, kv[0]))
    )


def _order_key(entries: Sequence[Entry], fact: str) -> tuple[int, int]:
    """Where ``fact`` is first read: (rule index, position among the rule's facts)."""
    for i, e in enumerate(entries):
        if fact in e.facts:
            return i, e.facts.index(fact)
    return len(entries), 0


def _alternatives(
    analyzer: Analyzer,
    entries: Sequence[Entry],
    goals: Mapping[int, int],
    assignment: Mapping[str, Any],
    fact: str,
    lowering: Lowering,
) -> tuple[str, ...]:
    """Other values of ``fact`` that work with the rest of the repair unchanged: for a setting
    the repair does not lower, those that lower nothing; for one it lowers, the other
    lowerings, smallest first. The weakest value (Not configured) is offered only when the
    repair's own value is as weak."""
    chosen = assignment.get(fact)
    lowered = lowering.lowers(fact, chosen)
    found = [
        v
        for v in _options(analyzer, entries, goals, assignment, fact)
        if not same_value(v, chosen)
        and lowering.lowers(fact, v) == lowered
        and (lowering.weakest(fact, chosen) or not lowering.weakest(fact, v))
    ]
    return tuple(shown_value(analyzer.vocabulary, fact, v) for v in lowering.preferred(fact, found))


def setting_change(
    analyzer: Analyzer,
    fact: str,
    old: Any,
    new: Any,
    alternatives: tuple[str, ...] = (),
    disputed: Conflict | None = None,
) -> SettingChange:
    """A SettingChange in the Intune words; a setting the assigned policies disagree on
    (a merge conflict, so missing) shows what each policy sets."""
    before = shown_value(analyzer.vocabulary, fact, old) if old is not None else "not set"
    if disputed is not None:
        before = "in conflict: " + "; ".join(
            f"{first_input(origins)} sets {shown_value(analyzer.vocabulary, fact, value)}"
            for origins, value in disputed.values
        )
    return SettingChange(
        fact,
        analyzer.label(fact),
        before,
        shown_value(analyzer.vocabulary, fact, new) if new is not None else "not set",
        old,
        new,
        alternatives,
    )


def _turn_offs(
    analyzer: Analyzer,
    kept: Sequence[Entry],
    goals: Mapping[int, int],
    unfixed: Sequence[Entry],
    device: _DeviceFacts,
    assignment: Mapping[str, Any],
    after: Mapping[str, Any],
) -> tuple[TurnOff, ...]:
    """For each target the repair does not make pass (and that still applies after it), the
    fewest further changes that turn it off, when some do."""
    now = {f: assignment.get(f) for f in device.current}
    found = []
    for e in unfixed:
        if interpreter_state(e, after) & _OFF or not analyzer.satisfiable([e], _OFF, device.fixed):
            continue
        off = _turn_off(analyzer, kept, goals, e, device, now)
        if off is not None:
            found.append(off)
    return tuple(found)


def _turn_off(
    analyzer: Analyzer,
    kept: Sequence[Entry],
    goals: Mapping[int, int],
    e: Entry,
    device: _DeviceFacts,
    now: Mapping[str, Any],
) -> TurnOff | None:
    """The fewest changes, from the repaired settings ``now``, that make ``e`` not apply while
    every kept rule keeps its goal (lowering as little as that allows); None when none do."""
    entries, masks = [*kept, e], {**goals, e.index: _OFF}
    if not analyzer.satisfiable(entries, masks, device.fixed):
        return None
    lowering = Lowering.of(analyzer.vocabulary, now)
    assignment = _optimal(analyzer, entries, masks, device.fixed, lowering, None)
    assert assignment is not None, "analysis bug: a satisfiable turn-off without an assignment"
    assignment = _strongest_values(analyzer, entries, masks, written_out(assignment), lowering)
    changed = {f: v for f, v in assignment.items() if f in now and not same_value(v, now.get(f))}
    _confirm(entries, masks, typed_assignment({**device.values, **now, **changed}))
    changes = tuple(
        setting_change(analyzer, f, now.get(f), v)
        for f, v in sorted(changed.items(), key=lambda kv: _order_key(entries, kv[0]))
    )
    return TurnOff(e.id, e.ruleset.id, e.rule.title, changes)


def _blocking(analyzer: Analyzer, entries: Sequence[Entry], goal: Goal, fixed: Mapping[str, Any]) -> tuple[str, ...]:
    """A minimal set of fixed facts that, set free, lets ``entries`` reach ``goal`` (() if none does)."""
    read = list(dict.fromkeys(f for e in entries for f in e.facts if f in fixed))
    free = {k: v for k, v in fixed.items() if k not in read}
    if not analyzer.satisfiable(entries, goal, free):
        return ()
    needed = []
    kept = dict(free)
    for f in read:
        trial = {**kept, f: fixed[f]}
        if analyzer.satisfiable(entries, goal, trial):
            kept = trial
        else:
            needed.append(f)
    return tuple(needed)


def _prerequisite(analyzer: Analyzer, e: Entry, fixed: Mapping[str, Any]) -> Prerequisite:
    """A failing rule no policy makes pass on this device: the device facts that block it
    and, for each, a value under which the rule could pass."""
    blocking = _blocking(analyzer, [e], _PASS, fixed)
    needed: tuple[tuple[str, str, str], ...] = ()
    if blocking:
        free = {k: v for k, v in fixed.items() if k not in blocking}
        assignment = analyzer.solve([(e, _PASS)], free) or {}
        needed = tuple((f, analyzer.label(f), shown_value(analyzer.vocabulary, f, assignment.get(f))) for f in blocking)
    return Prerequisite(e.id, e.ruleset.id, e.rule.title, blocking, (), needed)


def _with_conditions(p: Prerequisite, e: Entry, values: Mapping[str, Any]) -> Prerequisite:
    """``p`` with the reasons for the rule's verdict that read a blocking fact (all of them
    when none does)."""
    outcome = e.interpreter.evaluate(e.rule, values)
    wanted = set(p.facts)
    conditions = tuple(c for c in outcome.reasons if c.fact.split("[", 1)[0] in wanted) or outcome.reasons
    return Prerequisite(p.rule, p.ruleset, p.title, p.facts, conditions, p.needed)
