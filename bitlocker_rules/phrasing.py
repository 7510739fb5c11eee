"""Conditions in the admin's words: the atoms the interpreter decided become ``Condition`` records.

The interpreter (Kleene evaluation) says which atomic conditions decided a verdict and what
each read, as records of this module (``Atom`` for a test; ``Constant`` and ``CollectionAtom``
for the other leaves it decides); this module, and only it, says them in English
(``Phrasing.worded``): the fact's label, its value as Intune shows it, and what the rule
needs. A negation never reaches the words: the interpreter decides ``not`` by pushing it into
the atoms (``nodes.negate``), so a condition is worded from its own, negated, operator
("earlier than 1809", "anything but Require startup PIN with TPM").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from . import nodes as n
from .operators import Op
from .outcome import Condition, Status
from .source import Location, SourceText, Span
from .versions import WindowsVersion
from .vocabulary import Fact, Vocabulary

Truth = bool | None
TRUTH_STATUS = {True: Status.PASS, False: Status.FAIL, None: Status.UNKNOWN}  # a truth value as a verdict

# What a comparison needs, in words; of a version, in the words of releases.
_WORDS = {
    Op.EQ: "{}",
    Op.NE: "anything but {}",
    Op.LT: "less than {}",
    Op.LE: "at most {}",
    Op.GT: "more than {}",
    Op.GE: "at least {}",
}
_VERSION_WORDS = {Op.LT: "earlier than {}", Op.LE: "{} or earlier", Op.GT: "later than {}", Op.GE: "{} or later"}


class Atom(NamedTuple):
    """An atomic condition as the interpreter decided it.

    ``node`` is the condition evaluated (a compare, member or presence test, any negation
    already in its operator), ``truth`` its Kleene truth, ``operands`` what each operand read,
    in the node's order: (value, where from: the fact, ``collection[index].field`` for a
    record's field, ``''`` for a constant), and ``text`` the condition as the rule writes it.
    (A named tuple, not an attrs class: one is made for every atom the interpreter decides.)
    """

    node: n.Test
    truth: Truth
    operands: tuple[tuple[Any, str], ...]
    text: str


class Constant(NamedTuple):
    """A literal ``true`` or ``false`` where a condition belongs, as the interpreter decided it."""

    node: n.Const
    truth: bool
    text: str


class CollectionAtom(NamedTuple):
    """A quantifier the interpreter decided from its collection alone: the collection
    ``fact`` is missing (``truth`` None) or empty (``all`` holds, ``any`` does not)."""

    node: n.Quantified
    truth: Truth
    fact: str
    text: str


# What the interpreter decides at the leaves of a rule: each is worded into one Condition.
Decided = Atom | Constant | CollectionAtom


def subject_of(e: n.Test) -> tuple[n.CheckedExpr, n.CheckedExpr | None, Op | None]:
    """The fact side of an atom, the other side, and the operator read from the fact's side."""
    if isinstance(e, n.Compare):
        if _reads_right(e):
            return e.right, e.left, e.op.flipped
        return e.left, e.right, e.op
    return e.operand, None, None


def _reads_right(e: n.Compare[n.CheckedExpr]) -> bool:
    """Whether a comparison is about its right side (a constant on the left, as ``1809 <= os``)."""
    return isinstance(e.left, n.Const) and not isinstance(e.right, n.Const)


class Phrasing:
    """Words for the conditions of one rule file: its vocabulary's labels and values, its text."""

    def __init__(self, vocabulary: Vocabulary, source: SourceText | None) -> None:
        self.vocabulary = vocabulary
        self.source = source

    def worded(self, decided: Decided) -> Condition:
        """The Condition record of anything the interpreter decided at a leaf."""
        return _WORDING[decided.__class__](self, decided)

    def condition(self, atom: Atom) -> Condition:
        """The Condition record for an atom: which fact, its value, what the rule needs."""
        e = atom.node
        subject, other, op = subject_of(e)
        # The subject's reading, and the other side's value, in the order the node holds them.
        index = 1 if isinstance(e, n.Compare) and subject is not e.left else 0
        actual, fact = atom.operands[index]
        other_value = atom.operands[1 - index][0] if len(atom.operands) == 2 else None
        decl = self.declaration(subject)
        label = decl.label if decl else fact
        if isinstance(subject, n.Count):
            label = _count_label(decl)
        return Condition(
            fact=fact,
            label=label,
            actual=None if actual is None else self.display(decl, actual, subject),
            required=self.required(e, op, other, other_value, decl),
            status=TRUTH_STATUS[atom.truth],
            text=atom.text,
            span=e.span,
            location=self.location(e.span),
        )

    def required(
        self, e: n.Test, op: Op | None, other: n.CheckedExpr | None, other_value: Any, decl: Fact | None
    ) -> str:
        """What the condition ``e`` needs of its subject (``op``, ``other``: as ``subject_of``
        gives them; ``other_value``: the other side's value)."""
        if isinstance(e, n.Presence):
            return "a value" if e.present else "no value"
        if isinstance(e, n.Member):
            shown = ", ".join(self.display(decl, i.value, i) for i in n.member_constants(e))
            return f"{'none' if e.negated else 'one'} of: {shown}"
        assert op is not None, "a comparison has an operator"
        shown = self.display(decl, other_value, other)
        if not isinstance(other, n.Const):
            other_decl = self.declaration(other)
            shown = f"{other_decl.label if other_decl else 'the other value'} ({shown})"
        words = _VERSION_WORDS if decl is not None and decl.type.kind == "version" else {}
        return words.get(op, _WORDS[op]).format(shown)

    def display(self, decl: Fact | None, value: Any, node: n.CheckedExpr | None = None) -> str:
        """A value in the admin's words; version constants as the rule wrote them."""
        if value is None:
            return "missing"
        if isinstance(value, WindowsVersion) and isinstance(node, n.Const) and node.span and self.source:
            written = self.source.excerpt(node.span).strip('"')
            return written if written == str(value) else f"{written} ({value})"
        if isinstance(node, n.Count) or decl is None:
            return str(value)
        return self.vocabulary.display(decl, value)

    def declaration(self, e: n.CheckedExpr | None) -> Fact | None:
        """The vocabulary declaration behind a fact, field or count operand."""
        if isinstance(e, n.FactRef):
            return self.vocabulary.fact(e.fact)
        if isinstance(e, n.FieldRef):
            collection = self.vocabulary.fact(e.collection)
            return collection.type.field(e.field) if collection else None
        if isinstance(e, n.Count):
            return self.declaration(e.collection)
        return None

    def constant(self, constant: Constant) -> Condition:
        """A literal ``true`` or ``false`` written as a condition."""
        e = constant.node
        shown = "true" if e.value else "false"
        return Condition(
            "", "The constant", shown, "true", TRUTH_STATUS[bool(e.value)], constant.text, e.span, self.location(e.span)
        )

    def collection(self, atom: CollectionAtom) -> Condition:
        """A quantifier decided by its collection: missing or empty."""
        if atom.truth is None:
            return self.missing_collection(atom.node, atom.fact, atom.text)
        return self.empty_collection(atom.node, atom.fact, atom.truth, atom.text)

    def missing_collection(self, e: n.Quantified, fact: str, text: str) -> Condition:
        """A quantifier over a collection that is missing: unknown, it needs a value."""
        decl = self.vocabulary.fact(fact)
        return Condition(
            fact, decl.label if decl else fact, None, "a value", Status.UNKNOWN, text, e.span, self.location(e.span)
        )

    def empty_collection(self, e: n.Quantified, fact: str, truth: bool, text: str) -> Condition:
        """A quantifier over an empty collection (``all`` holds, ``any`` does not)."""
        decl = self.vocabulary.fact(fact)
        noun = (decl.item_label or "item") if decl else "item"
        return Condition(
            fact,
            decl.label if decl else fact,
            f"no {noun}s",
            f"at least one {noun} that meets the condition",
            TRUTH_STATUS[truth],
            text,
            e.span,
            self.location(e.span),
        )

    def location(self, span: Span | None) -> Location | None:
        """Where ``span`` is in the rule file (None without one)."""
        if self.source is None or span is None:
            return None
        return self.source.location(span)


# How each kind of decided leaf is worded (a table: one lookup per condition worded).
_WORDING: dict[type, Callable[[Phrasing, Any], Condition]] = {
    Atom: Phrasing.condition,
    Constant: Phrasing.constant,
    CollectionAtom: Phrasing.collection,
}


def _count_label(decl: Fact | None) -> str:
    if decl is None:
        return "Count"
    noun = decl.item_label or "item"
    return f"Number of {noun if noun.endswith('s') else noun + 's'} ({decl.label})"
