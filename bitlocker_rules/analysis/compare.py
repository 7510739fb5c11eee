"""Comparison of two rule selections: stricter, looser, equivalent or incomparable, with a
witness for each direction that differs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..vocabulary import Vocabulary
from .analyzer import Analyzer
from .logic import _GOAL_WORDS
from .records import Comparison, Difference
from .selection import _Entry, _interpreter_state, assuming


def compare(a: Iterable[Any], b: Iterable[Any], vocabulary: Vocabulary,
            assumed: Mapping[str, bool] | None = None) -> Comparison:
    """Is ruleset (selection) A stricter than, looser than, equivalent to or incomparable with B?

    A is stricter when every assignment that satisfies every rule of A satisfies every rule
    of B. Each direction that differs comes with a witness. ``assumed`` decides scenario
    facts (the declared scenarios and those they exclude) on both sides.
    """
    left, right = Analyzer(assuming(a, assumed or {}), vocabulary), Analyzer(assuming(b, assumed or {}), vocabulary)
    ea, eb = left.select(), right.select()
    for i, e in enumerate(eb):
        e.index = len(ea) + i
    a_not_b = _difference(left, ea, eb, "A", "B")
    b_not_a = _difference(left, eb, ea, "B", "A")
    relation = {(False, False): "equivalent", (False, True): "stricter",
                (True, False): "looser", (True, True): "incomparable"}[(a_not_b is not None, b_not_a is not None)]
    return Comparison(relation, a_not_b, b_not_a)


def _difference(analyzer: Analyzer, sat_side: list[_Entry], other: list[_Entry], name: str,
                other_name: str) -> Difference | None:
    satisfied, broken = _GOAL_WORDS["satisfied"], _GOAL_WORDS["not_satisfied"]
    if not other:
        return None
    goals = [(e, satisfied) for e in sat_side]
    assignment = analyzer.solve(goals, any_of=(other, broken))
    if assignment is None:
        return None
    # A clearer witness: satisfy as many rules of the other side as still allows a difference.
    for e in other:
        better = analyzer.solve(goals + [(e, satisfied)], any_of=(other, broken))
        if better is not None:
            goals.append((e, satisfied))
            assignment = better
    everything = sat_side + other
    witness = analyzer.witness(assignment, everything, [(e, satisfied) for e in sat_side])
    values = witness.values
    failing = tuple(e.id for e in other if not _interpreter_state(e, values) & satisfied)
    assert failing, "analysis bug: the witness satisfies both sides"
    return Difference(name, other_name, witness, failing)
