"""Three-valued masks, the verdict of a rule state, and the goal masks questions take.

A mask is the set of Kleene values a node may still take; a rule's state is the pair
(applicability, requirements) as one bit of nine; a goal is the set of states it accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..outcome import Status

PASS, FAIL, UNKNOWN, NOT_APPLICABLE = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE
SATISFIED = frozenset({PASS, NOT_APPLICABLE})


# A mask is the set of Kleene values a node may still take: T, F, N (unknown) as bits.
T, F, N = 1, 2, 4
ALL = T | F | N
TRUTH_BIT = {True: T, False: F, None: N}  # a truth value as its bit
_BITS = (T, F, N)


def and3(a: int, b: int) -> int:
    """Kleene conjunction of two single truth bits."""
    return F if F in (a, b) else N if N in (a, b) else T


def _or3(a: int, b: int) -> int:
    return T if T in (a, b) else N if N in (a, b) else F


def _not3(a: int) -> int:
    return {T: F, F: T, N: N}[a]


def _table(fn: Callable[[int, int], int]) -> list[list[int]]:
    table = [[0] * 8 for _ in range(8)]
    for x in range(8):
        for y in range(8):
            table[x][y] = _lift(fn, x, y)
    return table


def _lift(fn: Callable[[int, int], int], x: int, y: int) -> int:
    out = 0
    for a in _BITS:
        if x & a:
            for b in _BITS:
                if y & b:
                    out |= fn(a, b)
    return out


# Kleene and, or, not on masks: AND[x][y] is every value ``a and b`` takes for a in x, b in y.
AND = _table(and3)
OR = _table(_or3)
NOT = [sum(_not3(b) for b in _BITS if x & b) for x in range(8)]

# A rule's state is (applicability, requirements), 9 combinations, each one bit.
_INDEX = {T: 0, F: 1, N: 2}


def verdict_of(a: int, r: int) -> Status:
    """The interpreter's verdict for applicability ``a`` and requirement truth ``r``."""
    if a == F:
        return NOT_APPLICABLE
    if a == N:
        return PASS if r == T else UNKNOWN
    return {T: PASS, F: FAIL, N: UNKNOWN}[r]


def state_bit(a: int, r: int) -> int:
    """The bit of the rule state (applicability ``a``, requirements ``r``), each a single truth bit."""
    return 1 << (_INDEX[a] * 3 + _INDEX[r])


# STATES[x][y]: the rule states applicability mask x and requirements mask y allow.
STATES = [[_lift(state_bit, x, y) for y in range(8)] for x in range(8)]


def _status_goal(statuses: Iterable[Status]) -> int:
    wanted = set(statuses)
    return sum(state_bit(a, r) for a in _BITS for r in _BITS if verdict_of(a, r) in wanted)


# The rule states in which a rule applies; and each goal a caller names, as a set of states.
APPLICABLE = sum(state_bit(T, r) for r in _BITS)
GOAL_WORDS = {
    "satisfied": _status_goal(SATISFIED),
    "not_satisfied": _status_goal({FAIL, UNKNOWN}),
    "applicable": APPLICABLE,
}


def goal_mask(goal: str | Status | Iterable[Status | str]) -> int:
    """The set of rule states a goal accepts.

    ``"satisfied"`` (pass or not applicable), ``"not_satisfied"`` (fail or unknown),
    ``"applicable"`` (the applicability condition is true), a status or its name
    (``"pass"``, ``"fail"``, ``"unknown"``, ``"not_applicable"``), or a set of these.
    """
    if isinstance(goal, Status):
        return _status_goal({goal})
    if isinstance(goal, str):
        if goal in GOAL_WORDS:
            return GOAL_WORDS[goal]
        try:
            return _status_goal({Status(goal)})
        except ValueError:
            raise ValueError(f"unknown goal {goal!r}") from None
    mask = 0
    for item in goal:
        mask |= goal_mask(item)
    return mask
