"""Checked rules → one fast verdict function per ruleset, and one decision function per engine.

The generated Python is built only from templates and names this module mints
(``_v3``, ``_t7``, ``_c2``); every value taken from a rule file (fact names, enum members,
strings, versions) reaches the function as a default argument object, never as source
text. The module code is compiled and the function object is taken from it directly, so
neither ``exec`` nor ``eval`` is used. Codes: 0 pass, 1 fail, 2 unknown, 3 not applicable.

A decision function (``compile_decision``) runs the rules of several rulesets one after the
other and returns at the first that fails; it resolves the scenario facts the rules read
itself, lazily, so a device that fails early pays for little.
"""

from __future__ import annotations

import linecache
import marshal
import pickle
import re
import types
from collections.abc import Callable, Mapping, Sequence
from itertools import count
from typing import Any, cast

from attrs import frozen

from . import nodes as n
from .errors import Diagnostic, RulesError
from .operators import Op

Verdicts = Callable[[Mapping[str, Any]], tuple[int, ...]]
Decide = Callable[[Mapping[str, Any]], int]  # an index into the engine's decisions (strict: a bool)


_FALSE = n.Const(False)  # a step's conditions when it has none (nodes are frozen: one may be shared)


@frozen
class ScenarioStep:
    """How a decision function gives a scenario fact its value, as ``Engine.resolved`` does.

    ``fixed`` is the value of a declared (True) or excluded (False) scenario, whatever the
    input says. Otherwise the input's own value stands; without one, ``on`` true puts the
    scenario in scope, and ``off`` true, or an excluding scenario's ``on`` condition true or
    its fact given true (``excluders``: (fact, on) pairs), puts it out of scope; else it stays
    missing. ``infer`` False: the input's value only (a scenario the engine does not infer).
    """

    fact: str
    fixed: bool | None = None
    infer: bool = True
    on: n.CheckedExpr = _FALSE
    off: n.CheckedExpr = _FALSE
    excluders: tuple[tuple[str, n.CheckedExpr], ...] = ()


class _Emitter(n.Visitor[str]):
    """Writes the generated function's lines. As a visitor it computes a condition
    three-valued: ``visit(e, d)`` (``cond``) emits its code at depth ``d`` and returns the
    name of the local that holds True, False or None."""

    cannot_meet = (*n.PARSED_LEAVES, n.FactRef, n.FieldRef, n.Count)

    def __init__(self, scenarios: Mapping[str, ScenarioStep] | None = None) -> None:
        self.scenarios = scenarios or {}
        self.getter = "_f.get"  # how a fact is read from the values
        self.top = 1  # the depth facts are read and definitions computed at
        self.strict = False  # a decision function that stops at the first rule that does not pass
        self.not_false: n.CheckedExpr | None = None  # the condition known not false where a group's rules run
        self.computed: dict[int, str] = {}  # a rule's conditions computed three-valued, by node identity
        self.truths: dict[tuple[int, bool, int], str] = {}  # a definition's two-valued test (see ``truth``)
        self.loads: list[str] = []  # each fact read once, into its local, at the function's top level
        self.lines: list[str] = []
        self.consts: list[Any] = []
        self.const_names: dict[tuple[type, Any], str] = {}
        self.fact_vars: dict[str, str] = {}
        self.items: dict[str, str] = {}
        self.prelude: list[str] = []
        self.definitions: dict[str, str] = {}
        self.ids = count()
        # _simple_atoms per node, for this ruleset only: nodes are compared without their
        # constants' types (1 == True), which only one vocabulary's rules keep apart.
        self.atoms: dict[n.CheckedExpr, tuple[n.Test, ...] | None] = {}

    def temp(self, prefix: str = "_t") -> str:
        return f"{prefix}{next(self.ids)}"

    def const(self, value: Any) -> str:
        key = (type(value), value)
        if key not in self.const_names:
            self.const_names[key] = f"_c{len(self.consts)}"
            self.consts.append(value)
        return self.const_names[key]

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    # --- values: return the name of a local holding the value (None = missing)
    def value(self, e: n.CheckedExpr, d: int) -> str:
        """The local holding an operand's value, its code emitted at depth ``d`` if it needs any."""
        return _VALUE.visit(e, self, d)

    def fact(self, e: n.FactRef) -> str:
        """The local a fact is read into (once, at the function's top level)."""
        if e.fact not in self.fact_vars:
            self.load(e.fact)
        return self.fact_vars[e.fact]

    def field(self, e: n.FieldRef, d: int) -> str:
        """A new local holding a field of a quantifier variable's record."""
        name = self.temp()
        self.emit(d, f"{name} = {self.items[e.var]}.get({self.const(e.field)})")
        return name

    def count(self, e: n.Count, d: int) -> str:
        coll, out = self.value(e.collection, d), self.temp()
        if e.var is None or e.body is None:
            self.emit(d, f"{out} = None if {coll} is None else len({coll})")
            return out
        self.emit(d, f"if {coll} is None: {out} = None")
        self.emit(d, "else:")
        self.emit(d + 1, f"{out} = 0")
        body = self.loop(e.var, coll, e.body, d + 1)
        self.emit(d + 2, f"if {body} is None:")
        self.emit(d + 3, f"{out} = None")
        self.emit(d + 3, "break")
        self.emit(d + 2, f"if {body}: {out} += 1")
        return out

    def load(self, fact: str) -> None:
        """Read ``fact`` into a new local, ahead of the code that needs it (a scenario fact: resolve it there)."""
        step = self.scenarios.get(fact)
        inferred = step if step is not None and step.infer and step.fixed is None else None
        if inferred is not None:
            for read in n.facts_read(inferred.on, inferred.off, *(on for _, on in inferred.excluders)):
                if read not in self.fact_vars:  # first, so the resolution below reads locals only
                    self.load(read)
        var = self.fact_vars[fact] = self.temp("_v")
        value = (
            repr(step.fixed) if step is not None and step.fixed is not None else f"{self.getter}({self.const(fact)})"
        )
        self.loads.append("    " * self.top + f"{var} = {value}")
        if inferred is not None:
            body, self.lines = self.lines, self.loads
            self.resolve(var, inferred)
            self.lines = body

    def resolve(self, var: str, step: ScenarioStep) -> None:
        """Infer a scenario the input does not give: its own conditions first, then who excludes it."""
        d = self.top
        self.emit(d, f"if {var} is None:")
        saved, self.computed = self.computed, {}  # what is computed in this block stays in it
        on = self.truth(step.on, True, d + 1)
        tests = [] if _never(step.off) else [self.truth(step.off, True, d + 1)]
        tests += [
            f"{self.truth(excluding, True, d + 1)} or {self.getter}({self.const(fact)}) is True"
            for fact, excluding in step.excluders
        ]
        self.computed = saved
        self.emit(d + 1, f"if {on}: {var} = True")
        if tests:
            self.emit(d + 1, f"elif {' or '.join(tests)}: {var} = False")

    # --- two-valued tests of a three-valued condition, for the decision function
    def truth(self, e: n.CheckedExpr, want: bool, d: int) -> str:
        """An expression that is True exactly when ``e`` is ``want`` in Kleene logic, else False.

        And, or, not and one-fact tests become plain Python expressions (evaluated lazily, left
        to right); anything else is computed three-valued by ``cond`` at depth ``d`` first.
        """
        if (
            want is False
            and self.not_false is not None
            and not _is_truth_value(e)  # a constant is tested as itself, even where it is the lead
            and e == self.not_false
        ):
            return "False"  # inside the block of rules that runs only when it is not false
        return _TRUTH.visit(e, self, want, d)

    def computed_truth(self, e: n.CheckedExpr, want: bool, d: int) -> str:
        """``truth`` of a condition with no two-valued form: its three-valued local, computed
        once per rule (``cond`` at depth ``d``), compared with ``want``."""
        if id(e) not in self.computed:
            self.computed[id(e)] = self.cond(e, d)
        return f"({self.computed[id(e)]} is {want})"

    def definition_truth(self, e: n.DefinitionRef, want: bool, d: int) -> str:
        """``truth`` of a definition: written out where it stays small, else its local tested."""
        # Once per definition, condition sought and block: a chain of definitions that each
        # use the one before twice is a tree of exponential size (``define d2 = d1 and d1``).
        key = (id(e.body), want, id(self.not_false))
        if key not in self.truths:
            inlined = self.truth(e.body, want, d) if len(n.facts_read(e.body)) <= _INLINE_FACTS else ""
            self.truths[key] = (
                inlined if inlined and len(inlined) <= _INLINE_CHARS else f"({self.definition(e)} is {want})"
            )
        return self.truths[key]

    def decision_rule(self, rule: n.CheckedRule, fails: int, unknown: int) -> list[str]:
        """A rule of the decision function: return ``fails`` if it fails, note ``unknown`` once
        (or, ``strict``, return False if it does either: a yes-or-no decision stops there).

        Passing or not applying is the common case, so it is tested first: the requirements
        known true (unless no source confirms a pass suffices), or the applicability known false.
        """
        d = self.top
        require = rule.requires[0] if len(rule.requires) == 1 else n.And(rule.requires)
        when = rule.applicability
        self.lines, self.computed = [], {}
        fine = _joined(
            " or ",
            ([] if rule.unconfirmed else [self.truth(require, True, d)])
            + ([] if when is None else [self.truth(when, False, d)]),
        )
        if fine == "True":  # it cannot fail nor be unknown here
            return self.flush()
        if self.strict:
            self.emit(d, f"if not {fine}: return False" if fine != "False" else "return False")
            return self.flush()
        failing = None if rule.disputed else self.truth(require, False, d)
        if failing is not None and when is not None:
            failing = _joined(" and ", [self.truth(when, True, d), failing])
        if fine != "False":
            self.emit(d, f"if not {fine}:")
            d += 1
        if failing is not None:
            self.emit(d, f"if {failing}: return {fails}")
        self.emit(d, f"if not _u: _u = {unknown}")
        return self.flush()

    def decision_group(self, lead: n.CheckedExpr, rules: Sequence[tuple[int, n.CheckedRule]]) -> list[str]:
        """Rules whose applicability starts with ``lead`` (their scenario), skipped together
        when it is known false. What they read inside the block is read again after it."""
        self.lines, self.computed = [], {}
        skip = self.truth(lead, False, self.top)
        lines = [*self.flush(), "    " * self.top + f"if not {skip}:"]
        known, defined = set(self.fact_vars), set(self.definitions)
        self.top += 1
        self.not_false = lead
        lines += self.decision_rules(rules)
        self.not_false = None
        self.top -= 1
        for fact in set(self.fact_vars) - known:
            del self.fact_vars[fact]
        for name in set(self.definitions) - defined:
            del self.definitions[name]
        return lines

    def decision_rules(self, rules: Sequence[tuple[int, n.CheckedRule]]) -> list[str]:
        """Rules of the decision function, in order; ``strict``, in the order of what they cost:
        any rule that does not pass answers a yes-or-no question, so those that read only facts
        already read go first (the facts a scenario was inferred from, say)."""
        lines, waiting = [], list(rules)
        while waiting:
            if self.strict:
                new = [
                    len(set(n.facts_read(rule.applicability, *rule.requires)) - set(self.fact_vars))
                    for _, rule in waiting
                ]
                position, rule = waiting.pop(new.index(min(new)))
            else:
                position, rule = waiting.pop(0)
            lines += self.decision_rule(rule, 2 * position + 1, 2 * position + 2)
        return lines

    def flush(self) -> list[str]:
        """The reads, definitions and code emitted since the last flush, in that order."""
        lines = [*self.loads, *self.prelude, *self.lines]
        self.loads.clear()
        self.prelude.clear()
        self.lines = []
        return lines

    def loop(self, var: str, coll: str, body: n.CheckedExpr, d: int) -> str:
        item = self.temp("_i")
        outer = self.items.get(var)
        self.items[var] = item
        self.emit(d, f"for {item} in {coll}:")
        result = self.cond(body, d + 1)
        if outer is None:
            del self.items[var]
        else:
            self.items[var] = outer
        return result

    # --- conditions: return the name of a local holding True / False / None
    def cond(self, e: n.CheckedExpr, d: int) -> str:
        """The local holding a condition's value (True, False or None), its code emitted at depth ``d``."""
        return self.visit(e, d)

    def visit_Const(self, e: n.Const, d: int) -> str:
        return self.const(e.value)

    def visit_Not(self, e: n.Not, d: int) -> str:
        inner, out = self.cond(e.operand, d), self.temp()
        self.emit(d, f"{out} = None if {inner} is None else not {inner}")
        return out

    def visit_DefinitionRef(self, e: n.DefinitionRef, d: int) -> str:
        return self.definition(e)

    def definition(self, e: n.DefinitionRef) -> str:
        """A definition's value, computed once at the top of the function (definitions are closed)."""
        if e.name not in self.definitions:
            # Definitions it uses come first, so every definition is computed unconditionally.
            for inner in _definitions_used(e.body):
                self.definition(inner)
            body, self.lines = self.lines, self.prelude
            self.definitions[e.name] = self.cond(e.body, self.top)
            self.lines = body
        return self.definitions[e.name]

    def junction(self, e: n.And | n.Or, d: int) -> str:
        """``and``/``or`` of the operands, three-valued."""
        # Flat short-circuit: each operand is guarded by the result so far, so nesting
        # stays shallow however many operands there are.
        decisive = "False" if isinstance(e, n.And) else "True"
        neutral = "True" if isinstance(e, n.And) else "False"
        out = self.temp()
        self.emit(d, f"{out} = {neutral}")
        for index, operand in enumerate(e.operands):
            inner_d = d
            if index:
                self.emit(d, f"if {out} is not {decisive}:")
                inner_d = d + 1
            inner = self.cond(operand, inner_d)
            self.emit(inner_d, f"if {inner} is {decisive}: {out} = {decisive}")
            self.emit(inner_d, f"elif {inner} is None: {out} = None")
        return out

    visit_And = visit_Or = junction

    def visit_Implies(self, e: n.Implies, d: int) -> str:
        a, out = self.cond(e.antecedent, d), self.temp()
        self.emit(d, f"if {a} is False: {out} = True")
        self.emit(d, "else:")
        b = self.cond(e.consequent, d + 1)
        self.emit(d + 1, f"{out} = {b} if {a} is True else (True if {b} is True else None)")
        return out

    def visit_Conditional(self, e: n.Conditional, d: int) -> str:
        # Each branch is emitted once (code size stays linear) and runs only when needed.
        c, x, y, out = self.cond(e.condition, d), self.temp(), self.temp(), self.temp()
        self.emit(d, f"{x} = {y} = None")
        self.emit(d, f"if {c} is not False:")
        self.emit(d + 1, f"{x} = {self.cond(e.then, d + 1)}")
        self.emit(d, f"if {c} is not True:")
        self.emit(d + 1, f"{y} = {self.cond(e.otherwise, d + 1)}")
        self.emit(d, f"if {c} is True: {out} = {x}")
        self.emit(d, f"elif {c} is False: {out} = {y}")
        self.emit(d, f"else: {out} = True if ({x} is True and {y} is True) else None")
        return out

    def visit_Quantified(self, e: n.Quantified, d: int) -> str:
        coll, out = self.value(e.collection, d), self.temp()
        stop, start = ("True", "False") if e.quantifier == "any" else ("False", "True")
        self.emit(d, f"if {coll} is None: {out} = None")
        self.emit(d, "else:")
        self.emit(d + 1, f"{out} = {start}")
        body = self.loop(e.var, coll, e.body, d + 1)
        self.emit(d + 2, f"if {body} is {stop}:")
        self.emit(d + 3, f"{out} = {stop}")
        self.emit(d + 3, "break")
        self.emit(d + 2, f"if {body} is None: {out} = None")
        return out

    def visit_Presence(self, e: n.Presence, d: int) -> str:
        value, out = self.value(e.operand, d), self.temp()
        self.emit(d, f"{out} = {value} is {'not ' if e.present else ''}None")
        return out

    def visit_Member(self, e: n.Member, d: int) -> str:
        value, out = self.value(e.operand, d), self.temp()
        items = self.const(frozenset(i.value for i in n.member_constants(e)))
        test = "not in" if e.negated else "in"
        self.emit(d, f"{out} = None if {value} is None else ({value} {test} {items})")
        return out

    def visit_Compare(self, e: n.Compare, d: int) -> str:
        left, right, out = self.value(e.left, d), self.value(e.right, d), self.temp()
        nullable = [v for v, node in ((left, e.left), (right, e.right)) if not isinstance(node, n.Const)]
        guard = " or ".join(f"{v} is None" for v in nullable)
        test = f"({left} {e.op.symbol} {right})"
        self.emit(d, f"{out} = None if ({guard}) else {test}" if guard else f"{out} = {test}")
        return out

    # --- rules
    def rule(self, rule: n.CheckedRule, d: int) -> str:
        out = self.verdict(rule, d)
        # Where the sources disagree a failure is unknown; where none confirms a pass, so is a pass.
        for flag, code in ((rule.disputed, 1), (rule.unconfirmed, 0)):
            if flag:
                self.emit(d, f"if {out} == {code}: {out} = 2")
        return out

    def verdict(self, rule: n.CheckedRule, d: int) -> str:
        out = self.temp("_r")
        when = _simple_atoms(rule.applicability, self.atoms) if rule.applicability is not None else ()
        require = _simple_atoms(n.And(rule.requires), self.atoms)
        if when is not None and require is not None:
            self.flat_rule(out, when, require, d)
            return out
        if rule.applicability is None:
            holds = self.cond(n.And(rule.requires), d)
            self.emit(d, f"{out} = 0 if {holds} is True else (1 if {holds} is False else 2)")
            return out
        applies = self.cond(rule.applicability, d)
        self.emit(d, f"if {applies} is False: {out} = 3")
        self.emit(d, "else:")
        holds = self.cond(n.And(rule.requires), d + 1)
        self.emit(d + 1, f"if {applies} is None and {holds} is not True: {out} = 2")
        self.emit(d + 1, f"else: {out} = 0 if {holds} is True else (1 if {holds} is False else 2)")
        return out

    def flat_rule(self, out: str, when: Sequence[n.Test], require: Sequence[n.Test], d: int) -> None:
        """A rule whose ``when`` and ``require`` are conjunctions of tests of one fact each.

        Kleene's answer then needs no three-valued locals: not applicable when a ``when`` test
        is known false; failing (unknown if a ``when`` fact is missing) when a ``require``
        test is known false; unknown when a ``require`` fact is missing; else passing.
        """
        branches = []
        if when:
            branches.append((self.any_false(when), "3"))
        if require:
            missing_when = self.any_missing(when)
            fail = f"(2 if {missing_when} else 1)" if when else "1"
            branches += [(self.any_false(require), fail), (self.any_missing(require), "2")]
        for index, (test, code) in enumerate(branches):
            self.emit(d, f"{'if' if index == 0 else 'elif'} {test}: {out} = {code}")
        self.emit(d, f"else: {out} = 0" if branches else f"{out} = 0")

    def test(self, atom: n.Test) -> tuple[str, str]:
        """(the fact's local, the test as an expression) for a one-fact atom (a member or compare test)."""
        if isinstance(atom, n.Member):
            value = self.value(atom.operand, 0)
            items = self.const(frozenset(i.value for i in n.member_constants(atom)))
            return value, f"({value} {'not in' if atom.negated else 'in'} {items})"
        if not isinstance(atom, n.Compare):
            raise TypeError(f"not a one-fact test: {type(atom).__name__}")
        left, right = self.value(atom.left, 0), self.value(atom.right, 0)
        value = left if isinstance(atom.left, n.FactRef) else right
        return value, f"({left} {atom.op.symbol} {right})"

    def any_false(self, atoms: Sequence[n.Test]) -> str:
        return " or ".join(f"({v} is not None and not {t})" for v, t in map(self.test, atoms))

    def any_missing(self, atoms: Sequence[n.Test]) -> str:
        names = list(dict.fromkeys(self.test(a)[0] for a in atoms))
        return " or ".join(f"{v} is None" for v in names) or "False"


_Atoms = tuple[n.Test, ...] | None  # the one-fact tests of a conjunction, or None


def _simple_atoms(expr: n.CheckedExpr, memo: dict) -> _Atoms:
    """The distinct operands of a conjunction if each tests one fact against constants, else None.

    Memoised in ``memo`` on the (hashable, span-free) node, so shared definitions are walked once.
    """
    if expr not in memo:
        memo[expr] = _SIMPLE_ATOMS.visit(expr, memo)
    return memo[expr]


class _SimpleAtoms(n.Visitor[_Atoms]):
    """``_simple_atoms`` node by node: ``visit(e, memo)``; any condition that is not a
    conjunction of one-fact tests against constants gives None."""

    cannot_meet = (*n.PARSED_LEAVES, n.FactRef, n.FieldRef, n.Count)

    def visit_DefinitionRef(self, e: n.DefinitionRef, memo: dict) -> _Atoms:
        return _simple_atoms(e.body, memo)

    def visit_Not(self, e: n.Not, memo: dict) -> _Atoms:
        # `not standard_user`: one atom, negated, is one atom.
        inner = _simple_atoms(e.operand, memo)
        return (n.negate_test(inner[0]),) if inner is not None and len(inner) == 1 else None

    def visit_And(self, e: n.And, memo: dict) -> _Atoms:
        parts = [_simple_atoms(o, memo) for o in e.operands]
        atoms: dict[n.Test, None] = {}
        for part in parts:
            if part is None:
                return None
            atoms.update(dict.fromkeys(part))
        return tuple(atoms)

    def visit_Member(self, e: n.Member, memo: dict) -> _Atoms:
        return (e,) if isinstance(e.operand, n.FactRef) else None

    def visit_Compare(self, e: n.Compare, memo: dict) -> _Atoms:
        return (e,) if {type(e.left), type(e.right)} == {n.FactRef, n.Const} else None

    def visit_other(self, e: n.CheckedExpr, memo: dict) -> _Atoms:
        """Any other condition: not a conjunction of one-fact tests."""
        return None

    visit_Or = visit_Implies = visit_Conditional = visit_Quantified = visit_Presence = visit_Const = visit_other


_SIMPLE_ATOMS = _SimpleAtoms()


# A definition is written out where a decision tests it when that stays small (else its
# three-valued local is computed once and tested).
_INLINE_FACTS = 8
_INLINE_CHARS = 600


def _never(expr: n.CheckedExpr) -> bool:
    """Whether ``expr`` is the constant false (a scenario without that inference condition)."""
    return isinstance(expr, n.Const) and expr.value is False


class _Value(n.Visitor[str]):
    """An operand's value for the emitter: ``visit(e, emitter, d)`` returns the local holding it."""

    cannot_meet = (*n.PARSED_LEAVES, *n.CONDITIONS)

    def visit_FactRef(self, e: n.FactRef, emitter: _Emitter, d: int) -> str:
        return emitter.fact(e)

    def visit_FieldRef(self, e: n.FieldRef, emitter: _Emitter, d: int) -> str:
        return emitter.field(e, d)

    def visit_Const(self, e: n.Const, emitter: _Emitter, d: int) -> str:
        return emitter.const(e.value)

    def visit_Count(self, e: n.Count, emitter: _Emitter, d: int) -> str:
        return emitter.count(e, d)


_VALUE = _Value()


def _is_truth_value(e: n.CheckedExpr) -> bool:
    """Whether ``e`` is the constant ``true`` or ``false``."""
    return isinstance(e, n.Const) and isinstance(e.value, bool)


class _Truth(n.Visitor[str]):
    """The emitter's two-valued tests (``_Emitter.truth``): ``visit(e, emitter, want, d)`` is an
    expression true exactly when ``e`` is ``want``. A test of facts against constants is a
    plain comparison: a missing fact makes both its true and its false test false, and
    ``v == c`` and ``v in {…}`` are false for a missing ``v`` already (a constant is never
    None), so those need no guard."""

    cannot_meet = (*n.PARSED_LEAVES, n.FactRef, n.FieldRef, n.Count)

    def visit_Const(self, e: n.Const, emitter: _Emitter, want: bool, d: int) -> str:
        if isinstance(e.value, bool):
            return repr(e.value is want)
        return emitter.computed_truth(e, want, d)

    def visit_junction(self, e: n.And | n.Or, emitter: _Emitter, want: bool, d: int) -> str:
        """``and`` sought true, or ``or`` sought false, is the conjunction of its operands' tests."""
        joiner = " and " if isinstance(e, n.And) == want else " or "
        return _joined(joiner, [emitter.truth(o, want, d) for o in e.operands])

    visit_And = visit_Or = visit_junction

    def visit_Not(self, e: n.Not, emitter: _Emitter, want: bool, d: int) -> str:
        return emitter.truth(e.operand, not want, d)

    def visit_DefinitionRef(self, e: n.DefinitionRef, emitter: _Emitter, want: bool, d: int) -> str:
        return emitter.definition_truth(e, want, d)

    def visit_computed(self, e: n.CheckedExpr, emitter: _Emitter, want: bool, d: int) -> str:
        """A condition with no two-valued form (``_Emitter.computed_truth``)."""
        return emitter.computed_truth(e, want, d)

    visit_Implies = visit_Conditional = visit_Quantified = visit_computed

    def visit_Presence(self, e: n.Presence, emitter: _Emitter, want: bool, d: int) -> str:
        if not isinstance(e.operand, n.FactRef):
            return emitter.computed_truth(e, want, d)
        value = emitter.value(e.operand, 0)
        present, absent = f"({value} is not None)", f"({value} is None)"
        return present if e.present == want else absent

    def visit_Member(self, e: n.Member, emitter: _Emitter, want: bool, d: int) -> str:
        if not isinstance(e.operand, n.FactRef):
            return emitter.computed_truth(e, want, d)
        value = emitter.value(e.operand, 0)
        inside = f"({value} in {emitter.const(frozenset(i.value for i in n.member_constants(e)))})"
        outside = f"({value} is not None and not {inside})"
        return outside if e.negated == want else inside

    def visit_Compare(self, e: n.Compare, emitter: _Emitter, want: bool, d: int) -> str:
        if not all(isinstance(side, (n.FactRef, n.Const)) for side in (e.left, e.right)):
            return emitter.computed_truth(e, want, d)
        left, right = emitter.value(e.left, 0), emitter.value(e.right, 0)
        facts = [v for v, side in ((left, e.left), (right, e.right)) if isinstance(side, n.FactRef)]
        constant = next((side.value for side in (e.right, e.left) if isinstance(side, n.Const)), None)
        if len(facts) == 1 and not e.op.ordered and isinstance(constant, bool):
            # A bool fact holds True or False (typed values), so identity is equality here.
            same = f"({facts[0]} is {constant!r})"
            other = f"({facts[0]} is {(not constant)!r})"
            return same if (e.op is Op.EQ) == want else other
        guard = " and ".join(f"{v} is not None" for v in facts)
        if len(facts) == 1 and not e.op.ordered:
            equal = f"({left} == {right})"
            unequal = f"({guard} and {left} != {right})"
            return equal if (e.op is Op.EQ) == want else unequal
        test = f"({left} {e.op.symbol} {right})"
        return f"({guard} and {test})" if want else f"({guard} and not {test})"


_TRUTH = _Truth()


def _definitions_used(expr: n.CheckedExpr) -> list[n.DefinitionRef]:
    """Definitions an expression refers to directly (not those inside them)."""
    found, stack = [], [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, n.DefinitionRef):
            found.append(node)
            continue
        stack.extend(n.children(node))
    return found


def compile_ruleset(ruleset: n.CheckedRuleset) -> Verdicts:
    """A function from fact values (name → typed value) to one verdict code per rule.

    Only rules (not notes) get a code, in file order.
    """
    emitter = _Emitter()
    results = [emitter.rule(r, 1) for r in ruleset.rules if r.kind == "rule"]
    ret = f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})"
    lines = [*emitter.loads, *emitter.prelude, *emitter.lines, ret]
    return _function("_verdicts", lines, emitter, ruleset.id, ruleset.text)


def compile_decision(
    rules: Sequence[tuple[int, n.CheckedRule]],
    scenarios: Mapping[str, ScenarioStep],
    name: str = "decision",
    *,
    strict: bool = False,
) -> Decide:
    """One function from fact values to the first failing rule, for rules of several rulesets.

    ``rules`` are (position, rule) pairs in the order to run them; the function returns
    ``2 * position + 1`` for the first rule that fails, else ``2 * position + 2`` for the first
    that is unknown, else 0 (every rule passes or does not apply). ``strict``: True when every
    rule passes or does not apply, else False at the first that fails or is unknown, for a
    yes-or-no question (the rules run cheapest first). Each rule's facts are read (and its
    scenario facts resolved, see ``ScenarioStep``) just before it, so the rules after the
    answer cost nothing.
    """
    emitter = _Emitter(scenarios)
    emitter.getter = "_g"
    emitter.strict = strict
    lines = ["    _g = _f.get"] if strict else ["    _u = 0", "    _g = _f.get"]
    for lead, group in _groups(rules):
        if lead is None:
            lines += emitter.decision_rules(group)
        else:
            lines += emitter.decision_group(lead, group)
    lines.append("    return True" if strict else "    return _u")
    return _function("_decide", _inline_reads(lines), emitter, name, None, constants_in_globals=True)


_READ = re.compile(r"( *)(_v\d+) = _g\((_c\d+)\)")
_MINTED = re.compile(r"_[a-z]\d+")


def _inline_reads(lines: list[str]) -> list[str]:
    """Each fact read into a local that only the test right after it uses, read in that test
    instead (``if not (_g(_c9) == _c10)``): a store and a load fewer per fact.

    Only minted names move, only into an ``if`` line at the same depth with nothing but other
    reads between, so the read happens where it did (or not at all, short-circuited).
    """
    uses: dict[str, int] = {}
    for line in lines:
        for name in _MINTED.findall(line):
            uses[name] = uses.get(name, 0) + 1
    out = list(lines)
    for index, line in enumerate(lines):
        read = _READ.fullmatch(line)
        if read is None or uses.get(read.group(2)) != 2:  # the assignment and one use
            continue
        indent, var, key = read.groups()
        after = index + 1
        while after < len(lines) and _READ.fullmatch(lines[after]) and lines[after].startswith(indent + "_"):
            after += 1
        target = out[after] if after < len(out) else ""
        if (
            target.startswith(indent + "if ")
            and not target.startswith(indent + " ")
            and len(re.findall(rf"\b{var}\b", target)) == 1
        ):
            out[after] = re.sub(rf"\b{var}\b", f"_g({key})", target)
            out[index] = ""
    return [line for line in out if line]


def _groups(
    rules: Sequence[tuple[int, n.CheckedRule]],
) -> list[tuple[n.CheckedExpr | None, list[tuple[int, n.CheckedRule]]]]:
    """Consecutive rules whose applicability starts with the same condition (a ruleset's
    scenario), with that condition; a rule alone gets None."""
    groups: list[tuple[n.CheckedExpr | None, list[tuple[int, n.CheckedRule]]]] = []
    for position, rule in rules:
        lead = _lead(rule.applicability)
        if groups and lead is not None and groups[-1][0] == lead:
            groups[-1][1].append((position, rule))
        else:
            groups.append((lead, [(position, rule)]))
    return [(lead if len(group) > 1 else None, group) for lead, group in groups]


def _joined(joiner: str, parts: list[str]) -> str:
    """``parts`` joined by `` and `` or `` or ``, the constant parts folded away."""
    neutral, absorbing = ("True", "False") if joiner == " and " else ("False", "True")
    if absorbing in parts:
        return absorbing
    parts = [part for part in parts if part != neutral]
    if not parts:
        return neutral
    return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"


def _lead(applicability: n.CheckedExpr | None) -> n.CheckedExpr | None:
    if isinstance(applicability, n.And):
        return applicability.operands[0]
    return applicability


def _function(
    name: str, lines: list[str], emitter: _Emitter, label: str, text: Any, *, constants_in_globals: bool = False
) -> Callable[..., Any]:
    """The function ``name`` built from ``lines``: the constants are its default arguments, or
    (``constants_in_globals``) names of its own globals, which a call does not copy: the
    decision function, called per device, spends nothing on its constants."""
    params = "" if constants_in_globals else "".join(f", {const}=None" for const in emitter.const_names.values())
    source = "\n".join([f"def {name}(_f{params}):", *lines]) + "\n"
    filename = f"<bitlocker-rules compiled {label}>"
    try:
        module = compile(source, filename, "exec")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        why = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        raise RulesError(
            [
                Diagnostic(
                    "E501",
                    f"ruleset {label} is too deeply nested to compile ({why})",
                    source=text,
                    help="nest fewer quantifiers (any, all, count with a condition) inside each other; "
                    "definitions are expanded where used, so they do not reduce nesting",
                )
            ]
        ) from None
    code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    _show_source(filename, source)
    namespace = _namespace()
    if constants_in_globals:
        namespace.update(zip(emitter.const_names.values(), emitter.consts))
        return types.FunctionType(code, namespace, name)
    return types.FunctionType(code, namespace, name, tuple(emitter.consts))


def _namespace() -> dict[str, Any]:
    """The only globals a compiled function sees: no builtins but ``len``."""
    return {"__builtins__": {"len": len}}


def _show_source(filename: str, source: str) -> None:
    """Let tracebacks and debuggers show the generated source."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def frozen_verdicts(verdicts: Verdicts) -> bytes:
    """A verdict function from ``compile_ruleset`` as bytes that ``thawed_verdicts`` turns back into it."""
    function = cast(types.FunctionType, verdicts)
    code = function.__code__
    entry = linecache.cache.get(code.co_filename)
    # A registered source is (size, mtime, lines, name); a lazy entry (one item) holds no lines.
    source = "".join(entry[2]) if entry is not None and len(entry) == 4 else ""
    return pickle.dumps((marshal.dumps(code), function.__defaults__, source), protocol=pickle.HIGHEST_PROTOCOL)


def thawed_verdicts(data: bytes) -> Verdicts:
    """The verdict function ``frozen_verdicts`` wrote (by this Python: marshal is version-bound)."""
    code_bytes, defaults, source = pickle.loads(data)
    code = marshal.loads(code_bytes)
    if source:
        _show_source(code.co_filename, source)
    return types.FunctionType(code, _namespace(), code.co_name, defaults)
