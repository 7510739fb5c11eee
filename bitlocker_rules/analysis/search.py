"""Backtracking search over the free facts: most constrained first, three-valued pruning,
conflict-directed backjumping; constraints that share no free fact are split apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .evaluation import _Ctx
from .selection import _Entry
from .unionfind import _Union
from .values import _same


class _Constraint:
    __slots__ = ("entries", "goal", "any", "vars")

    def __init__(self, entries: Sequence[_Entry], goal: int, any_: bool = False) -> None:
        self.entries = tuple(entries)
        self.goal = goal
        self.any = any_
        self.vars: tuple[str, ...] = ()


_DEAD, _DONE, _OPEN = 0, 1, 2


def _status(c: _Constraint, ctx: _Ctx) -> int:
    if not c.any:
        s = c.entries[0].state(ctx)
        if not s & c.goal:
            return _DEAD
        return _DONE if not s & ~c.goal else _OPEN
    result = _DEAD
    for e in c.entries:
        s = e.state(ctx)
        if s & c.goal:
            if not s & ~c.goal:
                return _DONE
            result = _OPEN
    return result


def _prepare(constraints: Sequence[_Constraint], fixed: Mapping[str, Any]) -> None:
    for c in constraints:
        c.vars = tuple(dict.fromkeys(f for e in c.entries for f in e.facts if f not in fixed))


def _groups(constraints: Sequence[_Constraint]) -> list[list[_Constraint]]:
    """Constraints that share no free fact, apart: each group is decided on its own."""
    union = _Union()
    for i, c in enumerate(constraints):
        union.find(("c", i))
        for v in c.vars:
            union.union(("c", i), ("v", v))
    groups: dict[tuple, list[_Constraint]] = {}
    for i, c in enumerate(constraints):
        groups.setdefault(union.find(("c", i)), []).append(c)
    return list(groups.values())


def _search(constraints: Sequence[_Constraint], fixed: Mapping[str, Any], domains: Mapping[str, tuple],
            current: Mapping[str, Any] | None = None, budget: int | None = None,
            violated: Sequence[tuple[str, ...]] = ()) -> dict[str, Any] | None:
    """Backtracking over the free facts; an assignment (facts read → value) or None.

    ``constraints`` must have been prepared (``_prepare``) with the same ``fixed``. With
    ``current`` and ``budget``: only assignments that change at most ``budget`` facts away
    from ``current`` (unassigned facts keep their current value); ``violated`` lists the
    free facts of constraints that fail under ``current``: each such constraint whose facts
    are all still unassigned needs a change of its own, a lower bound that prunes.
    """
    asg = dict(fixed)
    ctx = _Ctx(asg, domains)
    by_var: dict[str, list[int]] = {}
    for i, c in enumerate(constraints):
        for v in c.vars:
            by_var.setdefault(v, []).append(i)
    left = [len(c.vars) for c in constraints]
    open_set = set()
    for i, c in enumerate(constraints):
        st = _status(c, ctx)
        if st == _DEAD:
            return None
        if st == _OPEN:
            open_set.add(i)

    def choose() -> str:
        i = min(open_set, key=left.__getitem__)
        unassigned = [v for v in constraints[i].vars if v not in asg]
        assert unassigned, "an open constraint with every fact assigned"
        return min(unassigned, key=lambda v: (len(domains[v]), -len(by_var[v])))

    def bound() -> int:
        used: set[str] = set()
        count = 0
        for facts in violated:
            if not used.intersection(facts) and not any(f in asg for f in facts):
                used.update(facts)
                count += 1
        return count

    jump = budget is None
    everything = frozenset(by_var)

    def dfs(cost: int) -> frozenset | None:
        """None on success; otherwise the assigned facts the failure depends on
        (conflict-directed backjumping: a fact outside it need not try other values)."""
        if not open_set:
            return None
        if violated and cost + bound() > budget:
            return everything
        var = choose()
        touched = by_var[var]
        for i in touched:
            left[i] -= 1
        conflict: set[str] = set()
        for value in domains[var]:
            spent = cost
            if budget is not None:
                spent += 0 if _same(value, current.get(var)) else 1
                if spent > budget:
                    continue
            asg[var] = value
            closed, dead = [], None
            for i in touched:
                if i in open_set:
                    st = _status(constraints[i], ctx)
                    if st == _DEAD:
                        dead = i
                        break
                    if st == _DONE:
                        open_set.discard(i)
                        closed.append(i)
            if dead is not None:
                why = frozenset(v for v in constraints[dead].vars if v in asg and v not in fixed)
            else:
                why = dfs(spent)
                if why is None:
                    return None
            open_set.update(closed)
            del asg[var]
            if jump and var not in why:
                for i in touched:
                    left[i] += 1
                return why
            conflict |= why
        for i in touched:
            left[i] += 1
        conflict.discard(var)
        return frozenset(conflict) if jump else everything

    if dfs(0) is not None:
        return None
    result = dict(asg)
    if current is not None:
        for v in by_var:
            if v not in result:
                result[v] = current.get(v)
    return result
