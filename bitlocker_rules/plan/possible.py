"""Every possible device: whether a device of any shape that satisfies a ruleset under today's
policies fails it under the proposal's, decided by the exact analysis, with the smallest witness.

The policies of each side are fixed (a setting they leave unset, or set in conflict, is
missing); the device's facts range over the vocabulary's domain (``analysis.domains``), the
same values on both sides. The rules under the proposal are the same entries read through an
overlay of the proposal's settings (``ProposedEntry``), so one search assigns the device once
and evaluates it on both sides. A scenario each side's policies decide alone (or that is
declared) is fixed on each side; any other one ranges like a device fact, the same on both
sides (the device's declared intent), and the answer says so when its inference reads a
setting the proposal changes (a device whose inferred scenario the change flips is not covered).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attrs import evolve, frozen

from .. import nodes as n
from ..analysis import AnalysisError, Deadline, Undecided
from ..analysis.analyzer import Analyzer, written_out
from ..analysis.evaluation import SearchContext
from ..analysis.logic import goal_mask
from ..analysis.search import Constraint, backtrack, independent_groups, prepare
from ..analysis.selection import Entry, interpreter_state
from ..analysis.values import raw_value, same_value, shown_value, typed_assignment
from ..engine import Engine, LoadedRuleset
from ..facts import Facts
from ..outcome import Status
from .memberships import Membership

_SATISFIED = goal_mask("satisfied")
_FAIL = goal_mask(Status.FAIL)
_ABSENT = object()


@frozen
class WitnessFact:
    """One fact of a witness device: its name, Intune label, value in the admin's words, and the
    value as a device file gives it (JSON: an enum member's name, a version's text)."""

    fact: str
    label: str
    value: str
    raw: Any


@frozen
class PossibleRegression:
    """One ruleset under one pair of policy sets: whether some possible device satisfies it today
    and fails it under the proposal (``worse``: True, False, or None when undecided in time)."""

    ruleset: str
    policies_before: tuple[str, ...]
    policies_after: tuple[str, ...]
    worse: bool | None
    failing: tuple[str, ...] = ()  # the rules the witness fails under the proposal
    witness: tuple[WitnessFact, ...] = ()  # the device facts it sets; every other one is missing
    smallest: bool = True  # the witness sets as few facts as any (False: time ran out shrinking it)
    note: str = ""  # why it is undecided, or which scenarios were taken as the device's intent
    membership: Membership | None = None  # a membership giving the pair, when no device of the fleet has it


class ProposedEntry(Entry):
    """An entry read under the proposal: the same rule, the proposal's settings laid over the
    assignment while it is evaluated (the search fixes today's)."""

    __slots__ = ("entry", "overlay")

    def __init__(self, entry: Entry, index: int, overlay: Mapping[str, Any]) -> None:
        for name in Entry.__slots__:  # a copy of the entry's parts, not a new entry: no Entry.__init__
            if hasattr(entry, name):
                setattr(self, name, getattr(entry, name))
        self.entry, self.index, self.overlay = entry, index, dict(overlay)

    def state(self, ctx: SearchContext) -> int:
        """The entry's possible states with the proposal's settings in place of today's."""
        saved = {f: ctx.asg.get(f, _ABSENT) for f in self.overlay}
        ctx.asg.update(self.overlay)
        try:
            return self.entry.state(ctx)
        finally:
            for f, value in saved.items():
                if value is _ABSENT:
                    del ctx.asg[f]
                else:
                    ctx.asg[f] = value


def possible_regressions(
    engine: Engine,
    before: Facts | None,
    after: Facts | None,
    names: tuple[tuple[str, ...], tuple[str, ...]],
    deadline: Deadline,
    membership: Membership | None = None,
) -> list[PossibleRegression]:
    """For each of ``engine``'s rulesets: can a device satisfy it under ``before`` and fail it under
    ``after``? ``membership``: the one that gives the pair, when no device of the fleet has it."""
    sides = _sides(engine, _settings(before), _settings(after))
    return [
        evolve(_ruleset_question(engine, loaded, sides, names, deadline), membership=membership)
        for loaded in engine.rulesets
    ]


def question_key(before: Facts | None, after: Facts | None) -> tuple:
    """What the question of a pair of policy sets depends on: each side's policy settings (two
    pairs with the same settings on both sides get the same answers)."""
    return tuple(tuple(sorted((f, repr(v)) for f, v in _settings(side).items())) for side in (before, after))


@frozen
class _Sides:
    """What each side fixes: its policy settings (absent: missing) and the scenarios its policies
    decide alone on both sides; of the scenarios left to the device (its declared intent, the same
    on both sides), those whose inference reads a setting the proposal changes."""

    before: Mapping[str, Any]
    after: Mapping[str, Any]
    flipped: frozenset[str]  # scenarios left to the device whose inference reads a setting that changes


def _settings(policy: Facts | None) -> dict[str, Any]:
    """A side's policy settings (facts in conflict are absent: missing)."""
    return {f: v for f, v in policy.values.items() if f.startswith("policy.")} if policy else {}


def _sides(engine: Engine, before: dict[str, Any], after: dict[str, Any]) -> _Sides:
    known_before, known_after = engine.scenarios.values(before), engine.scenarios.values(after)
    decided = set(known_before) & set(known_after)
    free = frozenset(f for f in engine.vocabulary.facts if f.startswith("scenario.") and f not in decided)
    changed = {f for f in {*before, *after} if not same_value(before.get(f), after.get(f))}
    flipped = frozenset(f for f, reads in _inference_reads(engine).items() if f in free and changed & reads)
    return _Sides(
        {**before, **{f: known_before[f] for f in decided}},
        {**after, **{f: known_after[f] for f in decided}},
        flipped,
    )


def _inference_reads(engine: Engine) -> dict[str, set[str]]:
    """Each inferred scenario fact → the facts its inference reads (those of the scenarios that exclude it too)."""
    resolver = engine.scenarios
    rules = resolver.checks.rules
    own = {
        s.name: {f for rule in rules[2 * i : 2 * i + 2] for f in n.facts_read(rule.applicability, *rule.requires)}
        for i, s in enumerate(resolver.inferred)
    }
    return {
        resolver.scenarios[name].fact: reads.union(*(own.get(other, set()) for other in resolver.excluded_by(name)))
        for name, reads in own.items()
    }


def _ruleset_question(
    engine: Engine,
    loaded: LoadedRuleset,
    sides: _Sides,
    names: tuple[tuple[str, ...], tuple[str, ...]],
    deadline: Deadline,
) -> PossibleRegression:
    """The question for one ruleset, its witness shrunk to the fewest facts set."""
    analyzer = Analyzer([loaded], engine.vocabulary, deadline=deadline)
    today = analyzer.entries
    read = {f for e in today for f in e.facts}
    intent = sorted(sides.flipped.intersection(read))
    note = (
        f"{', '.join(intent)} inferred from settings the proposal changes: taken as the device's declared intent"
        if intent
        else ""
    )
    result = PossibleRegression(loaded.id, *names, worse=False, note=note)
    problems = [e.id for e in today if e.problems]
    if problems:
        return _with(result, None, f"outside what the exact analysis decides: {', '.join(problems)}")
    fixed = {f: sides.before.get(f) for f in read if f.startswith("policy.") or f in sides.before}
    overlay = {f: sides.after.get(f) for f in fixed}
    changed = {f for f in fixed if not same_value(fixed[f], overlay[f])}
    # A rule that reads no changed setting gives a device the same verdict on both sides.
    candidates = [ProposedEntry(e, len(today) + e.index, overlay) for e in today if changed.intersection(e.facts)]
    best: tuple[dict[str, Any], bool] | None = None
    goals = [(e, _SATISFIED) for e in today]
    try:
        if candidates and analyzer.solve(goals, fixed) is None:
            return _with(result, False, "no device satisfies it under today's policies")
        for i, candidate in enumerate(candidates):
            deadline.step(
                f"plan: can a device satisfying {loaded.id} today fail {candidate.id} ({i + 1} of {len(candidates)})?"
            )
            if analyzer.solve([*goals, (candidate, _FAIL)], fixed) is not None:
                found = _fewest_facts(analyzer, goals, candidate, fixed)
                if best is None or _size(found[0], fixed) < _size(best[0], fixed):
                    best = found
    except (Undecided, AnalysisError) as exc:
        return _with(result, None, _reason(exc, deadline))
    if best is None:
        return result
    device = {f: v for f, v in best[0].items() if f not in fixed}
    return PossibleRegression(
        loaded.id,
        *names,
        worse=True,
        failing=_confirmed(today, fixed, overlay, device),
        witness=tuple(
            WitnessFact(f, analyzer.label(f), shown_value(engine.vocabulary, f, v), raw_value(v))
            for f, v in sorted(device.items())
            if v is not None
        ),
        smallest=best[1],
        note=note,
    )


def _size(assignment: Mapping[str, Any], fixed: Mapping[str, Any]) -> int:
    """How many device facts an assignment sets."""
    return sum(1 for f, v in assignment.items() if f not in fixed and v is not None)


def _with(result: PossibleRegression, worse: bool | None, why: str) -> PossibleRegression:
    note = f"{why}; {result.note}" if result.note else why
    return PossibleRegression(result.ruleset, result.policies_before, result.policies_after, worse, note=note)


def _reason(exc: Exception, deadline: Deadline) -> str:
    if isinstance(exc, Undecided):
        return f"undecided within {exc.limit:g} s"
    return "; ".join(d.message for d in getattr(exc, "diagnostics", ())) or str(exc)


def _fewest_facts(
    analyzer: Analyzer,
    goals: Sequence[tuple[Entry, int]],
    candidate: ProposedEntry,
    fixed: Mapping[str, Any],
) -> tuple[dict[str, Any], bool]:
    """A witness setting the fewest device facts (the rest missing): a search by increasing number
    of facts set, per independent group; (the witness, True), or one found unshrunk and False
    when time runs out shrinking it."""
    constraints = [Constraint([e], goal) for e, goal in goals]
    constraints.append(Constraint([candidate], _FAIL))
    prepare(constraints, fixed)
    result = dict(fixed)
    for group in independent_groups(constraints):
        entries = list({e.index: e for c in group for e in c.entries}.values())
        domains = analyzer.domains(entries, fixed)
        variables = sorted({v for c in group for v in c.vars})
        nothing = dict.fromkeys(variables)
        try:
            for budget in range(len(variables) + 1):
                assignment = backtrack(group, fixed, domains, nothing, budget, deadline=analyzer.deadline)
                if assignment is not None:
                    result.update(assignment)
                    break
        except Undecided:
            found = backtrack(group, fixed, domains)  # unbounded: quick, with backjumping
            if found is None:
                raise
            result.update(found)
            return {**result, **_rest(analyzer, constraints, group, fixed)}, False
    return result, True


def _rest(
    analyzer: Analyzer, constraints: Sequence[Constraint], done: Sequence[Constraint], fixed: Mapping[str, Any]
) -> dict[str, Any]:
    """An assignment for the groups not yet searched (time ran out: not shrunk)."""
    found = analyzer.solve([(c.entries[0], c.goal) for c in constraints if c not in done], fixed)
    return found or {}


def _confirmed(
    today: Sequence[Entry],
    fixed: Mapping[str, Any],
    overlay: Mapping[str, Any],
    device: Mapping[str, Any],
) -> tuple[str, ...]:
    """The rules the witness fails under the proposal, each verdict confirmed by the interpreter
    on both sides (an analysis bug is an error, never a wrong answer)."""
    on_today = typed_assignment(written_out({**device, **fixed}))
    on_proposal = typed_assignment(written_out({**device, **overlay}))
    for e in today:
        if not interpreter_state(e, on_today) & _SATISFIED:
            raise AssertionError(f"analysis bug: the witness does not satisfy {e.id} today")
    failing = tuple(e.id for e in today if interpreter_state(e, on_proposal) & _FAIL)
    if not failing:
        raise AssertionError("analysis bug: the witness fails no rule under the proposal")
    return failing
