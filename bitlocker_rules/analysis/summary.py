"""What the rules ask of their facts: terms, constants, comparisons between terms and, per
collection, the fields, quantifiers and counts; constructs outside the fragment as problems."""

from __future__ import annotations

import math
from typing import Any, TypeGuard

from .. import nodes as n
from ..errors import Diagnostic
from ..source import SourceText
from ..vocabulary import Vocabulary


class CollectionUse:
    """What the selected rules ask of one collection: fields read, quantifiers, counts."""

    __slots__ = ("counts", "fields", "quants")

    def __init__(self) -> None:
        self.fields: set[str] = set()
        self.quants: list[n.Quantified] = []
        self.counts: list[tuple[n.Count, list]] = []  # distinct count expressions, constants

    def merge(self, other: CollectionUse) -> None:
        self.fields |= other.fields
        for q in other.quants:
            if q not in self.quants:
                self.quants.append(q)
        for c, consts in other.counts:
            self.add_count(c, consts)

    def add_count(self, count: n.Count, consts: list) -> None:
        for known, values in self.counts:
            if known == count:
                values.extend(consts)
                return
        self.counts.append((count, list(consts)))

    def bound(self) -> int:
        """Records enough for any combination of quantifier and count values (explicit multisets)."""
        witnesses, plain = len(self.quants), 0
        for count, consts in self.counts:
            top = _top(consts)
            if count.body is None:
                plain = top + 1
            else:
                witnesses += top + 2
        return max(witnesses, plain)


def _top(consts: list) -> int:
    return max([math.floor(c) for c in consts if _number(c)] + [0])


def _item_values(e: n.Member[n.CheckedExpr]) -> list[Any]:
    """The values of ``e``'s items: constants all, in a checked tree (the checker's E405)."""
    return [i.value for i in e.items if isinstance(i, n.Const)]


def _number(c: Any) -> bool:
    return isinstance(c, (int, float)) and not isinstance(c, bool)


class RuleInfo:
    """What domain construction needs from a rule: terms, constants, comparisons, collections."""

    def __init__(self, vocabulary: Vocabulary, source: SourceText | None) -> None:
        self.vocabulary = vocabulary
        self.source = source
        self.consts: list[tuple[tuple, Any]] = []
        self.edges: list[tuple[tuple, tuple]] = []
        self.terms: set[tuple] = set()
        self.colls: dict[str, CollectionUse] = {}
        self.problems: list[Diagnostic] = []
        self.walked: set[int] = set()  # definition bodies already walked (by identity)

    def coll(self, name: str) -> CollectionUse:
        return self.colls.setdefault(name, CollectionUse())

    def problem(self, code: str, message: str, node: n.Expr, help: str) -> None:
        self.problems.append(
            Diagnostic(
                code, message, severity="warning", source=self.source, span=getattr(node, "span", None), help=help
            )
        )

    def walk(self, e: n.CheckedExpr, scope: tuple[str, ...]) -> None:
        """Record what condition ``e`` asks of its facts; ``scope``: the quantifier variables
        bound around it, innermost last."""
        _WALK.visit(e, self, scope)

    def collection(self, e: n.CheckedExpr, node: n.CheckedExpr) -> TypeGuard[n.FactRef]:
        if isinstance(e, n.FactRef):
            return True
        self.problem("A104", "the analyser needs a collection fact here", node, "quantify over a collection fact")
        return False

    def compare(self, e: n.Compare, scope: tuple[str, ...]) -> None:
        left, right = e.left, e.right
        for count, other in ((left, right), (right, left)):
            if isinstance(count, n.Count):
                if not isinstance(other, n.Const):
                    self.problem(
                        "A102",
                        "a count compared with something other than a constant is outside what the analyser decides",
                        e,
                        "compare count(…) with a number",
                    )
                    self.count(count, [], scope)
                    if isinstance(other, n.Count):
                        self.count(other, [], scope)
                    return
                self.count(count, [other.value], scope)
                return
        lt, rt = self.term(left, scope), self.term(right, scope)
        if lt is not None and rt is not None:
            self.edges.append((lt, rt))
        elif lt is not None and isinstance(right, n.Const):
            self.consts.append((lt, right.value))
        elif rt is not None and isinstance(left, n.Const):
            self.consts.append((rt, left.value))

    def count(self, e: n.Count, constants: list, scope: tuple[str, ...]) -> None:
        if not self.collection(e.collection, e):
            return
        self.coll(e.collection.fact).add_count(e, [c for c in constants if _number(c)])
        if e.var is not None and e.body is not None:  # the grammar gives a count both or neither
            self.walk(e.body, scope + (e.var,))

    def term(self, e: n.CheckedExpr, scope: tuple[str, ...]) -> tuple | None:
        if isinstance(e, n.FactRef):
            fact = self.vocabulary.fact(e.fact)
            if fact is not None and fact.type.kind == "collection":
                self.coll(e.fact)
                return None
            term: tuple[str, ...] = ("f", e.fact)
            self.terms.add(term)
            return term
        if isinstance(e, n.FieldRef):
            if not scope or e.var != scope[-1]:
                self.problem(
                    "A101",
                    f"`{e.var}.{e.field}` reads the record of an outer quantifier; the analyser "
                    "decides quantifiers whose bodies read only their own variable",
                    e,
                    "split the rule, or compare each record with facts and constants",
                )
                return None
            self.coll(e.collection).fields.add(e.field)
            term = ("c", e.collection, e.field)
            self.terms.add(term)
            return term
        return None


class _Walk(n.Visitor[None]):
    """``RuleInfo.walk`` node by node: ``visit(e, info, scope)`` records into ``info``."""

    def visit_junction(self, e: n.And | n.Or, info: RuleInfo, scope: tuple[str, ...]) -> None:
        """``and``, ``or``: each operand."""
        for o in e.operands:
            self.visit(o, info, scope)

    visit_And = visit_Or = visit_junction

    def visit_Not(self, e: n.Not, info: RuleInfo, scope: tuple[str, ...]) -> None:
        self.visit(e.operand, info, scope)

    def visit_Implies(self, e: n.Implies, info: RuleInfo, scope: tuple[str, ...]) -> None:
        self.visit(e.antecedent, info, scope)
        self.visit(e.consequent, info, scope)

    def visit_Conditional(self, e: n.Conditional, info: RuleInfo, scope: tuple[str, ...]) -> None:
        for part in (e.condition, e.then, e.otherwise):
            self.visit(part, info, scope)

    def visit_DefinitionRef(self, e: n.DefinitionRef, info: RuleInfo, scope: tuple[str, ...]) -> None:
        # A definition is closed and reads the same wherever it is used: once is enough
        # (a chain of definitions that each use the one before twice stays linear).
        if id(e.body) not in info.walked:
            info.walked.add(id(e.body))
            self.visit(e.body, info, scope)

    def visit_Quantified(self, e: n.Quantified, info: RuleInfo, scope: tuple[str, ...]) -> None:
        if info.collection(e.collection, e):
            info.coll(e.collection.fact).quants.append(e)
        self.visit(e.body, info, scope + (e.var,))

    def visit_Compare(self, e: n.Compare, info: RuleInfo, scope: tuple[str, ...]) -> None:
        info.compare(e, scope)

    def visit_Member(self, e: n.Member, info: RuleInfo, scope: tuple[str, ...]) -> None:
        if isinstance(e.operand, n.Count):
            info.count(e.operand, _item_values(e), scope)
        else:
            term = info.term(e.operand, scope)
            if term is not None:
                info.consts += [(term, value) for value in _item_values(e)]

    def visit_Presence(self, e: n.Presence, info: RuleInfo, scope: tuple[str, ...]) -> None:
        info.term(e.operand, scope)

    def visit_Const(self, e: n.Const, info: RuleInfo, scope: tuple[str, ...]) -> None:
        pass  # `true` and `false` ask nothing of the facts

    def visit_unreadable(self, e: n.Expr, info: RuleInfo, scope: tuple[str, ...]) -> None:
        """A value where a condition belongs, or a parsed leaf: the analyser says it cannot read it."""
        info.problem(
            "A104",
            f"the analyser cannot read a {type(e).__name__} here",
            e,
            "check the rule with the checker first",
        )

    visit_FactRef = visit_FieldRef = visit_Count = visit_Name = visit_Literal = visit_unreadable


_WALK = _Walk()
