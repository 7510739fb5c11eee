"""The rule language's syntax tree: small frozen classes; spans are not part of equality.

The parser builds ``Name`` and ``Literal`` leaves; the checker replaces them with the
resolved leaves ``FactRef``, ``FieldRef``, ``DefinitionRef`` and ``Const`` and leaves the
rest of the tree's shape as written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Generic, TypeVar, Union

import attrs
from attrs import field, frozen

from .errors import Diagnostic
from .operators import Op
from .source import SourceText, Span

_SPAN = field(default=None, eq=False, repr=False, kw_only=True)

# Definitions are shared sub-trees (``define d2 = d1 and d1``): a chain of them is a tree of
# exponential size but a graph of linear size. Nodes cache their hash, computed once per
# object, and compare without recursion, each pair of objects once: both cost the graph, not
# the tree, also between two separately loaded copies of a rule file.
_EQ_FIELDS: dict[type, tuple[str, ...]] = {}


T = TypeVar("T", bound=type)


def _tree_equality(cls: T) -> T:
    """A node class (made by ``frozen(cache_hash=True)`` beneath, as type checkers see it)
    with the equality below."""
    _EQ_FIELDS[cls] = tuple(f.name for f in attrs.fields(cls) if f.eq)
    # setattr: mypy refuses an assignment to a method, and the class is made by attrs beneath.
    setattr(cls, "__eq__", _same_tree)  # noqa: B010 - see above
    return cls


def _same_tree(self: object, other: object) -> bool:
    """Equality as attrs defines it (the fields that take part, spans aside), computed
    without recursion and comparing each pair of objects once."""
    if other.__class__ is not self.__class__:
        return NotImplemented
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, Any]] = [(self, other)]
    while stack:
        a, b = stack.pop()
        if a is b or (id(a), id(b)) in seen:
            continue
        seen.add((id(a), id(b)))
        fields = _EQ_FIELDS.get(type(a))
        if fields is not None:
            if type(b) is not type(a) or hash(a) != hash(b):
                return False
            stack.extend((getattr(a, f), getattr(b, f)) for f in fields)
        elif isinstance(a, tuple) and isinstance(b, tuple) and type(b) is type(a):
            if len(a) != len(b):
                return False
            stack.extend(zip(a, b))
        elif a != b:
            return False
    return True


# The expression type of the tree a node is part of: ``ParsedExpr`` or ``CheckedExpr``.
X = TypeVar("X")


# --- leaves as parsed -----------------------------------------------------


@_tree_equality
@frozen(cache_hash=True)
class Name:
    """A dotted name as written: a fact, a definition, a bound variable or an enum member."""

    path: tuple[str, ...]
    span: Span | None = _SPAN

    @property
    def dotted(self) -> str:
        """The name as written, dots included."""
        return ".".join(self.path)


@_tree_equality
@frozen(cache_hash=True)
class Literal:
    """A literal as written; ``kind`` is string, integer, decimal, version or bool."""

    value: Any
    kind: str
    span: Span | None = _SPAN


# --- leaves after checking ----------------------------------------------------


@_tree_equality
@frozen(cache_hash=True)
class FactRef:
    """A resolved reference to a declared fact."""

    fact: str
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class FieldRef:
    """A field of the record a quantifier variable is bound to."""

    var: str
    field: str
    collection: str
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class DefinitionRef:
    """A use of a named definition, with the checked body it stands for."""

    name: str
    body: CheckedExpr
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class Const:
    """A typed constant: bool, int, float, str, enum member name or WindowsVersion.

    ``kind`` says how it was written (``member``, ``string``, ``integer``, ``decimal``,
    ``version``, ``bool``) so the printer can write it back; it is not part of equality.
    """

    value: Any
    span: Span | None = _SPAN
    kind: str = field(default="", eq=False, repr=False, kw_only=True)


# --- structure -------------------------------------------------------------------


@_tree_equality
@frozen(cache_hash=True)
class Compare(Generic[X]):
    """``left op right``; ``op`` is an ``Op`` (its symbol is accepted and converted)."""

    op: Op = field(converter=Op)
    left: X
    right: X
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class Member(Generic[X]):
    """``operand in {…}`` or, negated, ``operand not in {…}``."""

    operand: X
    items: tuple[X, ...]
    negated: bool = False
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class Presence(Generic[X]):
    """``operand is present`` or ``operand is missing``."""

    operand: X
    present: bool
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class Not(Generic[X]):
    """``not operand``."""

    operand: X
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class And(Generic[X]):
    """``a and b and …``."""

    operands: tuple[X, ...]
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class Or(Generic[X]):
    """``a or b or …``."""

    operands: tuple[X, ...]
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class Implies(Generic[X]):
    """``antecedent implies consequent``, also written ``if a then b``."""

    antecedent: X
    consequent: X
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class Conditional(Generic[X]):
    """``if condition then a else b``: ``(condition implies a) and (not condition implies b)``."""

    condition: X
    then: X
    otherwise: X
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class Quantified(Generic[X]):
    """``any x in collection: body`` or ``all x in collection: body``."""

    quantifier: str
    var: str
    collection: X
    body: X
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class Count(Generic[X]):
    """``count(collection)`` or ``count(x in collection: body)``."""

    collection: X
    var: str | None = None
    body: X | None = None
    span: Span | None = _SPAN


# A parsed tree holds names and literals as written; a checked tree holds them resolved. The
# classes are shared, parametrised by the tree they are part of, so a type checker tells the two
# apart: code after the checker takes ``CheckedExpr`` (``CheckedRule``, ``CheckedRuleset``) and
# never meets a ``Name``.
ParsedExpr = Union[
    Name, Literal, "Compare[ParsedExpr]", "Member[ParsedExpr]", "Presence[ParsedExpr]", "Not[ParsedExpr]",
    "And[ParsedExpr]", "Or[ParsedExpr]", "Implies[ParsedExpr]", "Conditional[ParsedExpr]",
    "Quantified[ParsedExpr]", "Count[ParsedExpr]",
]  # fmt: skip
CheckedExpr = Union[
    FactRef, FieldRef, DefinitionRef, Const, "Compare[CheckedExpr]", "Member[CheckedExpr]",
    "Presence[CheckedExpr]", "Not[CheckedExpr]", "And[CheckedExpr]", "Or[CheckedExpr]", "Implies[CheckedExpr]",
    "Conditional[CheckedExpr]", "Quantified[CheckedExpr]", "Count[CheckedExpr]",
]  # fmt: skip
Expr = ParsedExpr | CheckedExpr
# The atomic conditions and the operands of a checked tree.
Test = Union["Compare[CheckedExpr]", "Member[CheckedExpr]", "Presence[CheckedExpr]"]
Operand = Union[FactRef, FieldRef, Const, "Count[CheckedExpr]"]

# Every expression class, in the order of ``Expr``: what each ``Visitor`` must handle.
EXPRESSIONS: tuple[type, ...] = (
    Name, Literal, FactRef, FieldRef, DefinitionRef, Const,
    Compare, Member, Presence, Not, And, Or, Implies, Conditional, Quantified, Count,
)  # fmt: skip
# The leaves only a parsed tree has (the checker replaces them).
PARSED_LEAVES: tuple[type, ...] = (Name, Literal)
# What stands where a value belongs in a checked tree.
OPERANDS: tuple[type, ...] = (FactRef, FieldRef, Const, Count)
# What stands where a condition belongs in a checked tree, apart from the constants true and false.
CONDITIONS: tuple[type, ...] = (
    DefinitionRef,
    Compare,
    Member,
    Presence,
    Not,
    And,
    Or,
    Implies,
    Conditional,
    Quantified,
)

R = TypeVar("R")


class Visitor(Generic[R]):
    """A walk over expressions: ``visit(node, *args)`` calls ``visit_<ClassName>(node, *args)``.

    Each subclass gets its table (expression class → handler) once, when it is defined, so a
    visit costs one dictionary lookup. A subclass handles every class in ``EXPRESSIONS``:
    with a ``visit_`` method, or by listing it in ``cannot_meet`` (a value where a condition
    belongs, a parsed leaf in a checked tree), which raises ``TypeError`` when met.
    ``tests/test_visitors.py`` checks every subclass, so no node class falls through a walk
    unnoticed.
    """

    handlers: ClassVar[dict[type, Callable[..., Any]]] = {}
    cannot_meet: ClassVar[tuple[type, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.handlers = {kind: _handler(cls, kind) for kind in EXPRESSIONS}

    def visit(self, node: Expr, *args: Any) -> R:
        """The handler of ``node``'s class applied to it (and to ``args``)."""
        try:
            handler = self.handlers[node.__class__]
        except KeyError:
            raise TypeError(f"{type(self).__name__}: not an expression: {type(node).__name__}") from None
        result: R = handler(self, node, *args)
        return result

    @classmethod
    def unhandled(cls) -> tuple[type, ...]:
        """The expression classes this visitor neither handles nor declares it cannot meet."""
        return tuple(
            kind for kind in EXPRESSIONS if not hasattr(cls, f"visit_{kind.__name__}") and kind not in cls.cannot_meet
        )


def _handler(cls: type[Visitor[Any]], kind: type) -> Callable[..., Any]:
    """The function ``cls`` visits ``kind`` with: its ``visit_`` method, else one that raises."""
    method = getattr(cls, f"visit_{kind.__name__}", None)
    if method is not None:
        return method
    return _cannot_meet if kind in cls.cannot_meet else _unhandled


def _cannot_meet(self: Visitor[Any], node: Expr, *args: Any) -> Any:
    raise TypeError(f"{type(self).__name__}: a {type(node).__name__} cannot stand here")


def _unhandled(self: Visitor[Any], node: Expr, *args: Any) -> Any:
    raise TypeError(f"{type(self).__name__} has no handler for {type(node).__name__}")


# --- declarations ------------------------------------------------------------------


@_tree_equality
@frozen(cache_hash=True)
class Definition(Generic[X]):
    """``define name = expr``."""

    name: str
    expr: X
    span: Span | None = _SPAN


@_tree_equality
@frozen(cache_hash=True)
class Rule(Generic[X]):
    """A rule (``kind == "rule"``) or an informational note (``kind == "note"``).

    ``encodes`` are the requirements the rule encodes (its `sources` clause); ``related`` those it only gives advice
    about (a rule has one or the other). ``scenarios`` are the scenarios it is about, as
    written (its own clause, else its ruleset's); after checking, ``applicability`` also
    holds them. ``disputed`` says how the sources disagree: a failure is then unknown;
    ``unconfirmed`` says why no source confirms that passing is enough: a pass is then unknown.
    """

    id: str
    title: str
    kind: str = "rule"
    severity: str = "error"
    encodes: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    disputed: str = ""
    unconfirmed: str = ""
    rationale: str = ""
    remediation: str = ""
    events: tuple[int, ...] = ()
    applicability: X | None = None
    requires: tuple[X, ...] = ()  # the require clauses
    span: Span | None = _SPAN
    spans: Mapping[str, Span] = field(factory=dict, eq=False, repr=False, kw_only=True)


@_tree_equality
@frozen(cache_hash=True)
class Ruleset(Generic[X]):
    """One rule file: a header (with the scenarios all its rules are about), definitions, and
    rules and notes in file order."""

    id: str
    title: str
    document: str = ""  # the header's `source` clause: the document the rules come from
    definitions: tuple[Definition[X], ...] = ()
    rules: tuple[Rule[X], ...] = ()
    scenarios: tuple[str, ...] = ()
    span: Span | None = _SPAN
    spans: Mapping[str, Span] = field(factory=dict, eq=False, repr=False, kw_only=True)
    text: SourceText | None = field(default=None, eq=False, repr=False, kw_only=True)
    problems: tuple[Diagnostic, ...] = field(default=(), eq=False, repr=False, kw_only=True)


# A ruleset, rule or definition as the parser builds it, and as the checker returns it.
ParsedRuleset = Ruleset[ParsedExpr]
ParsedRule = Rule[ParsedExpr]
CheckedRuleset = Ruleset[CheckedExpr]
CheckedRule = Rule[CheckedExpr]
CheckedDefinition = Definition[CheckedExpr]


def negate(e: CheckedExpr) -> CheckedExpr:
    """The condition that holds exactly when ``e`` does not, negation pushed down to the atoms.

    Exact in Kleene logic (De Morgan and double negation hold; unknown stays unknown). An
    implication and an if-then-else are negated in their expanded forms, since
    ``c or not c`` is not true when ``c`` is unknown. A definition used several times is
    negated once (its negation is shared), so the result is as small as the input graph.
    """
    return _NEGATION.visit(e, {})


class _Negation(Visitor[CheckedExpr]):
    """``negate``, node by node: ``visit(e, done)``, with ``done`` the negations of the
    definitions made so far, by the identity of their bodies."""

    cannot_meet = (*PARSED_LEAVES, FactRef, FieldRef, Count)

    def visit_Not(self, e: Not[CheckedExpr], done: dict[int, CheckedExpr]) -> CheckedExpr:
        return e.operand

    def visit_And(self, e: And[CheckedExpr], done: dict[int, CheckedExpr]) -> CheckedExpr:
        return Or(tuple(self.visit(o, done) for o in e.operands), span=e.span)

    def visit_Or(self, e: Or[CheckedExpr], done: dict[int, CheckedExpr]) -> CheckedExpr:
        return And(tuple(self.visit(o, done) for o in e.operands), span=e.span)

    def visit_Implies(self, e: Implies[CheckedExpr], done: dict[int, CheckedExpr]) -> CheckedExpr:
        return And((e.antecedent, self.visit(e.consequent, done)), span=e.span)

    def visit_Conditional(self, e: Conditional[CheckedExpr], done: dict[int, CheckedExpr]) -> CheckedExpr:
        return Or(
            (
                And((e.condition, self.visit(e.then, done)), span=e.span),
                And((self.visit(e.condition, done), self.visit(e.otherwise, done)), span=e.span),
            ),
            span=e.span,
        )

    def visit_DefinitionRef(self, e: DefinitionRef, done: dict[int, CheckedExpr]) -> CheckedExpr:
        # Keyed by the body's identity: every use of one definition shares its negation, which
        # stays a definition (``not d``), so evaluators that decide each definition once still do.
        found = done.get(id(e.body))
        if found is None:
            found = done[id(e.body)] = DefinitionRef(f"not {e.name}", self.visit(e.body, done), span=e.span)
        return found

    def visit_Quantified(self, e: Quantified[CheckedExpr], done: dict[int, CheckedExpr]) -> CheckedExpr:
        dual = "any" if e.quantifier == "all" else "all"
        return Quantified(dual, e.var, e.collection, self.visit(e.body, done), span=e.span)

    def visit_Const(self, e: Const, done: dict[int, CheckedExpr]) -> CheckedExpr:
        return Const(not e.value, span=e.span, kind=e.kind)

    def visit_test(self, e: Test, done: dict[int, CheckedExpr]) -> CheckedExpr:
        """An atomic condition with its operator negated (``negate_test``)."""
        return negate_test(e)

    visit_Compare = visit_Member = visit_Presence = visit_test


_NEGATION = _Negation()


def member_constants(e: Member[CheckedExpr]) -> tuple[Const, ...]:
    """The items of a checked member test: constants (the checker refuses anything else, E405)."""
    return tuple(item for item in e.items if isinstance(item, Const))


def negate_test(e: Test) -> Test:
    """The atomic condition that holds exactly when ``e`` does not: its operator negated."""
    if isinstance(e, Member):
        return Member(e.operand, e.items, not e.negated, span=e.span)
    if isinstance(e, Presence):
        return Presence(e.operand, not e.present, span=e.span)
    if isinstance(e, Compare):
        for side, other in ((e.right, e.left), (e.left, e.right)):
            if not e.op.ordered and isinstance(side, Const) and isinstance(side.value, bool):
                # `x == true` negated reads better as `x == false` than as `x != true`.
                flipped = Const(not side.value, span=side.span, kind=side.kind)
                left, right = (other, flipped) if side is e.right else (flipped, other)
                return Compare(e.op, left, right, span=e.span)
        return Compare(e.op.negated, e.left, e.right, span=e.span)
    raise TypeError(f"not an atomic condition: {type(e).__name__}")


def scenario_condition(names: tuple[str, ...], span: Span | None) -> CheckedExpr:
    """The condition a ``scenario`` clause adds to a rule's applicability: any of its scenarios holds."""
    tests: tuple[CheckedExpr, ...] = tuple(
        Compare(Op.EQ, FactRef(f"scenario.{name}", span=span), Const(True, span=span, kind="bool"), span=span)
        for name in names
    )
    return tests[0] if len(tests) == 1 else Or(tests, span=span)


def _is_scenario_condition(e: CheckedExpr) -> bool:
    tests = e.operands if isinstance(e, Or) else (e,)
    return all(
        isinstance(t, Compare) and isinstance(t.left, FactRef) and t.left.fact.startswith("scenario.") for t in tests
    )


def written_applicability(rule: CheckedRule) -> CheckedExpr | None:
    """A rule's ``when`` as written: a checked rule's applicability without its scenarios' condition."""
    e = rule.applicability
    if not rule.scenarios or e is None:
        return e
    if _is_scenario_condition(e):
        return None
    if isinstance(e, And) and len(e.operands) == 2 and _is_scenario_condition(e.operands[0]):
        return e.operands[1]
    return e


def assume_scenarios(rule: CheckedRule, states: Mapping[str, bool]) -> CheckedRule:
    """``rule`` with the scenario facts in ``states`` (``scenario.x`` → bool) read as constants.

    The analyser then reasons about the rule as it applies when those scenarios are declared:
    its scenario condition is decided, everything else stays as it was.
    """
    if rule.applicability is None or not rule.scenarios:
        return rule
    return attrs.evolve(rule, applicability=_ASSUMED.visit(rule.applicability, states))


class _Assumed(Visitor[CheckedExpr]):
    """``assume_scenarios``'s rewrite: ``visit(e, states)`` is ``e`` with each test of a scenario
    fact in ``states`` against a constant replaced by its truth. The scenario condition is a
    test, or a conjunction or disjunction of them, so only those are looked into."""

    cannot_meet = (*PARSED_LEAVES, FactRef, FieldRef, Count)

    def visit_Compare(self, e: Compare[CheckedExpr], states: Mapping[str, bool]) -> CheckedExpr:
        if isinstance(e.left, FactRef) and e.left.fact in states and isinstance(e.right, Const):
            return Const(states[e.left.fact] == e.right.value, span=e.span, kind="bool")
        return e

    def visit_junction(self, e: And[CheckedExpr] | Or[CheckedExpr], states: Mapping[str, bool]) -> CheckedExpr:
        """``and`` or ``or``: each operand rewritten."""
        return attrs.evolve(e, operands=tuple(self.visit(o, states) for o in e.operands))

    def visit_unchanged(self, e: CheckedExpr, states: Mapping[str, bool]) -> CheckedExpr:
        """A condition that cannot hold the scenario condition: as it is."""
        return e

    visit_And = visit_Or = visit_junction
    visit_Member = visit_Presence = visit_Not = visit_Implies = visit_Conditional = visit_unchanged
    visit_Quantified = visit_DefinitionRef = visit_Const = visit_unchanged


_ASSUMED = _Assumed()


def children(node: object) -> tuple:
    """The direct child nodes of a node (attrs fields holding nodes or tuples of nodes)."""
    found = []
    for spec in getattr(type(node), "__attrs_attrs__", ()):
        if spec.name in ("span", "spans", "text", "problems"):
            continue
        value = getattr(node, spec.name)
        for item in value if isinstance(value, tuple) else (value,):
            if hasattr(type(item), "__attrs_attrs__"):
                found.append(item)
    return tuple(found)


def walk(*exprs: Expr | None) -> Iterator[object]:
    """Every node of checked expressions, depth first in reading order, each definition's
    body once (a definition used many times is walked once: the walk costs the graph of
    shared definitions, not the tree they expand to)."""
    seen: set[int] = set()
    stack = [e for e in reversed(exprs) if e is not None]
    while stack:
        node = stack.pop()
        if isinstance(node, DefinitionRef):
            if id(node.body) in seen:
                continue
            seen.add(id(node.body))
        yield node
        stack.extend(reversed(children(node)))


def facts_read(*exprs: Expr | None) -> tuple[str, ...]:
    """Every fact a set of checked expressions reads, definitions included, in first-use order."""
    return tuple(dict.fromkeys(node.fact for node in walk(*exprs) if isinstance(node, FactRef)))


def fields_read(*exprs: Expr | None) -> dict[str, tuple[str, ...]]:
    """Per collection fact, the record fields a set of checked expressions reads, definitions included."""
    found: dict[str, dict[str, None]] = {}
    for node in walk(*exprs):
        if isinstance(node, FieldRef):
            found.setdefault(node.collection, {})[node.field] = None
    return {collection: tuple(sorted(fields)) for collection, fields in found.items()}
