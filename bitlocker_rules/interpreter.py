"""The interpreter: plain tree-walking, Kleene three-valued, full outcomes.

It is the oracle the compiled evaluator is tested against and the explainer: for every
verdict it returns the atomic conditions that decided it, each an ``Atom`` of what it read,
worded into a ``Condition`` by ``phrasing``. Truth values are True, False and None (unknown).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from . import nodes as n
from .outcome import Condition, NoteOutcome, RuleOutcome, Status
from .phrasing import TRUTH_STATUS, Atom, Phrasing, Truth
from .source import Location, SourceText, Span
from .vocabulary import Vocabulary

Result = tuple[Truth, tuple[Condition, ...]]
_Decided = TypeVar("_Decided")  # what a walk decides: a Result, or a formula's node


class _Item:
    """A quantifier variable's binding: which record of which collection."""

    __slots__ = ("collection", "index", "record")

    def __init__(self, collection: str, index: int, record: Mapping[str, Any]) -> None:
        self.collection, self.index, self.record = collection, index, record


Values = Mapping[str, Any]  # fact name → typed value
Env = dict[str, _Item]  # quantifier variable → its binding


class Interpreter(n.Visitor[Result]):
    """Evaluates checked rules of one ruleset against fact values, with explanations.

    As a visitor it decides conditions: ``visit(e, values, env, memo)`` is ``decide``.
    """

    cannot_meet = (*n.PARSED_LEAVES, n.FactRef, n.FieldRef, n.Count)

    def __init__(self, ruleset: n.CheckedRuleset, vocabulary: Vocabulary, keep: frozenset | None = None) -> None:
        self.ruleset = ruleset
        self.vocabulary = vocabulary
        self.source: SourceText | None = ruleset.text
        self.phrasing = Phrasing(vocabulary, ruleset.text)
        # When set, only these conditions (by identity) keep their truth; the rest are unknown.
        self.keep = keep

    def masked(self, keep: Iterable[Condition]) -> Interpreter:
        """An interpreter that treats every condition outside ``keep`` as unknown."""
        return Interpreter(self.ruleset, self.vocabulary, frozenset(_identity(c) for c in keep))

    # --- rules
    def evaluate(self, rule: n.CheckedRule, values: Values) -> RuleOutcome:
        """The verdict of ``rule`` on ``values`` (fact name → typed value), with reasons."""
        status, reasons = self.verdict(rule, values)
        if status in (Status.FAIL, Status.NOT_APPLICABLE) and len(reasons) > 1:
            decisive = set(self.minimal_reasons(rule, values, status, reasons))
            reasons = tuple(attrs.evolve(c, decisive=c in decisive) for c in reasons)
        else:
            reasons = tuple(attrs.evolve(c, decisive=True) for c in reasons)
        applies_because: tuple[Condition, ...] = ()
        if status is Status.FAIL:
            # Why it applies is context; the reasons are the requirements that do not hold.
            applies_because = tuple(c for c in reasons if c.role == "when")
            reasons = tuple(c for c in reasons if c.role != "when")
        status, caveat = caveated(rule, status)
        return RuleOutcome(
            ruleset=self.ruleset.id,
            rule=rule.id,
            title=rule.title,
            severity=rule.severity,
            encodes=rule.encodes,
            status=status,
            reasons=reasons,
            applies_because=applies_because,
            remediation=rule.remediation,
            events=rule.events,
            location=self.location(rule.span),
            related=rule.related,
            scenarios=rule.scenarios,
            caveat=caveat,
        )

    def verdict(self, rule: n.CheckedRule, values: Values) -> tuple[Status, tuple[Condition, ...]]:
        """Status and deciding conditions; applicability first, then the requirements."""
        applies: Result = (True, ())
        memo: dict = {}
        if rule.applicability is not None:
            truth, reasons = self.decide(rule.applicability, values, {}, memo)
            applies = truth, tuple(attrs.evolve(c, role="when") for c in reasons)
            if applies[0] is False:
                return Status.NOT_APPLICABLE, _once(applies[1])
        truth, reasons = _all([self.decide(r, values, {}, memo) for r in rule.requires])
        if applies[0] is None and truth is not True:
            # It may not apply, and it does not pass: the missing facts decide.
            return Status.UNKNOWN, _once(applies[1] + reasons)
        if truth is False:
            # A failure needs both: the rule applies, and a requirement does not hold.
            return Status.FAIL, _once(applies[1] + reasons)
        return TRUTH_STATUS[truth], reasons

    def minimal_reasons(
        self, rule: n.CheckedRule, values: Values, status: Status, reasons: tuple[Condition, ...]
    ) -> tuple[Condition, ...]:
        """A smallest-by-deletion subset of ``reasons`` that alone forces ``status``.

        Sufficiency is checked by re-evaluating with every other condition unknown; Kleene
        logic is sound for that (a verdict forced with unknowns holds for every value), so a
        kept set decides the verdict whatever the uncited conditions are.

        Conditions are dropped in order, as one by one, but a block of them is tried at once
        (halved when it cannot all go), and the verdict is re-evaluated on a recorded formula
        of the rule's atoms, not by walking the rule again: a rule with thousands of failing
        conditions costs a few dozen cheap evaluations. Past ``MAX_REASON_WORK`` atom
        evaluations the conditions not yet tried are kept: still sufficient, perhaps not minimal.
        """
        formula = _Formula.record(self, rule, values)
        kept = _Deletion(formula, status).run([_identity(c) for c in reasons])
        return tuple(reasons[i] for i in kept)

    def note(self, rule: n.CheckedRule, values: Values) -> NoteOutcome:
        """Whether an informational note applies."""
        applies = True if rule.applicability is None else self.decide(rule.applicability, values, {})[0]
        return NoteOutcome(self.ruleset.id, rule.id, rule.title, rule.encodes, applies, rule.rationale)

    # --- expressions
    def decide(self, e: n.CheckedExpr, values: Values, env: Env, memo: dict | None = None) -> Result:
        """Truth of a condition and the atomic conditions that decided it.

        ``memo`` keeps each definition's result for one set of ``values``: definitions are
        closed, so a definition used many times (``define d2 = d1 and d1``) is decided once.
        """
        # ``handlers`` directly rather than ``visit``: one call per node, as the tree walk was
        # before it was a visitor (this is the interpreter's hot path; the handlers do the same).
        return self.handlers[e.__class__](self, e, values, env, {} if memo is None else memo)

    def visit_And(self, e: n.And, values: Values, env: Env, memo: dict) -> Result:
        handlers = self.handlers
        return _all([handlers[o.__class__](self, o, values, env, memo) for o in e.operands])

    def visit_Or(self, e: n.Or, values: Values, env: Env, memo: dict) -> Result:
        handlers = self.handlers
        return _any([handlers[o.__class__](self, o, values, env, memo) for o in e.operands])

    def visit_Not(self, e: n.Not, values: Values, env: Env, memo: dict) -> Result:
        # Decided as the negated condition, so each reason says what the rule needs in
        # the condition's own words ("earlier than 1809", "anything but Standard user").
        return _shared(memo, e, lambda: self.decide(_negation(memo, e), values, env, memo))

    def visit_Implies(self, e: n.Implies, values: Values, env: Env, memo: dict) -> Result:
        return self.implies(e.antecedent, e.consequent, values, env, memo)

    def visit_Conditional(self, e: n.Conditional, values: Values, env: Env, memo: dict) -> Result:
        return _all(
            [
                self.implies(e.condition, e.then, values, env, memo),
                self.implies(n.Not(e.condition), e.otherwise, values, env, memo),
            ]
        )

    def visit_DefinitionRef(self, e: n.DefinitionRef, values: Values, env: Env, memo: dict) -> Result:
        return _shared(memo, e, lambda: self.decide(e.body, values, env, memo))

    def visit_Quantified(self, e: n.Quantified, values: Values, env: Env, memo: dict) -> Result:
        return self.quantified(e, values, env, memo)

    def visit_Const(self, e: n.Const, values: Values, env: Env, memo: dict) -> Result:
        return self.kept(e.value, self.constant_condition(e))

    def visit_Compare(self, e: n.Compare, values: Values, env: Env, memo: dict | None = None) -> Result:
        return self.judged(self.compare_atom(e, values, env))

    def visit_Member(self, e: n.Member, values: Values, env: Env, memo: dict | None = None) -> Result:
        return self.judged(self.member_atom(e, values, env))

    def visit_Presence(self, e: n.Presence, values: Values, env: Env, memo: dict | None = None) -> Result:
        return self.judged(self.presence_atom(e, values, env))

    def implies(
        self, antecedent: n.CheckedExpr, consequent: n.CheckedExpr, values: Values, env: Env, memo: dict | None = None
    ) -> Result:
        # The antecedent is context, not something the rule needs: its conditions say when the
        # consequent applies ("the rule applies: Signed-in user role is Standard user").
        memo = {} if memo is None else memo
        truth, reasons = self.decide(antecedent, values, env, memo)
        context = (None if truth is None else not truth), tuple(attrs.evolve(c, role="when") for c in reasons)
        return _any([context, self.decide(consequent, values, env, memo)])

    def quantified(self, e: n.Quantified, values: Values, env: Env, memo: dict | None = None) -> Result:
        items, fact = self.value(e.collection, values, env)
        if items is None:
            return self.kept(None, self.missing_condition(e, fact))
        results = [
            self.decide(e.body, values, {**env, e.var: _Item(fact, i, record)}, memo) for i, record in enumerate(items)
        ]
        if not results:
            empty = e.quantifier == "all"
            return self.kept(empty, self.empty_condition(e, fact, empty))
        return _all(results) if e.quantifier == "all" else _any(results)

    # --- atoms: what each read and its truth (Kleene: unknown when a value is missing)
    def compare_atom(self, e: n.Compare, values: Values, env: Env) -> Atom:
        """``left op right``."""
        left, right = self.value(e.left, values, env), self.value(e.right, values, env)
        truth = None if left[0] is None or right[0] is None else e.op.function(left[0], right[0])
        return Atom(e, truth, (left, right), self.excerpt(e))

    def member_atom(self, e: n.Member, values: Values, env: Env) -> Atom:
        """``operand in {…}`` (or ``not in``)."""
        operand = self.value(e.operand, values, env)
        truth: Truth = None
        if operand[0] is not None:
            inside = any(operand[0] == item.value for item in e.items)
            truth = not inside if e.negated else inside
        return Atom(e, truth, (operand,), self.excerpt(e))

    def presence_atom(self, e: n.Presence, values: Values, env: Env) -> Atom:
        """``operand is present`` (or ``is missing``): never unknown."""
        operand = self.value(e.operand, values, env)
        present = operand[0] is not None
        return Atom(e, present if e.present else not present, (operand,), self.excerpt(e))

    def judged(self, atom: Atom) -> Result:
        """An atom's result: its truth (as ``kept``) and its condition, worded by the phrasing."""
        return self.kept(atom.truth, self.phrasing.condition(atom))

    def kept(self, truth: Truth, condition: Condition) -> Result:
        """An atom's result, or unknown when a mask leaves this condition out."""
        if self.keep is not None and _identity(condition) not in self.keep:
            return None, (condition,)
        return truth, (condition,)

    def value(self, e: n.CheckedExpr, values: Values, env: Env) -> tuple[Any, str]:
        """A value and the name of the fact it comes from ('' for a constant)."""
        return _OPERAND_HANDLERS[e.__class__](_OPERAND, e, self, values, env)  # one call: a hot path

    def count(self, e: n.Count, values: Values, env: Env) -> tuple[Any, str]:
        items, fact = self.value(e.collection, values, env)
        if items is None or e.var is None or e.body is None:
            return (None if items is None else len(items)), fact
        # A comparison with a count is one condition: its body is never masked.
        whole = self if self.keep is None else Interpreter(self.ruleset, self.vocabulary)
        truths = [whole.decide(e.body, values, {**env, e.var: _Item(fact, i, r)})[0] for i, r in enumerate(items)]
        return (None if None in truths else sum(1 for t in truths if t)), fact

    # --- explanation records (worded by ``phrasing``)
    def constant_condition(self, e: n.Const) -> Condition:
        """A literal ``true`` or ``false`` written as a condition."""
        return self.phrasing.constant(e, self.excerpt(e))

    def missing_condition(self, e: n.Quantified, fact: str) -> Condition:
        """A quantifier over a missing collection."""
        return self.phrasing.missing_collection(e, fact, self.excerpt(e))

    def empty_condition(self, e: n.Quantified, fact: str, truth: bool) -> Condition:
        """A quantifier over an empty collection."""
        return self.phrasing.empty_collection(e, fact, truth, self.excerpt(e))

    def excerpt(self, e: n.CheckedExpr) -> str:
        """The rule text of ``e`` (printed from the tree when there is no text)."""
        if self.source is None or e.span is None:
            from .printer import print_expr  # noqa: PLC0415 - only trees without rule text need it

            return print_expr(e)
        return self.source.excerpt(e.span)

    def location(self, span: Span | None) -> Location | None:
        """Where ``span`` is in the rule file (None without one)."""
        return self.phrasing.location(span)


class _Operand(n.Visitor[tuple[Any, str]]):
    """An operand's value and the name of the fact it comes from ('' for a constant)."""

    cannot_meet = (*n.PARSED_LEAVES, *n.CONDITIONS)

    def visit_FactRef(self, e: n.FactRef, interp: Interpreter, values: Values, env: Env) -> tuple[Any, str]:
        return values.get(e.fact), e.fact

    def visit_FieldRef(self, e: n.FieldRef, interp: Interpreter, values: Values, env: Env) -> tuple[Any, str]:
        item = env[e.var]
        return item.record.get(e.field), f"{item.collection}[{item.index}].{e.field}"

    def visit_Const(self, e: n.Const, interp: Interpreter, values: Values, env: Env) -> tuple[Any, str]:
        return e.value, ""

    def visit_Count(self, e: n.Count, interp: Interpreter, values: Values, env: Env) -> tuple[Any, str]:
        return interp.count(e, values, env)


_OPERAND = _Operand()
_OPERAND_HANDLERS = _Operand.handlers


def _negation(memo: dict, e: n.Not) -> n.CheckedExpr:
    """``negate(e.operand)``, made once per ``memo`` for each operand. The memo's keys are ids
    of nodes, so the operand and its negation are kept alive with it: no new object may take
    their ids while it lives (a ``Not`` itself may be a temporary, as a conditional makes)."""
    key = ("negation", id(e.operand))
    found = memo.get(key)
    if found is None:
        found = memo[key] = (e.operand, n.negate(e.operand))
    return found[1]


def _shared(memo: dict, e: n.CheckedExpr, decide: Callable[[], _Decided]) -> _Decided:
    """The result of a definition (or of its negation), decided once per ``memo``; any other
    node is decided each time (it may read a quantifier's variable)."""
    target = e.operand if isinstance(e, n.Not) else e
    if not isinstance(target, n.DefinitionRef):
        return decide()
    key = (target is not e, id(target.body))
    found = memo.get(key)
    if found is None:
        found = memo[key] = decide()
    return found


# How many atom evaluations the search for decisive reasons may spend on one verdict.
MAX_REASON_WORK = 2_000_000

_Node = Any  # a slot number (an atom), or (operator, operands)


class _Formula(n.Visitor[_Node]):
    """A rule's verdict on fixed values as a formula over its atoms, recorded once: which
    condition each atom gives (by identity) and its truth. The verdict with some conditions
    made unknown (a masked interpreter's) is then a cheap walk of the formula.

    The recording follows ``Interpreter.decide`` node for node: ``visit(e, env)``.
    """

    cannot_meet = (*n.PARSED_LEAVES, n.FactRef, n.FieldRef, n.Count)

    def __init__(self, interp: Interpreter, values: Values) -> None:
        self.interp = interp
        self.values = values
        self.slots: list[tuple] = []  # identity of each atom's condition
        self.truths: list[Truth] = []
        self.app: _Node | None = None
        self.reqs: _Node = ("and", ())
        self.memo: dict = {}

    @classmethod
    def record(cls, interp: Interpreter, rule: n.CheckedRule, values: Values) -> _Formula:
        """The formula of ``rule`` on ``values``."""
        formula = cls(interp, values)
        if rule.applicability is not None:
            formula.app = formula.visit(rule.applicability, {})
        formula.reqs = ("and", tuple(formula.visit(r, {}) for r in rule.requires))
        return formula

    def visit_And(self, e: n.And, env: Env) -> _Node:
        return ("and", tuple(self.visit(o, env) for o in e.operands))

    def visit_Or(self, e: n.Or, env: Env) -> _Node:
        return ("or", tuple(self.visit(o, env) for o in e.operands))

    def visit_Not(self, e: n.Not, env: Env) -> _Node:
        return _shared(self.memo, e, lambda: self.visit(_negation(self.memo, e), env))

    def visit_Implies(self, e: n.Implies, env: Env) -> _Node:
        return self.implies(e.antecedent, e.consequent, env)

    def visit_Conditional(self, e: n.Conditional, env: Env) -> _Node:
        return ("and", (self.implies(e.condition, e.then, env), self.implies(n.Not(e.condition), e.otherwise, env)))

    def visit_DefinitionRef(self, e: n.DefinitionRef, env: Env) -> _Node:
        return _shared(self.memo, e, lambda: self.visit(e.body, env))

    def visit_Const(self, e: n.Const, env: Env) -> _Node:
        return self.slot(e.value, self.interp.constant_condition(e))

    def visit_Compare(self, e: n.Compare, env: Env) -> _Node:
        return self.atom(self.interp.compare_atom(e, self.values, env))

    def visit_Member(self, e: n.Member, env: Env) -> _Node:
        return self.atom(self.interp.member_atom(e, self.values, env))

    def visit_Presence(self, e: n.Presence, env: Env) -> _Node:
        return self.atom(self.interp.presence_atom(e, self.values, env))

    def atom(self, atom: Atom) -> _Node:
        """An atom's slot, with its truth and condition as the interpreter gives them."""
        return self.slot(atom.truth, self.interp.phrasing.condition(atom))

    def implies(self, antecedent: n.CheckedExpr, consequent: n.CheckedExpr, env: Env) -> _Node:
        return ("or", (("not", self.visit(antecedent, env)), self.visit(consequent, env)))

    def visit_Quantified(self, e: n.Quantified, env: Env) -> _Node:
        interp = self.interp
        items, fact = interp.value(e.collection, self.values, env)
        if items is None:
            return self.slot(None, interp.missing_condition(e, fact))
        if not items:
            empty = e.quantifier == "all"
            return self.slot(empty, interp.empty_condition(e, fact, empty))
        parts = tuple(self.visit(e.body, {**env, e.var: _Item(fact, i, record)}) for i, record in enumerate(items))
        return ("and" if e.quantifier == "all" else "or", parts)

    def slot(self, truth: Truth, condition: Condition) -> int:
        self.slots.append(_identity(condition))
        self.truths.append(truth)
        return len(self.slots) - 1


class _Deletion:
    """Deletion of conditions that are not needed to force a verdict, evaluated on a formula:
    in order, a block at a time (a block that cannot all go is halved), which drops exactly
    what dropping them one by one would, since a superset of a sufficient set is sufficient."""

    def __init__(self, formula: _Formula, status: Status) -> None:
        self.formula = formula
        self.status = status
        self.work = 0

    def run(self, identities: list[tuple]) -> list[int]:
        """The positions of the conditions kept, given each condition's identity in order."""
        everything = list(range(len(identities)))
        return self.drop(everything, everything, identities)

    def drop(self, kept: list[int], block: list[int], identities: list[tuple]) -> list[int]:
        if not block or self.work > MAX_REASON_WORK:
            return kept
        gone = set(block)
        trial = [i for i in kept if i not in gone]
        if trial and self.verdict({identities[i] for i in trial}) is self.status:
            return trial
        if len(block) == 1:
            return kept
        half = len(block) // 2
        kept = self.drop(kept, block[:half], identities)
        return self.drop(kept, block[half:], identities)

    def verdict(self, keep: set[tuple]) -> Status:
        """The verdict with every condition outside ``keep`` unknown (as ``Interpreter.masked``)."""
        f = self.formula
        memo: dict[int, Truth] = {}
        applies: Truth = True
        if f.app is not None:
            applies = self.truth(f.app, keep, memo)
            if applies is False:
                return Status.NOT_APPLICABLE
        holds = self.truth(f.reqs, keep, memo)
        if applies is None and holds is not True:
            return Status.UNKNOWN
        return TRUTH_STATUS[holds]

    def truth(self, node: _Node, keep: set[tuple], memo: dict[int, Truth]) -> Truth:
        self.work += 1
        if isinstance(node, int):
            return self.formula.truths[node] if self.formula.slots[node] in keep else None
        if id(node) in memo:
            return memo[id(node)]
        op, parts = node
        if op == "not":
            inner = self.truth(parts, keep, memo)
            found = None if inner is None else not inner
        else:
            found = _kleene(op, [self.truth(p, keep, memo) for p in parts])
        memo[id(node)] = found
        return found


def _kleene(op: str, truths: list[Truth]) -> Truth:
    """Kleene conjunction ("and") or disjunction ("or") of truth values."""
    decisive, other = (False, True) if op == "and" else (True, False)
    if decisive in truths:
        return decisive
    return None if None in truths else other


def caveated(rule: n.CheckedRule, status: Status) -> tuple[Status, str]:
    """The reported verdict: a disputed rule's failure and an unconfirmed rule's pass are unknown."""
    if status is Status.FAIL and rule.disputed:
        return Status.UNKNOWN, f"the sources disagree: {rule.disputed}"
    if status is Status.PASS and rule.unconfirmed:
        return Status.UNKNOWN, f"not confirmed by the sources: {rule.unconfirmed}"
    return status, ""


def _identity(condition: Condition) -> tuple:
    """What makes two condition records the same atom, seen through ``not`` or not."""
    return (condition.fact, condition.span, condition.text, condition.actual)


def _all(results: list[Result]) -> Result:
    """Kleene conjunction; the reasons are the children that decided it."""
    for wanted in (False, None):
        deciding = [r for r in results if r[0] is wanted]
        if deciding:
            return wanted, _union(deciding)
    return True, _union(results)


def _any(results: list[Result]) -> Result:
    """Kleene disjunction; the reasons are the children that decided it."""
    for wanted in (True, None):
        deciding = [r for r in results if r[0] is wanted]
        if deciding:
            return wanted, _union(deciding)
    return False, _union(results)


def _union(results: list[Result]) -> tuple[Condition, ...]:
    """The reasons of several results, each condition once, in order."""
    return _once(c for r in results for c in r[1])


def _once(conditions: Iterable[Condition]) -> tuple[Condition, ...]:
    """Each condition once, in order (``when`` and an ``implies`` may cite the same one)."""
    return tuple(dict.fromkeys(conditions))
