"""Backtracking search over the free facts: most constrained first, three-valued pruning,
conflict-directed backjumping; constraints that share no free fact are split apart."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from typing import Any

from .evaluation import SearchContext
from .results import Deadline
from .selection import Entry
from .unionfind import UnionFind
from .values import same_value


class Constraint:
    """One entry that must reach ``goal`` or, with ``any_``, entries of which one must."""

    __slots__ = ("any", "entries", "goal", "vars")

    def __init__(self, entries: Sequence[Entry], goal: int, any_: bool = False) -> None:
        self.entries = tuple(entries)
        self.goal = goal
        self.any = any_
        self.vars: tuple[str, ...] = ()


# What ``constraint_status`` says of a constraint under the assignment so far.
DEAD, DONE, OPEN = 0, 1, 2


def constraint_status(c: Constraint, ctx: SearchContext) -> int:
    """Whether ``c`` is dead (cannot reach its goal), done (reaches it whatever the
    unassigned facts) or still open under ``ctx``."""
    if not c.any:
        s = c.entries[0].state(ctx)
        if not s & c.goal:
            return DEAD
        return DONE if not s & ~c.goal else OPEN
    result = DEAD
    for e in c.entries:
        s = e.state(ctx)
        if s & c.goal:
            if not s & ~c.goal:
                return DONE
            result = OPEN
    return result


def prepare(constraints: Sequence[Constraint], fixed: Mapping[str, Any]) -> None:
    """Give each constraint its free facts: those its entries read that are not fixed."""
    for c in constraints:
        c.vars = tuple(dict.fromkeys(f for e in c.entries for f in e.facts if f not in fixed))


def independent_groups(constraints: Sequence[Constraint]) -> list[list[Constraint]]:
    """Constraints that share no free fact, apart: each group is decided on its own."""
    union: UnionFind[tuple[str, Any]] = UnionFind()
    for i, c in enumerate(constraints):
        union.find(("c", i))
        for v in c.vars:
            union.union(("c", i), ("v", v))
    groups: dict[tuple, list[Constraint]] = {}
    for i, c in enumerate(constraints):
        groups.setdefault(union.find(("c", i)), []).append(c)
    return list(groups.values())


def backtrack(
    constraints: Sequence[Constraint],
    fixed: Mapping[str, Any],
    domains: Mapping[str, tuple],
    current: Mapping[str, Any] | None = None,
    budget: int | None = None,
    violated: Sequence[tuple[str, ...]] = (),
    deadline: Deadline | None = None,
) -> dict[str, Any] | None:
    """Backtracking over the free facts; an assignment (facts read → value) or None.

    ``constraints`` must have been prepared (``prepare``) with the same ``fixed``. With
    ``current`` and ``budget``: only assignments that change at most ``budget`` facts away
    from ``current`` (unassigned facts keep their current value); ``violated`` lists the
    free facts of constraints that fail under ``current``: each such constraint whose facts
    are all still unassigned needs a change of its own, a lower bound that prunes. Past
    ``deadline`` it raises ``Undecided``.
    """
    search = _Backtracking(constraints, fixed, domains, current, budget, violated)
    if deadline is not None:
        search.deadline = deadline
    return search.run()


def changes_needed(violated: Sequence[tuple[str, ...]], assigned: Container[str] = ()) -> int:
    """A lower bound on the changes still to make: violated constraints that share no fact
    with each other and have no fact assigned yet each need a change of their own."""
    used: set[str] = set()
    count = 0
    for facts in violated:
        if not used.intersection(facts) and not any(f in assigned for f in facts):
            used.update(facts)
            count += 1
    return count


def _readers(constraints: Sequence[Constraint]) -> dict[str, list[int]]:
    """Each free fact → the indices of the constraints that read it."""
    readers: dict[str, list[int]] = {}
    for i, c in enumerate(constraints):
        for v in c.vars:
            readers.setdefault(v, []).append(i)
    return readers


class _Backtracking:
    """The state of one ``backtrack``: the partial assignment, the constraints still undecided,
    and per constraint how many of its facts are unassigned (to pick the most constrained)."""

    __slots__ = (
        "all_facts",
        "assigned",
        "backjump",
        "budget",
        "constraints",
        "ctx",
        "current",
        "deadline",
        "domains",
        "fixed",
        "readers",
        "unassigned",
        "undecided",
        "violated",
    )

    def __init__(
        self,
        constraints: Sequence[Constraint],
        fixed: Mapping[str, Any],
        domains: Mapping[str, tuple],
        current: Mapping[str, Any] | None,
        budget: int | None,
        violated: Sequence[tuple[str, ...]],
    ) -> None:
        self.constraints = constraints
        self.fixed = fixed
        self.domains = domains
        self.current = current
        self.budget = budget
        self.violated = violated
        self.assigned = dict(fixed)
        self.ctx = SearchContext(self.assigned, domains)  # sees every later assignment
        self.readers = _readers(constraints)
        self.unassigned = [len(c.vars) for c in constraints]
        self.undecided: set[int] = set()
        # Under a budget a failure also depends on what earlier choices spent, so it is
        # blamed on every fact: no backjumping.
        self.backjump = budget is None
        self.all_facts = frozenset(self.readers)
        self.deadline = Deadline()

    def run(self) -> dict[str, Any] | None:
        """The assignment found (facts read → value), or None."""
        if not self._open_undecided() or self._dfs(0) is not None:
            return None
        return self._result()

    def _dfs(self, cost: int) -> frozenset | None:
        """None on success; otherwise the assigned facts the failure depends on
        (conflict-directed backjumping: a fact outside it need not try other values)."""
        if not self.undecided:
            return None
        self.deadline.check()
        # violated is given only with a budget (as repairs search): the check says so to mypy
        if (
            self.violated
            and self.budget is not None
            and cost + changes_needed(self.violated, self.assigned) > self.budget
        ):
            return self.all_facts
        var = self._choose()
        touched = self.readers[var]
        self._count_unassigned(touched, -1)
        conflict: set[str] = set()
        for value in self.domains[var]:
            spent = self._spent(cost, var, value)
            if self.budget is not None and spent > self.budget:
                continue
            self.assigned[var] = value
            closed, dead = self._settle(touched)
            why = self._blame(dead) if dead is not None else self._dfs(spent)
            if why is None:
                return None
            self.undecided.update(closed)
            del self.assigned[var]
            if self.backjump and var not in why:
                self._count_unassigned(touched, 1)
                return why
            conflict |= why
        self._count_unassigned(touched, 1)
        conflict.discard(var)
        return frozenset(conflict) if self.backjump else self.all_facts

    def _open_undecided(self) -> bool:
        """Mark the constraints the fixed facts leave undecided; False when one is already dead."""
        for i, c in enumerate(self.constraints):
            state = constraint_status(c, self.ctx)
            if state == DEAD:
                return False
            if state == OPEN:
                self.undecided.add(i)
        return True

    def _choose(self) -> str:
        """The next fact: of the undecided constraint with the fewest unassigned facts, the
        fact with the smallest value set, then the one the most constraints read."""
        i = min(self.undecided, key=self.unassigned.__getitem__)
        candidates = [v for v in self.constraints[i].vars if v not in self.assigned]
        assert candidates, "an open constraint with every fact assigned"
        return min(candidates, key=lambda v: (len(self.domains[v]), -len(self.readers[v])))

    def _count_unassigned(self, touched: list[int], step: int) -> None:
        """Add ``step`` to the unassigned counts of the constraints that read the fact just
        assigned (-1) or unassigned (+1)."""
        for i in touched:
            self.unassigned[i] += step

    def _spent(self, cost: int, var: str, value: Any) -> int:
        """The changes made once ``var`` takes ``value`` (counted only under a budget)."""
        if self.budget is None or self.current is None or same_value(value, self.current.get(var)):
            return cost
        return cost + 1

    def _settle(self, touched: list[int]) -> tuple[list[int], int | None]:
        """Close the touched constraints the new value decides, up to the first it kills:
        (the closed ones, to reopen on the way back; the dead one or None)."""
        closed: list[int] = []
        for i in touched:
            if i in self.undecided:
                state = constraint_status(self.constraints[i], self.ctx)
                if state == DEAD:
                    return closed, i
                if state == DONE:
                    self.undecided.discard(i)
                    closed.append(i)
        return closed, None

    def _blame(self, dead: int) -> frozenset:
        """The free facts assigned so far that a dead constraint reads: its failure's cause."""
        return frozenset(v for v in self.constraints[dead].vars if v in self.assigned and v not in self.fixed)

    def _result(self) -> dict[str, Any]:
        """The assignment, with every fact left unassigned at its current value (if any)."""
        result = dict(self.assigned)
        if self.current is not None:
            for v in self.readers:
                if v not in result:
                    result[v] = self.current.get(v)
        return result
