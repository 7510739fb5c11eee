"""Checked rules → one fast verdict function per ruleset.

The generated Python is built only from templates and names this module mints
(``_v3``, ``_t7``, ``_c2``); every value taken from a rule file (fact names, enum members,
strings, versions) reaches the function as a default argument object, never as source
text. The module code is compiled and the function object is taken from it directly, so
neither ``exec`` nor ``eval`` is used. Codes: 0 pass, 1 fail, 2 unknown, 3 not applicable.
"""

from __future__ import annotations

import linecache
import types
from collections.abc import Callable, Mapping
from itertools import count
from typing import Any

from . import nodes as n
from .errors import Diagnostic, RulesError

Verdicts = Callable[[Mapping[str, Any]], tuple[int, ...]]

_OPS = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class _Emitter:
    def __init__(self) -> None:
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
        self.atoms: dict[n.Expr, tuple[n.Expr, ...] | None] = {}

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
    def value(self, e: n.Expr, d: int) -> str:
        if isinstance(e, n.FactRef):
            if e.fact not in self.fact_vars:
                self.fact_vars[e.fact] = self.temp("_v")
            return self.fact_vars[e.fact]
        if isinstance(e, n.FieldRef):
            name = self.temp()
            self.emit(d, f"{name} = {self.items[e.var]}.get({self.const(e.field)})")
            return name
        if isinstance(e, n.Const):
            return self.const(e.value)
        if isinstance(e, n.Count):
            return self.count(e, d)
        raise TypeError(f"not a value: {type(e).__name__}")

    def count(self, e: n.Count, d: int) -> str:
        coll, out = self.value(e.collection, d), self.temp()
        if e.body is None:
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

    def loop(self, var: str, coll: str, body: n.Expr, d: int) -> str:
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
    def cond(self, e: n.Expr, d: int) -> str:
        if isinstance(e, n.Const):
            return self.const(e.value)
        if isinstance(e, n.DefinitionRef):
            return self.definition(e)
        if isinstance(e, (n.And, n.Or)):
            return self.junction(e, d)
        if isinstance(e, n.Not):
            inner, out = self.cond(e.operand, d), self.temp()
            self.emit(d, f"{out} = None if {inner} is None else not {inner}")
            return out
        if isinstance(e, n.Implies):
            return self.implies(e, d)
        if isinstance(e, n.Conditional):
            return self.conditional(e, d)
        if isinstance(e, n.Quantified):
            return self.quantified(e, d)
        return self.atom(e, d)

    def definition(self, e: n.DefinitionRef) -> str:
        """A definition's value, computed once at the top of the function (definitions are closed)."""
        if e.name not in self.definitions:
            # Definitions it uses come first, so every definition is computed unconditionally.
            for inner in _definitions_used(e.body):
                self.definition(inner)
            body, self.lines = self.lines, self.prelude
            self.definitions[e.name] = self.cond(e.body, 1)
            self.lines = body
        return self.definitions[e.name]

    def junction(self, e: n.And | n.Or, d: int) -> str:
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

    def implies(self, e: n.Implies, d: int) -> str:
        a, out = self.cond(e.antecedent, d), self.temp()
        self.emit(d, f"if {a} is False: {out} = True")
        self.emit(d, "else:")
        b = self.cond(e.consequent, d + 1)
        self.emit(d + 1, f"{out} = {b} if {a} is True else (True if {b} is True else None)")
        return out

    def conditional(self, e: n.Conditional, d: int) -> str:
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

    def quantified(self, e: n.Quantified, d: int) -> str:
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

    def atom(self, e: n.Expr, d: int) -> str:
        out = self.temp()
        if isinstance(e, n.Presence):
            value = self.value(e.operand, d)
            self.emit(d, f"{out} = {value} is {'not ' if e.present else ''}None")
        elif isinstance(e, n.Member):
            value = self.value(e.operand, d)
            items = self.const(frozenset(i.value for i in e.items))
            test = "not in" if e.negated else "in"
            self.emit(d, f"{out} = None if {value} is None else ({value} {test} {items})")
        elif isinstance(e, n.Compare):
            left, right = self.value(e.left, d), self.value(e.right, d)
            nullable = [v for v, node in ((left, e.left), (right, e.right)) if not isinstance(node, n.Const)]
            guard = " or ".join(f"{v} is None" for v in nullable)
            test = f"({left} {_OPS[e.op]} {right})"
            self.emit(d, f"{out} = None if ({guard}) else {test}" if guard else f"{out} = {test}")
        else:
            raise TypeError(f"not a condition: {type(e).__name__}")
        return out

    # --- rules
    def rule(self, rule: n.Rule, d: int) -> str:
        out = self.verdict(rule, d)
        # Where the sources disagree a failure is unknown; where none confirms a pass, so is a pass.
        for flag, code in ((rule.disputed, 1), (rule.unconfirmed, 0)):
            if flag:
                self.emit(d, f"if {out} == {code}: {out} = 2")
        return out

    def verdict(self, rule: n.Rule, d: int) -> str:
        out = self.temp("_r")
        when = _simple_atoms(rule.applicability, self.atoms) if rule.applicability is not None else ()
        require = _simple_atoms(n.And(rule.requirements), self.atoms)
        if when is not None and require is not None:
            self.flat_rule(out, when, require, d)
            return out
        holds = self.cond(n.And(rule.requirements), d) if rule.applicability is None else None
        if holds is not None:
            self.emit(d, f"{out} = 0 if {holds} is True else (1 if {holds} is False else 2)")
            return out
        applies = self.cond(rule.applicability, d)
        self.emit(d, f"if {applies} is False: {out} = 3")
        self.emit(d, "else:")
        holds = self.cond(n.And(rule.requirements), d + 1)
        self.emit(d + 1, f"if {applies} is None and {holds} is not True: {out} = 2")
        self.emit(d + 1, f"else: {out} = 0 if {holds} is True else (1 if {holds} is False else 2)")
        return out

    def flat_rule(self, out: str, when: list, require: list, d: int) -> None:
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

    def test(self, atom: n.Expr) -> tuple[str, str]:
        """(the fact's local, the test as an expression) for a one-fact atom."""
        if isinstance(atom, n.Member):
            value = self.value(atom.operand, 0)
            items = self.const(frozenset(i.value for i in atom.items))
            return value, f"({value} {'not in' if atom.negated else 'in'} {items})"
        left, right = self.value(atom.left, 0), self.value(atom.right, 0)
        value = left if isinstance(atom.left, n.FactRef) else right
        return value, f"({left} {_OPS[atom.op]} {right})"

    def any_false(self, atoms: list) -> str:
        return " or ".join(f"({v} is not None and not {t})" for v, t in map(self.test, atoms))

    def any_missing(self, atoms: list) -> str:
        names = list(dict.fromkeys(self.test(a)[0] for a in atoms))
        return " or ".join(f"{v} is None" for v in names) or "False"


def _simple_atoms(expr: n.Expr, memo: dict) -> tuple[n.Expr, ...] | None:
    """The distinct operands of a conjunction if each tests one fact against constants, else None.

    Memoised in ``memo`` on the (hashable, span-free) node, so shared definitions are walked once.
    """
    if expr not in memo:
        memo[expr] = _atoms_of(expr, memo)
    return memo[expr]


def _atoms_of(expr: n.Expr, memo: dict) -> tuple[n.Expr, ...] | None:
    if isinstance(expr, n.DefinitionRef):
        return _simple_atoms(expr.body, memo)
    if isinstance(expr, n.Not):  # `not standard_user`: one atom, negated, is one atom
        inner = _simple_atoms(expr.operand, memo)
        return (n.negate(inner[0]),) if inner is not None and len(inner) == 1 else None
    if isinstance(expr, n.And):
        parts = [_simple_atoms(o, memo) for o in expr.operands]
        return None if any(p is None for p in parts) else tuple(dict.fromkeys(a for p in parts for a in p))
    if isinstance(expr, n.Member) and isinstance(expr.operand, n.FactRef):
        return (expr,)
    if isinstance(expr, n.Compare):
        sides = {type(expr.left), type(expr.right)}
        return (expr,) if sides == {n.FactRef, n.Const} else None
    return None


def _definitions_used(expr: n.Expr) -> list[n.DefinitionRef]:
    """Definitions an expression refers to directly (not those inside them)."""
    found, stack = [], [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, n.DefinitionRef):
            found.append(node)
            continue
        stack.extend(n.children(node))
    return found


def compile_ruleset(ruleset: n.Ruleset) -> Verdicts:
    """A function from fact values (name → typed value) to one verdict code per rule.

    Only rules (not notes) get a code, in file order.
    """
    emitter = _Emitter()
    results = [emitter.rule(r, 1) for r in ruleset.rules if r.kind == "rule"]
    body = emitter.lines
    loads = [f"    {var} = _f.get({emitter.const(fact)})" for fact, var in emitter.fact_vars.items()]
    params = "".join(f", {name}=None" for name in emitter.const_names.values())
    ret = f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})"
    source = "\n".join([f"def _verdicts(_f{params}):", *loads, *emitter.prelude, *body, ret]) + "\n"
    return _function(source, emitter.consts, ruleset)


def _function(source: str, consts: list[Any], ruleset: n.Ruleset) -> Verdicts:
    filename = f"<bitlocker-rules compiled {ruleset.id}>"
    try:
        module = compile(source, filename, "exec")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        text = ruleset.text
        raise RulesError([Diagnostic("E501", f"ruleset {ruleset.id} is too deeply nested to compile ({exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__})",
                                     source=text, help="nest fewer quantifiers (any, all, count with a condition) inside each other; "
                                          "definitions are expanded where used, so they do not reduce nesting")]) from None
    code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    # Tracebacks and debuggers can show the generated source.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return types.FunctionType(code, {"__builtins__": {"len": len}}, "_verdicts", tuple(consts))
