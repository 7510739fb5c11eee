"""AST → canonical rule text. ``parse_ruleset(print_ruleset(r)) == r`` holds for every ruleset."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from . import nodes as n
from .resources import keywords

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RULE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)+$")

# Binding strength, loosest first; a child printed where a tighter form is needed gets parentheses.
_LEVEL = {
    n.Conditional: 0,
    n.Quantified: 0,
    n.Implies: 1,
    n.Or: 2,
    n.And: 3,
    n.Not: 4,
    n.Compare: 5,
    n.Member: 5,
    n.Presence: 5,
}


def print_ruleset(ruleset: n.Ruleset) -> str:
    """The canonical text of a whole rule file."""
    lines = [f"ruleset {ruleset.id} {quote(ruleset.title)}"]
    if ruleset.document:
        lines.append(f"  source {quote(ruleset.document)}")
    if ruleset.scenarios:
        lines.append("  scenario " + ", ".join(ruleset.scenarios))
    for definition in ruleset.definitions:
        lines += ["", f"define {definition.name} = {print_expr(definition.expr)}"]
    for rule in ruleset.rules:
        lines += ["", print_rule(rule)]
    return "\n".join(lines) + "\n"


def print_rule(rule: n.Rule) -> str:
    """The canonical text of one rule or note."""
    lines = [f"{rule.kind} {rule.id} {quote(rule.title)}", f"  severity {rule.severity}"]
    if rule.encodes:
        lines.append("  sources " + ", ".join(_source_ref(s) for s in rule.encodes))
    if rule.related:
        lines.append("  related " + ", ".join(_source_ref(s) for s in rule.related))
    if rule.scenarios:
        lines.append("  scenario " + ", ".join(rule.scenarios))
    if rule.disputed:
        lines.append(f"  disputed {quote(rule.disputed)}")
    if rule.unconfirmed:
        lines.append(f"  unconfirmed {quote(rule.unconfirmed)}")
    if rule.events:
        lines.append("  events " + ", ".join(str(e) for e in rule.events))
    when = n.written_applicability(rule)
    if when is not None:
        lines.append(f"  when {print_expr(when)}")
    lines += [f"  require {print_expr(r)}" for r in rule.requires]
    if rule.rationale:
        lines.append(f"  rationale {quote(rule.rationale)}")
    if rule.remediation:
        lines.append(f"  remediation {quote(rule.remediation)}")
    return "\n".join(lines)


def print_expr(expr: n.Expr, level: int = 0) -> str:
    """The canonical text of an expression, parenthesised where ``level`` needs it."""
    text = _PRINTER.visit(expr)
    own = _LEVEL.get(type(expr), 6)
    return f"({text})" if own < level else text


class _Printer(n.Visitor[str]):
    """The text of one node, its children printed by ``print_expr`` (parenthesised as needed);
    a parsed tree and a checked one alike."""

    def visit_Conditional(self, e: n.Conditional) -> str:
        return f"if {print_expr(e.condition, 1)} then {print_expr(e.then, 1)} else {print_expr(e.otherwise)}"

    def visit_Quantified(self, e: n.Quantified) -> str:
        return f"{e.quantifier} {e.var} in {print_expr(e.collection, 6)}: {print_expr(e.body)}"

    def visit_Implies(self, e: n.Implies) -> str:
        return f"{print_expr(e.antecedent, 2)} implies {print_expr(e.consequent, 1)}"

    def visit_Or(self, e: n.Or) -> str:
        return " or ".join(print_expr(o, 3) for o in e.operands)

    def visit_And(self, e: n.And) -> str:
        return " and ".join(print_expr(o, 4) for o in e.operands)

    def visit_Not(self, e: n.Not) -> str:
        return f"not {print_expr(e.operand, 4)}"

    def visit_Compare(self, e: n.Compare) -> str:
        return f"{print_expr(e.left, 6)} {e.op} {print_expr(e.right, 6)}"

    def visit_Member(self, e: n.Member) -> str:
        items = ", ".join(print_expr(i, 6) for i in e.items)
        return f"{print_expr(e.operand, 6)} {'not in' if e.negated else 'in'} {{{items}}}"

    def visit_Presence(self, e: n.Presence) -> str:
        return f"{print_expr(e.operand, 6)} is {'present' if e.present else 'missing'}"

    def visit_Count(self, e: n.Count) -> str:
        if e.var is None or e.body is None:
            return f"count({print_expr(e.collection, 6)})"
        return f"count({e.var} in {print_expr(e.collection, 6)}: {print_expr(e.body)})"

    def visit_Name(self, e: n.Name) -> str:
        return e.dotted

    def visit_FactRef(self, e: n.FactRef) -> str:
        return e.fact

    def visit_FieldRef(self, e: n.FieldRef) -> str:
        return f"{e.var}.{e.field}"

    def visit_DefinitionRef(self, e: n.DefinitionRef) -> str:
        return e.name

    def visit_Literal(self, e: n.Literal) -> str:
        return print_literal(e.value, e.kind)

    def visit_Const(self, e: n.Const) -> str:
        return print_literal(e.value, e.kind or _const_kind(e.value))


_PRINTER = _Printer()


def print_literal(value: Any, kind: str) -> str:
    """A literal value in rule syntax."""
    if kind == "bool":
        return "true" if value else "false"
    if kind == "string":
        return quote(value)
    if kind == "decimal":
        text = format(Decimal(repr(float(value))), "f")
        return text if "." in text else text + ".0"
    return str(value)


def _const_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "decimal"
    if isinstance(value, str):
        return "name" if _IDENTIFIER.match(value) else "string"
    return "other"


def quote(text: str) -> str:
    """A rule-language string literal for ``text``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _source_ref(ref: str) -> str:
    bare = (_IDENTIFIER.match(ref) or _RULE_ID.match(ref)) and ref not in keywords()
    return ref if bare else quote(ref)
