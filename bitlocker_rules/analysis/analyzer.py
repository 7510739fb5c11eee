"""The Analyzer, exact questions over selected rules (solutions, witnesses, minimal
conflicts by QuickXplain, satisfiable subsets), and ``check_satisfiable``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..errors import Diagnostic
from ..outcome import Status
from ..vocabulary import Vocabulary
from .domains import fact_domains
from .logic import goal_mask
from .results import AnalysisError, Deadline, RuleConflict, Satisfiability, Undecided, Witness
from .search import Constraint, backtrack, independent_groups, prepare
from .selection import Entry, interpreter_state, selected_entries
from .unionfind import UnionFind
from .values import MAX_RECORDS, shown_value, too_large, typed_assignment
from .wording import requirements_of

# A question's goal: one mask for every rule, or a mask per rule (by entry index).
Goal = int | Mapping[int, int]


class Analyzer:
    """Selected rules of one or more checked rulesets, ready for exact questions.

    ``rulesets`` are LoadedRulesets (``engine.load_ruleset``) or checked ``Ruleset``s;
    ``rules`` optionally restricts the selection to these rule ids. Rules outside the
    decidable fragment are listed in ``unsupported`` (with diagnostics); a question that
    involves them raises ``AnalysisError``. Every search stops at ``deadline`` (a
    ``Deadline``, or seconds from now; None: no limit) with ``Undecided``.
    """

    def __init__(
        self,
        rulesets: Iterable[Any],
        vocabulary: Vocabulary,
        rules: Iterable[str] | None = None,
        deadline: Deadline | float | None = None,
    ) -> None:
        self.vocabulary = vocabulary
        self.rulesets = tuple(rulesets)
        self.deadline = Deadline.of(deadline)
        self.entries = selected_entries(self.rulesets, vocabulary, rules)
        self._domain_cache: dict[tuple[int, ...], dict[str, tuple]] = {}

    @property
    def unsupported(self) -> tuple[tuple[str, tuple[Diagnostic, ...]], ...]:
        """(rule id, diagnostics) for every selected rule the analyser cannot decide."""
        return tuple((e.id, e.problems) for e in self.entries if e.problems)

    def select(self, rules: Iterable[str] | None = None) -> list[Entry]:
        """Entries by rule id (all when None), raising AnalysisError for undecidable ones."""
        if rules is None:
            chosen = list(self.entries)
        else:
            by_id: dict[str, Entry] = {}
            for e in self.entries:
                by_id.setdefault(e.id, e)
            missing = [r for r in rules if r not in by_id]
            if missing:
                raise AnalysisError([Diagnostic("A001", f"no selected rule called `{r}`") for r in missing])
            chosen = [by_id[r] for r in rules]
        problems = [d for e in chosen for d in e.problems]
        if problems:
            raise AnalysisError(problems)
        return chosen

    # --- core questions
    def solve(
        self,
        goals: Sequence[tuple[Entry, int]],
        fixed: Mapping[str, Any] | None = None,
        any_of: tuple[Sequence[Entry], int] | None = None,
    ) -> dict[str, Any] | None:
        """An assignment under which every (entry, goal mask) holds, or None.

        ``any_of`` adds one disjunctive constraint: some entry of the group reaches its goal.
        """
        fixed = dict(fixed or {})
        constraints = [Constraint([e], g) for e, g in goals]
        involved = [e for e, _ in goals]
        if any_of is not None:
            constraints.append(Constraint(any_of[0], any_of[1], any_=True))
            involved += list(any_of[0])
        for e in involved:
            if e.problems:
                raise AnalysisError(e.problems)
        prepare(constraints, fixed)
        result = dict(fixed)
        for group in independent_groups(constraints):
            entries = list({e.index: e for c in group for e in c.entries}.values())
            found = backtrack(group, fixed, self.domains(entries, fixed), deadline=self.deadline)
            if found is None:
                return None
            result.update(found)
        return result

    def domains(self, entries: Sequence[Entry], fixed: Mapping[str, Any]) -> dict[str, tuple]:
        """Value sets for a query; remembered for small queries without fixed facts."""
        if fixed or len(entries) > 2:
            return fact_domains(entries, self.vocabulary, fixed)
        key = tuple(sorted(e.index for e in entries))
        found = self._domain_cache.get(key)
        if found is None:
            if len(self._domain_cache) > 4096:
                self._domain_cache.clear()
            found = self._domain_cache[key] = fact_domains(entries, self.vocabulary, fixed)
        return found

    def satisfiable(self, entries: Sequence[Entry], goal: Goal, fixed: Mapping[str, Any] | None = None) -> bool:
        """Whether some assignment gives every entry its goal (one mask, or a mask per entry index)."""
        return self.solve([(e, _goal_of(goal, e)) for e in entries], fixed) is not None

    def witness(
        self, assignment: Mapping[str, Any], entries: Sequence[Entry], check: Sequence[tuple[Entry, int]] = ()
    ) -> Witness:
        """A Witness for ``assignment``; every (entry, goal) in ``check`` is confirmed by the interpreter."""
        values = typed_assignment(written_out(assignment))
        for entry, goal in check:
            state = interpreter_state(entry, values)
            if not state & goal:
                raise AssertionError(f"analysis bug: the witness does not give {entry.id} the wanted verdict")
        missing = tuple(sorted(k for k, v in assignment.items() if v is None))
        shown = tuple(
            (name, self.label(name), shown_value(self.vocabulary, name, assignment[name]))
            for name in sorted(assignment)
        )
        outcomes = tuple((e.id, e.interpreter.verdict(e.rule, values)[0]) for e in entries)
        return Witness(MappingProxyType(values), missing, shown, outcomes)

    def label(self, name: str) -> str:
        decl = self.vocabulary.fact(name)
        return decl.label if decl else name

    def minimal_conflict(
        self, entries: Sequence[Entry], goal: int, fixed: Mapping[str, Any] | None = None
    ) -> list[Entry] | None:
        """A minimal unsatisfiable subset of ``entries`` (None when they are satisfiable)."""
        fixed = dict(fixed or {})
        for component in independent_components(entries, fixed):
            if not self.satisfiable(component, goal, fixed):
                return self._quickxplain(component, goal, fixed)
        return None

    def split(
        self, entries: Sequence[Entry], goal: Goal, fixed: Mapping[str, Any] | None = None
    ) -> tuple[list[Entry], list[list[Entry]]]:
        """Grow a satisfiable subset in the order of ``entries``; each rule that does not fit is
        left out, with a minimal conflicting set it forms with the rules kept before it.
        ``goal`` is one mask, or a mask per entry index.

        Returns (kept, conflicts); every conflict ends with the rule left out.
        """
        fixed = dict(fixed or {})
        kept: list[Entry] = []
        conflicts: list[list[Entry]] = []
        witness = dict(fixed)
        for e in entries:
            # Most rules fit the witness found so far: try that first, cheaply.
            found = self.solve([(e, _goal_of(goal, e))], witness)
            if found is None:
                found = self.solve([(x, _goal_of(goal, x)) for x in kept + [e]], fixed)
                if found is not None:
                    witness = dict(fixed)
            if found is not None:
                kept.append(e)
                witness.update(found)
                continue
            mine = {f for f in e.facts if f not in fixed}
            neighbours = [x for x in kept if mine.intersection(x.facts)]
            # A rule at odds with a single kept rule is the common case: pairs first.
            core = next(([x] for x in neighbours if not self.satisfiable([x, e], goal, fixed)), None)
            if core is None:
                core = self._quickxplain(self._connected(e, kept, fixed), goal, fixed, background=[e])
            order = {x.index: i for i, x in enumerate(entries)}
            conflicts.append(sorted(core, key=lambda x: order[x.index]) + [e])
        return kept, conflicts

    @staticmethod
    def _connected(e: Entry, others: Sequence[Entry], fixed: Mapping[str, Any]) -> list[Entry]:
        """The rules linked to ``e`` through shared free facts (a minimal core lies among them)."""
        for component in independent_components([e, *others], fixed):
            if any(x is e for x in component):
                return [x for x in component if x is not e]
        return []

    def _quickxplain(
        self, entries: list[Entry], goal: Goal, fixed: Mapping[str, Any], background: Sequence[Entry] = ()
    ) -> list[Entry]:
        def sat(items: list[Entry]) -> bool:
            return self.satisfiable(items, goal, fixed)

        def qx(background: list[Entry], changed: bool, items: list[Entry]) -> list[Entry]:
            if changed and not sat(background):
                return []
            if len(items) == 1:
                return list(items)
            half = len(items) // 2
            first, second = items[:half], items[half:]
            d2 = qx(background + first, bool(first), second)
            d1 = qx(background + d2, bool(d2), first)
            return d1 + d2

        core = qx(list(background), bool(background), entries)
        order = {e.index: i for i, e in enumerate(entries)}
        return sorted(core, key=lambda e: order[e.index])

    def conflict(self, core: Sequence[Entry], device_facts: tuple[str, ...] = ()) -> RuleConflict:
        """A RuleConflict record: the rules and, condition by condition, what each requires."""
        counts: dict[str, int] = {}
        for e in core:
            for f in set(e.facts):
                counts[f] = counts.get(f, 0) + 1
        shared = {f for f, c in counts.items() if c > 1} or set(counts)
        requirements = tuple(r for e in core for r in requirements_of(e, shared))
        return RuleConflict(tuple(e.id for e in core), tuple(e.ruleset.id for e in core), requirements, device_facts)


def written_out(assignment: Mapping[str, Any]) -> Mapping[str, Any]:
    """``assignment``, if no collection in it is too large to write out; else AnalysisError (A105)."""
    found = too_large(assignment)
    if found is not None:
        raise AnalysisError(
            [
                Diagnostic(
                    "A105",
                    f"the answer needs {found[1]} records of {found[0]}; the analyser writes out at most {MAX_RECORDS}",
                    severity="warning",
                    help="compare counts with smaller numbers",
                )
            ]
        )
    return assignment


def _goal_of(goal: Goal, entry: Entry) -> int:
    """The goal mask of ``entry``: ``goal`` itself, or its entry under the entry's index."""
    return goal if isinstance(goal, int) else goal[entry.index]


def independent_components(entries: Sequence[Entry], fixed: Mapping[str, Any]) -> list[list[Entry]]:
    """Entries grouped by shared free facts (independent groups are decided separately)."""
    union: UnionFind[tuple[str, int | str]] = UnionFind()
    for e in entries:
        union.find(("e", e.index))
        for f in e.facts:
            if f not in fixed:
                union.union(("e", e.index), ("f", f))
    groups: dict[tuple, list[Entry]] = {}
    for e in entries:
        groups.setdefault(union.find(("e", e.index)), []).append(e)
    return list(groups.values())


def check_satisfiable(
    rulesets: Iterable[Any],
    vocabulary: Vocabulary,
    *,
    rules: Iterable[str] | None = None,
    facts: Mapping[str, Any] | Any = None,
    fixed_namespaces: Iterable[str] = (),
    goal: str | Status | Iterable[Status | str] = "satisfied",
    timeout: float | Deadline | None = None,
) -> Satisfiability:
    """Can some assignment of the free facts give every selected rule a verdict in ``goal``?

    ``facts`` (a values mapping or a Facts record) fixes those facts; facts of a namespace
    in ``fixed_namespaces`` that ``facts`` lacks are fixed as missing. Returns a witness
    validated by the interpreter, or a minimal conflicting set of rules. ``timeout``
    (seconds, or a ``Deadline``; None: no limit): past it the answer is undecided
    (``satisfiable`` None, ``undecided`` says so).
    """
    analyzer = Analyzer(rulesets, vocabulary, rules, Deadline.of(timeout))
    entries = analyzer.select()
    mask = goal_mask(goal)
    fixed = _fixed(entries, facts, set(fixed_namespaces), vocabulary)
    try:
        analyzer.deadline.step("searching for an assignment that satisfies every rule")
        assignment = analyzer.solve([(e, mask) for e in entries], fixed)
        if assignment is not None:
            return Satisfiability(True, analyzer.witness(assignment, entries, [(e, mask) for e in entries]))
        analyzer.deadline.step("shrinking the rules that conflict to a minimal set")
        core = analyzer.minimal_conflict(entries, mask, fixed) or []
    except Undecided as exc:
        return Satisfiability(None, undecided=exc.diagnostics[0].message)
    return Satisfiability(False, conflict=analyzer.conflict(core))


def values_of(facts: Any) -> Mapping[str, Any]:
    """The fact values of ``facts``: a ``Facts``, a mapping, or None (no values)."""
    if facts is None:
        return {}
    if isinstance(facts, Mapping):
        return facts
    return facts.values


def _fixed(entries: Sequence[Entry], facts: Any, namespaces: set[str], vocabulary: Vocabulary) -> dict[str, Any]:
    values = values_of(facts)
    fixed = {k: v for k, v in values.items() if v is not None}
    for e in entries:
        for f in e.facts:
            if f not in fixed and f.split(".", 1)[0] in namespaces:
                fixed[f] = None
    return fixed
