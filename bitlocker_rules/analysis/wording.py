"""What each condition of a rule requires of a fact, in the admin's words."""

from __future__ import annotations

from typing import Any

from .. import nodes as n
from .records import Requirement, _location
from .selection import _Entry


_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_OP_WORDS = {"==": "equal to {}", "!=": "different from {}", "<": "less than {}", "<=": "at most {}",
             ">": "more than {}", ">=": "at least {}"}


def requirements_of(entry: _Entry, facts: set[str] | None = None) -> list[Requirement]:
    """What each condition of a rule requires, for the conditions that read ``facts`` (all if None)."""
    out: list[Requirement] = []
    rule = entry.rule
    seen_definitions: set[tuple] = set()
    if rule.applicability is not None:
        _collect(entry, rule.applicability, 1, "applies when", facts, out, seen_definitions)
    for req in rule.requirements:
        _collect(entry, req, 1, "requires", facts, out, seen_definitions)
    seen, unique = set(), []
    for r in out:
        key = (r.fact, r.required, r.role, r.text)
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def _collect(entry: _Entry, e, polarity: int, role: str, facts, out: list[Requirement], seen: set[tuple]) -> None:
    """Append to ``out`` what each condition under ``e`` requires; ``seen`` holds the
    definitions (body, polarity, role) already read: a definition used twice says the same."""
    if isinstance(e, (n.And, n.Or)):
        for o in e.operands:
            _collect(entry, o, polarity, role, facts, out, seen)
    elif isinstance(e, n.Not):
        _collect(entry, e.operand, -polarity, role, facts, out, seen)
    elif isinstance(e, n.Implies):
        _collect(entry, e.antecedent, -polarity, role, facts, out, seen)
        _collect(entry, e.consequent, polarity, role, facts, out, seen)
    elif isinstance(e, n.Conditional):
        _collect(entry, e.condition, 0, role, facts, out, seen)
        _collect(entry, e.then, polarity, role, facts, out, seen)
        _collect(entry, e.otherwise, polarity, role, facts, out, seen)
    elif isinstance(e, n.DefinitionRef):
        key = (id(e.body), polarity, role)
        if key not in seen:
            seen.add(key)
            _collect(entry, e.body, polarity, role, facts, out, seen)
    elif isinstance(e, n.Quantified):
        _collect(entry, e.body, polarity, role, facts, out, seen)
    elif isinstance(e, (n.Compare, n.Member, n.Presence)):
        found = _requirement(entry, e, polarity, role, facts)
        if found is not None:
            out.append(found)


def _requirement(entry: _Entry, e, polarity: int, role: str, facts) -> Requirement | None:
    """What one condition requires of its fact, or None when it reads no fact of ``facts``.
    ``polarity`` is -1 under a negation and 0 where the condition only chooses a branch."""
    interp = entry.interpreter
    subject, other, op = _subject(e)
    fact = _subject_fact(subject)
    if fact is None or (facts is not None and fact not in facts):
        return None
    decl = interp.declaration(subject)
    label = _label(interp, subject, fact, decl)
    if isinstance(subject, n.FieldRef):
        fact = f"{subject.collection}[].{subject.field}"
    text = interp.excerpt(e)
    if polarity == 0:
        required = f"as in `{text}`"
    else:
        wanted, op = _negated(e, op) if polarity < 0 else (e, op)
        required = _required(interp, wanted, op, other, decl, text)
    return Requirement(entry.id, entry.ruleset.id, fact, label, required, text, role,
                       _location(entry.path, entry.source, getattr(e, "span", None)))


def _subject_fact(subject) -> str | None:
    """The fact a condition's subject reads (a field's or a count's collection), or None."""
    if isinstance(subject, n.FactRef):
        return subject.fact
    if isinstance(subject, n.FieldRef):
        return subject.collection
    if isinstance(subject, n.Count):
        return subject.collection.fact if isinstance(subject.collection, n.FactRef) else ""
    return None


def _label(interp, subject, fact: str, decl) -> str:
    """The subject in the admin's words (Intune's label, of each record for a field)."""
    label = decl.label if decl else fact
    if isinstance(subject, n.FieldRef):
        collection = interp.vocabulary.fact(subject.collection)
        return f"{label} of each {collection.item_label or 'item'} in {collection.label}" if collection else label
    if isinstance(subject, n.Count):
        collection = interp.vocabulary.fact(fact)
        return f"Number of {collection.item_label or 'item'}s in {collection.label}" if collection else "Count"
    return label


def _negated(e, op: str) -> tuple[Any, str]:
    """The condition turned around: (the node, the operator)."""
    if isinstance(e, n.Member):
        return n.Member(e.operand, e.items, not e.negated, span=e.span), op
    if isinstance(e, n.Presence):
        return n.Presence(e.operand, not e.present, span=e.span), op
    return e, _NEGATE[op]


def _required(interp, e, op: str, other, decl, text: str) -> str:
    """What the condition requires, in the interpreter's words (``at least 6``)."""
    if isinstance(e, n.Compare) and not isinstance(other, n.Const):
        other_decl = interp.declaration(other)
        return _OP_WORDS[op].format(other_decl.label if other_decl else interp.excerpt(other))
    try:
        return interp.required(e, op, other, decl, {}, {})
    except (KeyError, TypeError, AttributeError):
        # Worded from the operands alone (no values, no bindings); where the interpreter
        # cannot, the rule's own text says it.
        return f"as in `{text}`"


def _subject(e) -> tuple[Any, Any, str]:
    if isinstance(e, n.Compare):
        if isinstance(e.left, n.Const) and not isinstance(e.right, n.Const):
            return e.right, e.left, _FLIP[e.op]
        return e.left, e.right, e.op
    return e.operand, None, ""
