"""Compiled partial evaluation: checked expressions become closures that return the mask of
truth values a node may still take while some facts are undetermined."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from .. import nodes as n
from .logic import ALL, AND, NOT, OR, TRUTH_BIT, F, N, T


class _Unassigned:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<undetermined>"


_UN: Any = _Unassigned()


class SearchContext:
    """One search: the assignment (fact → value, None = missing; absent = undetermined).

    ``memo`` holds the masks of definitions under the assignment as it is now; whoever
    changes the assignment clears it (``Entry.state`` does, before each evaluation).
    """

    __slots__ = ("asg", "cache", "domains", "memo")

    def __init__(self, asg: dict[str, Any], domains: Mapping[str, tuple]) -> None:
        self.asg = asg
        self.domains = domains
        self.cache: dict[int, int] = {}
        self.memo: dict[int, int] = {}


# The quantifier bindings at the top of a condition: none.
NO_BINDINGS: Mapping[str, Any] = MappingProxyType({})


def with_missing(sample: Mapping[str, Any], facts: Iterable[str]) -> dict[str, Any]:
    """``sample`` with every fact of ``facts`` it does not give set to missing (None)."""
    asg = dict(sample)
    for f in facts:
        asg.setdefault(f, None)
    return asg


Eval = Callable[[SearchContext, Mapping[str, Any]], int]
Get = Callable[[SearchContext, Mapping[str, Any]], Any]


class MaskCompiler(n.Visitor[Eval]):
    """Checked expressions → closures that return the mask of still-possible truth values.

    As a visitor it compiles a condition: ``visit(e)`` is ``condition(e)``.
    """

    cannot_meet = (*n.PARSED_LEAVES, n.FactRef, n.FieldRef, n.Count)

    # Atom keys index the per-search mask cache, shared by every rule: unique per process.
    keys = itertools.count()

    def __init__(self) -> None:
        self.definitions: dict[int, Eval] = {}  # id of a definition's body → its closure

    def condition(self, e: n.CheckedExpr) -> Eval:
        """The closure of a condition."""
        return self.visit(e)

    def visit_And(self, e: n.And) -> Eval:
        return self.junction([self.condition(o) for o in e.operands], conjunction=True)

    def visit_Or(self, e: n.Or) -> Eval:
        return self.junction([self.condition(o) for o in e.operands], conjunction=False)

    def visit_Not(self, e: n.Not) -> Eval:
        inner = self.condition(e.operand)
        return lambda ctx, env: NOT[inner(ctx, env)]

    def visit_Implies(self, e: n.Implies) -> Eval:
        return self.implies(self.condition(e.antecedent), self.condition(e.consequent))

    def visit_Conditional(self, e: n.Conditional) -> Eval:
        c, a, b = (self.condition(p) for p in (e.condition, e.then, e.otherwise))

        def conditional(ctx, env):
            m = c(ctx, env)
            return AND[OR[NOT[m]][a(ctx, env)]][OR[m][b(ctx, env)]]

        return conditional

    def visit_DefinitionRef(self, e: n.DefinitionRef) -> Eval:
        found = self.definitions.get(id(e.body))
        if found is None:
            found = self.definitions[id(e.body)] = self.definition(self.condition(e.body))
        return found

    def visit_Const(self, e: n.Const) -> Eval:
        bit = TRUTH_BIT.get(e.value, N)
        return lambda ctx, env: bit

    def definition(self, body: Eval) -> Eval:
        """A definition's closure: evaluated once per assignment (definitions are closed, so
        its mask does not depend on quantifier variables), however often it is used."""
        key = next(self.keys)

        def definition(ctx, env):
            found = ctx.memo.get(key)
            if found is None:
                found = ctx.memo[key] = body(ctx, env)
            return found

        return definition

    @staticmethod
    def junction(parts: list[Eval], conjunction: bool) -> Eval:
        stop, start, table = (F, T, AND) if conjunction else (T, F, OR)

        def junction(ctx, env):
            acc = start
            for g in parts:
                m = g(ctx, env)
                if m == stop:
                    return stop
                acc = table[acc][m]
            return acc

        return junction

    @staticmethod
    def implies(a: Eval, c: Eval) -> Eval:
        def implies(ctx, env):
            m = a(ctx, env)
            if m == F:
                return T
            return OR[NOT[m]][c(ctx, env)]

        return implies

    def visit_Quantified(self, e: n.Quantified) -> Eval:
        name, var, body = e.collection.fact, e.var, self.condition(e.body)
        every = e.quantifier == "all"

        def quantified(ctx, env):
            items = ctx.asg.get(name, _UN)
            if items is _UN:
                return ALL
            if items is None:
                return N
            acc = T if every else F
            for record in items:
                m = body(ctx, {**env, var: record})
                if every:
                    if m == F:
                        return F
                    acc = AND[acc][m]
                else:
                    if m == T:
                        return T
                    acc = OR[acc][m]
            return acc

        return quantified

    def getter(self, e: n.CheckedExpr) -> Get:
        """The closure that reads an operand's value (``_UN`` while its fact is undetermined)."""
        return _GETTER.visit(e, self)

    def count(self, e: n.Count) -> Get:
        name = e.collection.fact
        body = None if e.body is None else self.condition(e.body)
        var = e.var if e.var is not None else ""  # read only with a body: a count has both or neither

        def count(ctx, env):
            items = ctx.asg.get(name, _UN)
            if items is _UN or items is None:
                return items
            mult = getattr(items, "mult", None)
            if body is None:
                return len(items) if mult is None else sum(mult)
            total, unknown, open_ = 0, False, False
            for i, record in enumerate(items):
                m = body(ctx, {**env, var: record})
                if m == T:
                    total += 1 if mult is None else mult[i]
                elif m == N:
                    unknown = True
                elif m != F:
                    open_ = True
            return None if unknown else _UN if open_ else total

        return count

    def atom(self, truth: Callable[[Any, Any], int], left: n.CheckedExpr, right: n.CheckedExpr | None) -> Eval:
        """An atom over one or two operands; ``truth(a, b)`` on determined values."""
        gl = self.getter(left)
        gr = self.getter(right) if right is not None else (lambda ctx, env: None)
        lfact = left.fact if isinstance(left, n.FactRef) else None
        rfact = right.fact if isinstance(right, n.FactRef) else None
        lstatic = right is None or isinstance(right, n.Const)
        rstatic = isinstance(left, n.Const)
        key = next(self.keys)

        def atom(ctx, env):
            a = gl(ctx, env)
            b = gr(ctx, env)
            if a is not _UN and b is not _UN:
                return truth(a, b)
            if b is not _UN and lfact is not None:
                return _over(ctx, lfact, key if lstatic else None, lambda v: truth(v, b))
            if a is not _UN and rfact is not None:
                return _over(ctx, rfact, key if rstatic else None, lambda v: truth(a, v))
            return ALL

        return atom

    def visit_Compare(self, e: n.Compare) -> Eval:
        op = e.op.function

        def truth(a, b):
            if a is None or b is None:
                return N
            return T if op(a, b) else F

        return self.atom(truth, e.left, e.right)

    def visit_Member(self, e: n.Member) -> Eval:
        items = tuple(i.value for i in e.items)
        negated = e.negated

        def truth(a, _):
            if a is None:
                return N
            inside = any(a == item for item in items)
            return F if inside == negated else T

        return self.atom(truth, e.operand, None)

    def visit_Presence(self, e: n.Presence) -> Eval:
        present = e.present

        def truth(a, _):
            return T if (a is not None) == present else F

        return self.atom(truth, e.operand, None)


class _Getter(n.Visitor[Get]):
    """An operand's reading closure: ``visit(e, compiler)``."""

    cannot_meet = (*n.PARSED_LEAVES, *n.CONDITIONS)

    def visit_FactRef(self, e: n.FactRef, compiler: MaskCompiler) -> Get:
        name = e.fact
        return lambda ctx, env: ctx.asg.get(name, _UN)

    def visit_FieldRef(self, e: n.FieldRef, compiler: MaskCompiler) -> Get:
        var, fld = e.var, e.field
        return lambda ctx, env: env[var].get(fld)

    def visit_Const(self, e: n.Const, compiler: MaskCompiler) -> Get:
        value = e.value
        return lambda ctx, env: value

    def visit_Count(self, e: n.Count, compiler: MaskCompiler) -> Get:
        return compiler.count(e)


_GETTER = _Getter()


def _over(ctx: SearchContext, fact: str, key: int | None, truth: Callable[[Any], int]) -> int:
    """The mask of an atom over every value an undetermined fact may still take."""
    if key is not None:
        cached = ctx.cache.get(key)
        if cached is not None:
            return cached
    domain = ctx.domains.get(fact)
    if domain is None:
        return ALL
    mask = 0
    # Missing (last in every value set) first: with it, most atoms reach every truth value
    # within a few values, and the loop stops there rather than running through thousands.
    for value in reversed(domain):
        mask |= truth(value)
        if mask == ALL:
            break
    if key is not None:
        ctx.cache[key] = mask
    return mask
