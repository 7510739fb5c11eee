"""AST → canonical rule text. ``parse_ruleset(print_ruleset(r)) == r`` holds for every ruleset.

Without a width everything of a clause is on one line (the reference pages print rules so);
with one (``fmt``), texts and expressions that would pass it are broken where the grammar
allows: texts at spaces into adjacent strings, expressions before ``or``, ``and``,
``implies``, ``then`` and ``else``, a quantifier's body onto its own line and a set between
its items, each continuation aligned under what it continues.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from attrs import frozen

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
INDENT = "  "  # a clause under its rule or header


@frozen
class Block:
    """One printed piece of a rule file: a header line, a clause, a definition or a rule's
    first line, with the key ``fmt`` finds it by (``("ruleset",)``, ``(2, "require", 0)``:
    the third item's first `require`) and its text (several lines when broken)."""

    key: tuple[str | int, ...]
    text: str


def print_ruleset(ruleset: n.Ruleset, width: int | None = None) -> str:
    """The canonical text of a whole rule file (definitions first, then rules and notes)."""
    lines = [b.text for b in header_blocks(ruleset, width)]
    for definition in ruleset.definitions:
        lines += ["", print_definition(definition, width)]
    for rule in ruleset.rules:
        lines += ["", print_rule(rule, width)]
    return "\n".join(lines) + "\n"


def header_blocks(ruleset: n.Ruleset, width: int | None = None) -> list[Block]:
    """The header's lines: ``ruleset``, its ``source`` and ``scenario`` clauses."""
    blocks = [Block(("ruleset",), _with_text(f"ruleset {ruleset.id} ", ruleset.title, width))]
    if ruleset.document:
        blocks.append(Block(("source",), _with_text(f"{INDENT}source ", ruleset.document, width)))
    if ruleset.scenarios:
        blocks.append(Block(("scenario",), f"{INDENT}scenario " + ", ".join(ruleset.scenarios)))
    return blocks


def print_definition(definition: n.Definition, width: int | None = None) -> str:
    """The canonical text of one definition."""
    prefix = f"define {definition.name} = "
    return prefix + "\n".join(layout_expr(definition.expr, len(prefix), width))


def print_rule(rule: n.Rule, width: int | None = None) -> str:
    """The canonical text of one rule or note."""
    return "\n".join(b.text for b in rule_blocks(rule, width))


def rule_blocks(rule: n.Rule, width: int | None = None, item: int = 0) -> list[Block]:
    """A rule's first line and its clauses in canonical order, keyed under ``item``."""
    clauses: list[tuple[str | int, ...]] = []
    texts: list[str] = []

    def add(key: tuple[str | int, ...], text: str) -> None:
        clauses.append((item, *key))
        texts.append(text)

    add(("head",), _with_text(f"{rule.kind} {rule.id} ", rule.title, width))
    add(("severity",), f"{INDENT}severity {rule.severity}")
    for keyword, refs in (("sources", rule.encodes), ("related", rule.related)):
        if refs:
            add((keyword,), f"{INDENT}{keyword} " + ", ".join(_source_ref(s) for s in refs))
    if rule.scenarios:
        add(("scenario",), f"{INDENT}scenario " + ", ".join(rule.scenarios))
    for keyword, text in (("disputed", rule.disputed), ("unconfirmed", rule.unconfirmed)):
        if text:
            add((keyword,), _with_text(f"{INDENT}{keyword} ", text, width))
    if rule.events:
        add(("events",), f"{INDENT}events " + ", ".join(str(e) for e in rule.events))
    when = n.written_applicability(rule)
    if when is not None:
        add(("when",), _with_expr(f"{INDENT}when ", when, width))
    for index, requirement in enumerate(rule.requires):
        add(("require", index), _with_expr(f"{INDENT}require ", requirement, width))
    for keyword, text in (("rationale", rule.rationale), ("remediation", rule.remediation)):
        if text:
            add((keyword,), _with_text(f"{INDENT}{keyword} ", text, width))
    return [Block(key, text) for key, text in zip(clauses, texts, strict=True)]


def _with_text(prefix: str, text: str, width: int | None) -> str:
    return prefix + "\n".join(layout_text(text, len(prefix), width))


def _with_expr(prefix: str, expr: n.Expr, width: int | None) -> str:
    return prefix + "\n".join(layout_expr(expr, len(prefix), width))


def layout_text(text: str, column: int, width: int | None) -> list[str]:
    """``text`` as adjacent quoted strings (the grammar joins them with a space), each line
    ending by ``width`` where a space allows; the first line continues one at ``column``, the
    others start there."""
    pieces: list[str] = []
    rest = text
    while width is not None and len(quote(rest)) > width - column:
        cut = _cut(rest, width - column)
        if cut is None:
            break
        pieces.append(quote(rest[:cut]))
        rest = rest[cut + 1 :]
    pieces.append(quote(rest))
    return [pieces[0], *(" " * column + p for p in pieces[1:])]


def _cut(text: str, room: int) -> int | None:
    """Where to break ``text`` (a space, dropped, since adjacent strings are joined with one):
    the last space whose left part fits in ``room`` quoted, else the first space; None when
    there is none with text on both sides."""
    spaces = [i for i, ch in enumerate(text) if ch == " " and 0 < i < len(text) - 1]
    fitting = [i for i in spaces if len(quote(text[:i])) <= room]
    if fitting:
        return fitting[-1]
    return spaces[0] if spaces else None


def print_expr(expr: n.Expr, level: int = 0) -> str:
    """The canonical text of an expression, parenthesised where ``level`` needs it."""
    text = _PRINTER.visit(expr)
    own = _LEVEL.get(type(expr), 6)
    return f"({text})" if own < level else text


def layout_expr(expr: n.Expr, column: int, width: int | None, level: int = 0) -> list[str]:
    """``print_expr`` broken into lines to end by ``width`` (one line when it fits, or
    without a width): the first line continues one at ``column``, the others carry their
    indentation."""
    flat = print_expr(expr, level)
    breaker = _BREAKERS.get(type(expr))
    if width is None or column + len(flat) <= width or breaker is None:
        return [flat]
    parenthesised = _LEVEL.get(type(expr), 6) < level
    lines = breaker(expr, column + parenthesised, width)
    if parenthesised:
        lines[0], lines[-1] = "(" + lines[0], lines[-1] + ")"
    return lines


def _continued(lines: list[str], column: int, lead: str, more: list[str]) -> None:
    """Append ``more`` (laid out after ``lead`` at ``column``) on a new line of its own."""
    lines.append(" " * column + lead + more[0])
    lines.extend(more[1:])


def _break_junction(word: str, level: int) -> Callable[[Any, int, int], list[str]]:
    def breaker(e: n.And | n.Or, column: int, width: int) -> list[str]:
        lines = layout_expr(e.operands[0], column, width, level)
        for operand in e.operands[1:]:
            lead = f"{word} "
            _continued(lines, column, lead, layout_expr(operand, column + len(lead), width, level))
        return lines

    return breaker


def _break_implies(e: n.Implies, column: int, width: int) -> list[str]:
    lines = layout_expr(e.antecedent, column, width, 2)
    _continued(lines, column, "implies ", layout_expr(e.consequent, column + 8, width, 1))
    return lines


def _break_conditional(e: n.Conditional, column: int, width: int) -> list[str]:
    lines = ["if " + line if i == 0 else line for i, line in enumerate(layout_expr(e.condition, column + 3, width, 1))]
    _continued(lines, column, "then ", layout_expr(e.then, column + 5, width, 1))
    _continued(lines, column, "else ", layout_expr(e.otherwise, column + 5, width))
    return lines


def _break_quantified(e: n.Quantified, column: int, width: int) -> list[str]:
    body = column + len(INDENT)
    head = f"{e.quantifier} {e.var} in {print_expr(e.collection, 6)}:"
    return [head, *_indented(layout_expr(e.body, body, width), body)]


def _indented(lines: list[str], column: int) -> list[str]:
    """Laid-out lines whose first line starts a line of its own at ``column``."""
    return [" " * column + lines[0], *lines[1:]]


def _break_not(e: n.Not, column: int, width: int) -> list[str]:
    lines = layout_expr(e.operand, column + 4, width, 4)
    return ["not " + lines[0], *lines[1:]]


def _break_member(e: n.Member, column: int, width: int) -> list[str]:
    head = f"{print_expr(e.operand, 6)} {'not in' if e.negated else 'in'} {{"
    first, *items = [print_expr(i, 6) for i in e.items]
    lines, line, offset = [], head + first, column  # offset: where ``line`` starts on the page
    for item in items:
        if offset + len(line) + len(", ") + len(item) + len("}") > width:
            lines.append(line + ",")
            line, offset = " " * (column + len(head)) + item, 0
        else:
            line += ", " + item
    return [*lines, line + "}"]


_BREAKERS: dict[type, Callable[[Any, int, int], list[str]]] = {
    n.Or: _break_junction("or", 3),
    n.And: _break_junction("and", 4),
    n.Implies: _break_implies,
    n.Conditional: _break_conditional,
    n.Quantified: _break_quantified,
    n.Not: _break_not,
    n.Member: _break_member,
}


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
