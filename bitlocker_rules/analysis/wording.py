"""What each condition of a rule requires of a fact, in the admin's words."""

from __future__ import annotations

from .. import nodes as n
from ..interpreter import Interpreter
from ..operators import Op
from ..phrasing import subject_of
from ..vocabulary import Fact
from .results import Requirement, location_of
from .selection import Entry

# A comparison with another fact, in words (a constant is worded by the interpreter).
_OP_WORDS = {
    Op.EQ: "equal to {}",
    Op.NE: "different from {}",
    Op.LT: "less than {}",
    Op.LE: "at most {}",
    Op.GT: "more than {}",
    Op.GE: "at least {}",
}


def requirements_of(entry: Entry, facts: set[str] | None = None) -> list[Requirement]:
    """What each condition of a rule requires, for the conditions that read ``facts`` (all if None)."""
    collect = _Collect(entry, facts)
    rule = entry.rule
    if rule.applicability is not None:
        collect.visit(rule.applicability, 1, "applies when")
    for req in rule.requires:
        collect.visit(req, 1, "requires")
    seen, unique = set(), []
    for r in collect.out:
        key = (r.fact, r.required, r.role, r.text)
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


class _Collect(n.Visitor[None]):
    """Collects what each condition under a node requires: ``visit(e, polarity, role)``, with
    ``polarity`` -1 under a negation and 0 where a condition only chooses a branch. ``seen``
    holds the definitions (body, polarity, role) already read: a definition used twice says the same."""

    cannot_meet = (*n.PARSED_LEAVES, n.FactRef, n.FieldRef, n.Count)

    def __init__(self, entry: Entry, facts: set[str] | None) -> None:
        self.entry = entry
        self.facts = facts
        self.out: list[Requirement] = []
        self.seen: set[tuple] = set()

    def visit_junction(self, e: n.And | n.Or, polarity: int, role: str) -> None:
        """Each operand says what it requires."""
        for o in e.operands:
            self.visit(o, polarity, role)

    visit_And = visit_Or = visit_junction

    def visit_Not(self, e: n.Not, polarity: int, role: str) -> None:
        self.visit(e.operand, -polarity, role)

    def visit_Implies(self, e: n.Implies, polarity: int, role: str) -> None:
        self.visit(e.antecedent, -polarity, role)
        self.visit(e.consequent, polarity, role)

    def visit_Conditional(self, e: n.Conditional, polarity: int, role: str) -> None:
        self.visit(e.condition, 0, role)
        self.visit(e.then, polarity, role)
        self.visit(e.otherwise, polarity, role)

    def visit_DefinitionRef(self, e: n.DefinitionRef, polarity: int, role: str) -> None:
        key = (id(e.body), polarity, role)
        if key not in self.seen:
            self.seen.add(key)
            self.visit(e.body, polarity, role)

    def visit_Quantified(self, e: n.Quantified, polarity: int, role: str) -> None:
        self.visit(e.body, polarity, role)

    def visit_Const(self, e: n.Const, polarity: int, role: str) -> None:
        """A constant condition requires nothing of a fact."""

    def visit_atom(self, e: n.Test, polarity: int, role: str) -> None:
        """One condition's requirement, when it reads a fact asked about."""
        found = _requirement(self.entry, e, polarity, role, self.facts)
        if found is not None:
            self.out.append(found)

    visit_Compare = visit_Member = visit_Presence = visit_atom


def _requirement(entry: Entry, e: n.Test, polarity: int, role: str, facts: set[str] | None) -> Requirement | None:
    """What one condition requires of its fact, or None when it reads no fact of ``facts``.
    ``polarity`` is -1 under a negation and 0 where the condition only chooses a branch."""
    interp = entry.interpreter
    subject, other, op = subject_of(e)
    fact = _subject_fact(subject)
    if fact is None or (facts is not None and fact not in facts):
        return None
    decl = interp.phrasing.declaration(subject)
    label = _label(interp, subject, fact, decl)
    if isinstance(subject, n.FieldRef):
        fact = f"{subject.collection}[].{subject.field}"
    text = interp.excerpt(e)
    if polarity == 0:
        required = f"as in `{text}`"
    else:
        wanted, op = _negated(e, op) if polarity < 0 else (e, op)
        required = _required(interp, wanted, op, other, decl, text)
    return Requirement(
        entry.id,
        entry.ruleset.id,
        fact,
        label,
        required,
        text,
        role,
        location_of(entry.path, entry.source, getattr(e, "span", None)),
    )


def _subject_fact(subject: n.CheckedExpr) -> str | None:
    """The fact a condition's subject reads (a field's or a count's collection), or None."""
    if isinstance(subject, n.FactRef):
        return subject.fact
    if isinstance(subject, n.FieldRef):
        return subject.collection
    if isinstance(subject, n.Count):
        return subject.collection.fact if isinstance(subject.collection, n.FactRef) else ""
    return None


def _label(interp: Interpreter, subject: n.CheckedExpr, fact: str, decl: Fact | None) -> str:
    """The subject in the admin's words (Intune's label, of each record for a field)."""
    label = decl.label if decl else fact
    if isinstance(subject, n.FieldRef):
        collection = interp.vocabulary.fact(subject.collection)
        return f"{label} of each {collection.item_label or 'item'} in {collection.label}" if collection else label
    if isinstance(subject, n.Count):
        collection = interp.vocabulary.fact(fact)
        return f"Number of {collection.item_label or 'item'}s in {collection.label}" if collection else "Count"
    return label


def _negated(e: n.Test, op: Op | None) -> tuple[n.Test, Op | None]:
    """The condition turned around: (the node, the operator read from the fact's side)."""
    if isinstance(e, n.Compare) and op is not None:
        return e, op.negated
    return n.negate_test(e), op


def _required(
    interp: Interpreter, e: n.Test, op: Op | None, other: n.CheckedExpr | None, decl: Fact | None, text: str
) -> str:
    """What the condition requires, in the interpreter's words (``at least 6``)."""
    if isinstance(e, n.Compare) and op is not None and other is not None and not isinstance(other, n.Const):
        other_decl = interp.phrasing.declaration(other)
        return _OP_WORDS[op].format(other_decl.label if other_decl else interp.excerpt(other))
    try:
        return interp.phrasing.required(e, op, other, other.value if isinstance(other, n.Const) else None, decl)
    except (KeyError, TypeError, AttributeError):
        # Worded from the operands alone (no values, no bindings); where the interpreter
        # cannot, the rule's own text says it.
        return f"as in `{text}`"
