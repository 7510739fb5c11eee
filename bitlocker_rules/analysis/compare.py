"""Comparison of two rule selections: stricter, looser, equivalent or incomparable, with a
witness for each direction that differs.

A implies B when no assignment satisfies every rule of A and leaves some rule of B
unsatisfied. That is decided one rule of B at a time, and only against the rules of A that
share a free fact with it (directly or through other rules of A): the rest of A is
satisfied once, on its own. A rule of B that A also has (the same conditions, once
loaded) cannot be left unsatisfied while A holds: it needs no search, so identical
sides are equivalent at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..vocabulary import Vocabulary
from .analyzer import Analyzer, independent_components
from .evaluation import NO_BINDINGS, SearchContext, with_missing
from .logic import GOAL_WORDS
from .results import Comparison, Deadline, Difference, Undecided
from .selection import Entry, assuming, interpreter_state, meaning

_SATISFIED, _BROKEN = GOAL_WORDS["satisfied"], GOAL_WORDS["not_satisfied"]
_RELATIONS = {
    (False, False): "equivalent",
    (False, True): "stricter",
    (True, False): "looser",
    (True, True): "incomparable",
}


def compare(
    a: Iterable[Any],
    b: Iterable[Any],
    vocabulary: Vocabulary,
    assumed: Mapping[str, bool] | None = None,
    *,
    timeout: float | Deadline | None = None,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Is ruleset (selection) A stricter than, looser than, equivalent to or incomparable with B?

    A is stricter when every assignment that satisfies every rule of A satisfies every rule
    of B. Each direction that differs comes with a witness. ``assumed`` decides scenario
    facts (the declared scenarios and those they exclude) on both sides. ``timeout``
    (seconds, or a ``Deadline``; None: no limit): past it the relation is ``undecided``
    (with any difference found by then); ``progress`` is told what is being compared.
    """
    deadline = Deadline.of(timeout, progress)
    left = Analyzer(assuming(a, assumed or {}), vocabulary, deadline=deadline)
    right = Analyzer(assuming(b, assumed or {}), vocabulary, deadline=deadline)
    if _same_rules(left.entries, right.entries):
        return Comparison("equivalent")  # the same rules: nothing to search
    ea, eb = left.select(), right.select()
    for i, e in enumerate(eb):
        e.index = len(ea) + i
    try:
        a_not_b = _difference(left, ea, eb, ("A", "B"))
    except Undecided as exc:
        return Comparison(
            "undecided", undecided=f"undecided within {exc.limit:g} s: whether A implies B was not decided in time"
        )
    try:
        b_not_a = _difference(left, eb, ea, ("B", "A"))
    except Undecided as exc:
        known = "A does not imply B (see the witness)" if a_not_b is not None else "A implies B"
        return Comparison(
            "undecided",
            a_not_b,
            None,
            f"undecided within {exc.limit:g} s: {known}; whether B implies A was not decided in time",
        )
    return Comparison(_RELATIONS[(a_not_b is not None, b_not_a is not None)], a_not_b, b_not_a)


def _same_rules(a: Sequence[Entry], b: Sequence[Entry]) -> bool:
    """Whether two sides hold the same rules, as many times each (by meaning, not by id)."""
    return Counter(meaning(e.rule) for e in a) == Counter(meaning(e.rule) for e in b)


def _difference(
    analyzer: Analyzer, sat_side: list[Entry], other: list[Entry], names: tuple[str, str]
) -> Difference | None:
    """An assignment that satisfies every rule of ``sat_side`` and not some rule of ``other``
    (None: there is none, so ``sat_side`` implies ``other``)."""
    mine = {meaning(e.rule) for e in sat_side}
    candidates = [e for e in other if meaning(e.rule) not in mine]
    if not candidates:
        return None
    analyzer.deadline.step(f"{names[0]} implies {names[1]}?: whether {names[0]} can hold at all")
    base = analyzer.solve([(e, _SATISFIED) for e in sat_side])
    if base is None:
        return None  # nothing satisfies this side: it implies anything
    found = _Greedy(analyzer, sat_side, candidates, names).first(base)
    if found is None:
        return None
    witness = analyzer.witness(found.clearer(other), sat_side + other, [(e, _SATISFIED) for e in sat_side])
    failing = tuple(e.id for e in other if not interpreter_state(e, witness.values) & _SATISFIED)
    assert failing, "analysis bug: the witness satisfies both sides"
    return Difference(names[0], names[1], witness, failing)


class _Greedy:
    """A difference being made clearer: an assignment that satisfies ``sat_side`` and the
    rules of the other side added so far, and leaves ``broken`` (one of ``candidates``)
    unsatisfied. Each search covers only the rules linked to the rules it is about."""

    def __init__(
        self, analyzer: Analyzer, sat_side: Sequence[Entry], candidates: Sequence[Entry], names: tuple[str, str]
    ) -> None:
        self.analyzer = analyzer
        self.kept = list(sat_side)  # must be satisfied
        self.candidates = candidates
        self.names = names
        self.broken: Entry | None = None
        self.assignment: dict[str, Any] = {}

    def first(self, base: Mapping[str, Any]) -> _Greedy | None:
        """Self with the first candidate that can be left unsatisfied, or None when none can."""
        for i, e in enumerate(self.candidates):
            self.analyzer.deadline.step(
                f"{self.names[0]} implies {self.names[1]}?: rule {e.id} ({i + 1} of {len(self.candidates)})"
            )
            found = self.solve(None, e)
            if found is not None:
                self.broken, self.assignment = e, {**base, **found}
                return self
        return None

    def clearer(self, other: Sequence[Entry]) -> dict[str, Any]:
        """The assignment with as many rules of ``other`` satisfied, in order, as still leave
        one unsatisfied (as one search with a disjunction would, one rule at a time). When
        time runs out, the assignment so far stands."""
        try:
            for i, e in enumerate(other):
                self.analyzer.deadline.step(
                    f"{self.names[0]} implies {self.names[1]}?: a clearer witness ({i + 1} of {len(other)})"
                )
                self.add(e)
        except Undecided:
            pass
        return self.assignment

    def add(self, e: Entry) -> None:
        """Keep ``e`` satisfied too if some candidate can still be left unsatisfied."""
        if e is not self.broken and _holds(e, self.assignment):
            self.kept.append(e)
            return
        tried = [self.broken] if self.broken is not None and e is not self.broken else []
        tried += [b for b in self.candidates if b is not e and b is not self.broken and b not in self.kept]
        for b in tried:
            found = self.solve(e, b)
            if found is not None:
                self.broken, self.assignment = b, {**self.assignment, **found}
                self.kept.append(e)
                return

    def solve(self, satisfied: Entry | None, broken: Entry) -> dict[str, Any] | None:
        """An assignment of the facts linked to ``satisfied`` and ``broken`` under which the kept
        rules and ``satisfied`` are satisfied and ``broken`` is not."""
        new = [broken] if satisfied is None else [satisfied, broken]
        linked = {x.index for e in new for x in _linked(e, self.kept)}
        goals = [(x, _SATISFIED) for x in self.kept if x.index in linked]
        goals += [(satisfied, _SATISFIED)] if satisfied is not None else []
        return self.analyzer.solve(goals + [(broken, _BROKEN)])


def _linked(e: Entry, others: Sequence[Entry]) -> list[Entry]:
    """The entries of ``others`` linked to ``e`` by shared free facts (through each other)."""
    for component in independent_components([e, *others], {}):
        if any(x is e for x in component):
            return [x for x in component if x is not e]
    return []


def _holds(e: Entry, assignment: Mapping[str, Any]) -> bool:
    """Whether ``e`` is certainly satisfied under ``assignment`` (absent facts missing)."""
    state = e.state(SearchContext(with_missing(assignment, e.facts), NO_BINDINGS))
    return bool(state & _SATISFIED) and not state & ~_SATISFIED
