"""The interpreter: plain tree-walking, Kleene three-valued, full outcomes.

It is the oracle the compiled evaluator is tested against and the explainer. One walk over a
rule (the interpreter is a ``nodes.Visitor``) records its decision on the given values as a
``Formula``: the leaves it decided (``phrasing.Atom`` for a test, ``Constant`` and
``CollectionAtom`` for the others), each with its truth, joined by ``and``, ``or`` and
``unless`` (an implication's antecedent, cited as context). Kleene evaluation of the formula
gives the verdict and the leaves that decided it; the same formula, evaluated with some
leaves unknown, gives a masked verdict and the decisive reasons. Only the leaves cited are
worded, at the end, by ``phrasing``. Truth values are True, False and None (unknown).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from . import nodes as n
from .outcome import Condition, NoteOutcome, RuleOutcome, Status
from .phrasing import TRUTH_STATUS, Atom, CollectionAtom, Constant, Decided, Phrasing, Truth
from .source import Location, SourceText, Span
from .vocabulary import Vocabulary

Result = tuple[Truth, tuple[Condition, ...]]  # a condition's truth, and the conditions that decided it
# A node of a formula: a leaf's slot number, or (operator, operands): "and" and "or" of a
# tuple of nodes, "unless" of one node (its truth negated, its reasons cited as context).
Node = Any
# A reason is a leaf's slot number times two, plus one when it is cited as context (role
# "when"): a plain int, so the reasons of a definition used many times merge cheaply.
Reason = int
Judged = tuple[Truth, tuple[Reason, ...]]  # a node's truth and the reasons that decided it
_Shared = TypeVar("_Shared")  # what ``_shared`` keeps: a formula's node


class _Item:
    """A quantifier variable's binding: which record of which collection."""

    __slots__ = ("collection", "index", "record")

    def __init__(self, collection: str, index: int, record: Mapping[str, Any]) -> None:
        self.collection, self.index, self.record = collection, index, record


Values = Mapping[str, Any]  # fact name → typed value
Env = dict[str, _Item]  # quantifier variable → its binding


class Recording:
    """What one walk decided: each leaf in a slot (its record, and so its truth), and the memo
    that records each definition once."""

    __slots__ = ("leaves", "memo")

    def __init__(self) -> None:
        self.leaves: list[Decided] = []
        self.memo: dict = {}

    def slot(self, leaf: Decided) -> int:
        """A new slot holding ``leaf``: its number, the formula's node for it."""
        self.leaves.append(leaf)
        return len(self.leaves) - 1


class Formula:
    """A rule's decision on fixed values, recorded once by the interpreter's walk: the node of
    its applicability (None without one) and of its requirements, over one ``Recording``.

    The requirements are recorded when first asked for: a rule that does not apply is decided
    without them.
    """

    def __init__(self, interp: Interpreter, rule: n.CheckedRule, values: Values) -> None:
        self.interp = interp
        self.rule = rule
        self.values = values
        self.recording = Recording()
        self.applicability: Node | None = None
        if rule.applicability is not None:
            self.applicability = interp.record(rule.applicability, values, {}, self.recording)
        self._requirements: Node | None = None

    @property
    def requirements(self) -> Node:
        """The node of the rule's require clauses (their conjunction)."""
        if self._requirements is None:
            record, values, recording = self.interp.record, self.values, self.recording
            self._requirements = ("and", tuple(record(r, values, {}, recording) for r in self.rule.requires))
        return self._requirements

    @property
    def leaves(self) -> list[Decided]:
        """The leaves recorded so far, by slot."""
        return self.recording.leaves


class Interpreter(n.Visitor[Node]):
    """Evaluates checked rules of one ruleset against fact values, with explanations.

    As a visitor it decides conditions, recording what it decided as a formula:
    ``visit(e, values, env, recording)`` (``record``) returns ``e``'s node.
    """

    cannot_meet = (*n.PARSED_LEAVES, n.FactRef, n.FieldRef, n.Count)

    def __init__(self, ruleset: n.CheckedRuleset, vocabulary: Vocabulary, keep: frozenset | None = None) -> None:
        self.ruleset = ruleset
        self.vocabulary = vocabulary
        self.source: SourceText | None = ruleset.text
        self.phrasing = Phrasing(vocabulary, ruleset.text)
        # When set, only these conditions (by ``identity``) keep their truth; the rest are unknown.
        self.keep = keep

    def masked(self, keep: Iterable[Condition]) -> Interpreter:
        """An interpreter that treats every condition outside ``keep`` as unknown."""
        return Interpreter(self.ruleset, self.vocabulary, frozenset(identity(c) for c in keep))

    # --- rules
    def evaluate(self, rule: n.CheckedRule, values: Values) -> RuleOutcome:
        """The verdict of ``rule`` on ``values`` (fact name → typed value), with reasons."""
        formula = Formula(self, rule, values)
        status, cited = self.judged(formula)
        reasons = self.worded(formula.leaves, cited)
        if status in (Status.FAIL, Status.NOT_APPLICABLE) and len(reasons) > 1:
            decisive = set(self.minimal_reasons(formula, status, reasons))
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
        formula = Formula(self, rule, values)
        status, cited = self.judged(formula)
        return status, self.worded(formula.leaves, cited)

    def judged(self, formula: Formula) -> tuple[Status, tuple[Reason, ...]]:
        """Status and deciding leaves of a rule's formula, as this interpreter sees its leaves."""
        seen: list[Truth] = []
        applies: Truth = True
        because: tuple[Reason, ...] = ()
        if formula.applicability is not None:
            applies, reasons = _judge(formula.applicability, self.seen(formula.leaves, seen), {})
            because = _in_context(reasons)
            if applies is False:
                return Status.NOT_APPLICABLE, because
        holds, reasons = _judge(formula.requirements, self.seen(formula.leaves, seen), {})
        status = _status(applies, holds)
        if status is Status.FAIL or (status is Status.UNKNOWN and applies is None):
            # A failure needs both: the rule applies, and a requirement does not hold; where
            # it may not apply and does not pass, the missing facts of both decide.
            return status, tuple(dict.fromkeys((*because, *reasons)))
        return status, reasons

    def minimal_reasons(
        self, formula: Formula, status: Status, reasons: tuple[Condition, ...]
    ) -> tuple[Condition, ...]:
        """A smallest-by-deletion subset of ``reasons`` that alone forces ``status``.

        Sufficiency is checked by re-evaluating with every other condition unknown; Kleene
        logic is sound for that (a verdict forced with unknowns holds for every value), so a
        kept set decides the verdict whatever the uncited conditions are.

        Conditions are dropped in order, as one by one, but a block of them is tried at once
        (halved when it cannot all go), and the verdict is re-evaluated on the rule's recorded
        formula, not by walking the rule again: a rule with thousands of failing conditions
        costs a few dozen cheap evaluations. Past ``MAX_REASON_WORK`` node evaluations the
        conditions not yet tried are kept: still sufficient, perhaps not minimal.
        """
        deletion = _Deletion(formula, status, self.phrasing)
        kept = deletion.run([identity(c) for c in reasons])
        return tuple(reasons[i] for i in kept)

    def note(self, rule: n.CheckedRule, values: Values) -> NoteOutcome:
        """Whether an informational note applies."""
        applies = True if rule.applicability is None else self.truth(rule.applicability, values, {})
        return NoteOutcome(self.ruleset.id, rule.id, rule.title, rule.encodes, applies, rule.rationale)

    # --- conditions
    def decide(self, e: n.CheckedExpr, values: Values, env: Env) -> Result:
        """Truth of a condition and the atomic conditions that decided it, worded."""
        recording = Recording()
        node = self.record(e, values, env, recording)
        truth, cited = _judge(node, self.seen(recording.leaves, []), {})
        return truth, self.worded(recording.leaves, cited)

    def seen(self, leaves: list[Decided], seen: list[Truth]) -> list[Truth]:
        """``seen`` extended to every leaf: each leaf's truth as this interpreter sees it (``kept``)."""
        kept = self.kept
        seen.extend([kept(leaf.truth, leaf) for leaf in leaves[len(seen) :]])
        return seen

    def kept(self, truth: Truth, leaf: Decided) -> Truth:
        """A leaf's truth, or unknown when a mask leaves its condition out."""
        if self.keep is not None and identity(self.phrasing.worded(leaf)) not in self.keep:
            return None
        return truth

    def worded(self, leaves: list[Decided], cited: tuple[Reason, ...]) -> tuple[Condition, ...]:
        """The cited leaves as conditions in the admin's words, each condition once, in order.

        Worded first, then merged, as the conditions a report shows: two leaves worded alike
        (one test under two bindings it does not read) are one condition.
        """
        conditions = []
        for reason in cited:
            condition = self.phrasing.worded(leaves[reason >> 1])
            conditions.append(attrs.evolve(condition, role="when") if reason & 1 else condition)
        return tuple(dict.fromkeys(conditions))

    # --- the walk: each condition's node, its leaves decided and recorded
    def record(self, e: n.CheckedExpr, values: Values, env: Env, recording: Recording) -> Node:
        """The formula's node of condition ``e``, its leaves decided on ``values`` into ``recording``.

        ``recording.memo`` keeps each definition's node: definitions are closed, so a
        definition used many times (``define d2 = d1 and d1``) is decided once.
        """
        # ``handlers`` directly rather than ``visit``: one call per node (the interpreter's hot path).
        return self.handlers[e.__class__](self, e, values, env, recording)

    def visit_And(self, e: n.And, values: Values, env: Env, recording: Recording) -> Node:
        handlers = self.handlers
        return ("and", tuple([handlers[o.__class__](self, o, values, env, recording) for o in e.operands]))

    def visit_Or(self, e: n.Or, values: Values, env: Env, recording: Recording) -> Node:
        handlers = self.handlers
        return ("or", tuple([handlers[o.__class__](self, o, values, env, recording) for o in e.operands]))

    def visit_Not(self, e: n.Not, values: Values, env: Env, recording: Recording) -> Node:
        # Decided as the negated condition, so each reason says what the rule needs in
        # the condition's own words ("earlier than 1809", "anything but Standard user").
        memo = recording.memo
        return _shared(memo, e, lambda: self.record(_negation(memo, e), values, env, recording))

    def visit_Implies(self, e: n.Implies, values: Values, env: Env, recording: Recording) -> Node:
        return self.implies(e.antecedent, e.consequent, values, env, recording)

    def visit_Conditional(self, e: n.Conditional, values: Values, env: Env, recording: Recording) -> Node:
        then = self.implies(e.condition, e.then, values, env, recording)
        return ("and", (then, self.implies(n.Not(e.condition), e.otherwise, values, env, recording)))

    def visit_DefinitionRef(self, e: n.DefinitionRef, values: Values, env: Env, recording: Recording) -> Node:
        return _shared(recording.memo, e, lambda: self.record(e.body, values, env, recording))

    def visit_Quantified(self, e: n.Quantified, values: Values, env: Env, recording: Recording) -> Node:
        items, fact = self.value(e.collection, values, env)
        if items is None:
            return recording.slot(CollectionAtom(e, None, fact, self.excerpt(e)))
        if not items:
            return recording.slot(CollectionAtom(e, e.quantifier == "all", fact, self.excerpt(e)))
        record = self.record
        parts = tuple(
            [record(e.body, values, {**env, e.var: _Item(fact, i, item)}, recording) for i, item in enumerate(items)]
        )
        return ("and" if e.quantifier == "all" else "or", parts)

    def visit_Const(self, e: n.Const, values: Values, env: Env, recording: Recording) -> Node:
        return recording.slot(Constant(e, e.value, self.excerpt(e)))

    def visit_Compare(self, e: n.Compare, values: Values, env: Env, recording: Recording) -> Node:
        return recording.slot(self.compare_atom(e, values, env))

    def visit_Member(self, e: n.Member, values: Values, env: Env, recording: Recording) -> Node:
        return recording.slot(self.member_atom(e, values, env))

    def visit_Presence(self, e: n.Presence, values: Values, env: Env, recording: Recording) -> Node:
        return recording.slot(self.presence_atom(e, values, env))

    def implies(
        self, antecedent: n.CheckedExpr, consequent: n.CheckedExpr, values: Values, env: Env, recording: Recording
    ) -> Node:
        """``antecedent implies consequent``: the antecedent is context, not something the rule
        needs: its conditions say when the consequent applies ("the rule applies: Signed-in
        user role is Standard user")."""
        context = ("unless", self.record(antecedent, values, env, recording))
        return ("or", (context, self.record(consequent, values, env, recording)))

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

    def value(self, e: n.CheckedExpr, values: Values, env: Env) -> tuple[Any, str]:
        """A value and the name of the fact it comes from ('' for a constant)."""
        return _OPERAND_HANDLERS[e.__class__](_OPERAND, e, self, values, env)  # one call: a hot path

    def count(self, e: n.Count, values: Values, env: Env) -> tuple[Any, str]:
        """``count(collection)``, or how many of its records meet the count's condition."""
        items, fact = self.value(e.collection, values, env)
        if items is None or e.var is None or e.body is None:
            return (None if items is None else len(items)), fact
        # A comparison with a count is one condition: its body is never masked.
        body, var = e.body, e.var
        truths = [self.truth(body, values, {**env, var: _Item(fact, i, r)}, masked=False) for i, r in enumerate(items)]
        return (None if None in truths else sum(1 for t in truths if t)), fact

    def truth(self, e: n.CheckedExpr, values: Values, env: Env, *, masked: bool = True) -> Truth:
        """The truth of condition ``e``, as this interpreter sees its leaves (``masked``) or as they are."""
        recording = Recording()
        node = self.record(e, values, env, recording)
        truths = self.seen(recording.leaves, []) if masked else [leaf.truth for leaf in recording.leaves]
        return _Truths(truths).of(node)

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


def _shared(memo: dict, e: n.CheckedExpr, decide: Callable[[], _Shared]) -> _Shared:
    """The node of a definition (or of its negation), recorded once per ``memo``; any other
    node is recorded each time (it may read a quantifier's variable)."""
    target = e.operand if isinstance(e, n.Not) else e
    if not isinstance(target, n.DefinitionRef):
        return decide()
    key = (target is not e, id(target.body))
    found = memo.get(key)
    if found is None:
        found = memo[key] = decide()
    return found


def _judge(node: Node, truths: list[Truth], memo: dict[int, Judged]) -> Judged:
    """Kleene truth of a formula's node, given each leaf's truth, and the reasons that decided
    it: of ``and`` and ``or``, the operands whose truth is the result's (a false ``and``'s
    false operands, an unknown one's unknown operands, a true one's all). A node met twice
    (a shared definition) is judged once per ``memo``."""
    if node.__class__ is int:
        return truths[node], (node << 1,)
    found = memo.get(id(node))
    if found is None:
        op, parts = node
        if op == "unless":
            truth, reasons = _judge(parts, truths, memo)
            found = (None if truth is None else not truth), _in_context(reasons)
        else:
            judged = [_judge(part, truths, memo) for part in parts]
            truth = _kleene(op, [j[0] for j in judged])
            found = truth, tuple(dict.fromkeys([r for j in judged if j[0] is truth for r in j[1]]))
        memo[id(node)] = found
    return found


def _in_context(reasons: tuple[Reason, ...]) -> tuple[Reason, ...]:
    """``reasons`` cited as context (role "when"), each once."""
    return tuple(dict.fromkeys([reason | 1 for reason in reasons]))


def _status(applies: Truth, holds: Truth) -> Status:
    """The verdict of a rule that may apply (``applies`` not false) whose requirements are ``holds``."""
    if applies is None and holds is not True:
        return Status.UNKNOWN  # it may not apply, and it does not pass: the missing facts decide
    return TRUTH_STATUS[holds]


class _Truths:
    """Kleene truth of a formula's nodes (``of``), given each leaf's truth: the truth part of
    ``_judge``, without reasons, counting the nodes it evaluates (``work``)."""

    __slots__ = ("memo", "truths", "work")

    def __init__(self, truths: list[Truth], work: int = 0) -> None:
        self.truths = truths
        self.memo: dict[int, Truth] = {}
        self.work = work

    def of(self, node: Node) -> Truth:
        """The truth of ``node``."""
        self.work += 1
        if node.__class__ is int:
            return self.truths[node]
        if id(node) in self.memo:
            return self.memo[id(node)]
        op, parts = node
        if op == "unless":
            inner = self.of(parts)
            found = None if inner is None else not inner
        else:
            found = _kleene(op, [self.of(p) for p in parts])
        self.memo[id(node)] = found
        return found


# How many node evaluations the search for decisive reasons may spend on one verdict.
MAX_REASON_WORK = 2_000_000


class _Deletion:
    """Deletion of conditions that are not needed to force a verdict, evaluated on a rule's
    formula: in order, a block at a time (a block that cannot all go is halved), which drops
    exactly what dropping them one by one would, since a superset of a sufficient set is
    sufficient. A condition is known when its identity is kept (as ``Interpreter.masked``)."""

    def __init__(self, formula: Formula, status: Status, phrasing: Phrasing) -> None:
        self.formula = formula
        self.status = status
        self.requirements = formula.requirements  # recorded before the leaves are read
        self.truths = [leaf.truth for leaf in formula.leaves]
        self.identities = [identity(phrasing.worded(leaf)) for leaf in formula.leaves]
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
        """The verdict with every condition outside ``keep`` unknown."""
        known = [t if i in keep else None for t, i in zip(self.truths, self.identities)]
        truths = _Truths(known, self.work)
        applies: Truth = True
        if self.formula.applicability is not None:
            applies = truths.of(self.formula.applicability)
            if applies is False:
                self.work = truths.work
                return Status.NOT_APPLICABLE
        holds = truths.of(self.requirements)
        self.work = truths.work
        return _status(applies, holds)


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


def identity(condition: Condition) -> tuple:
    """What makes two condition records the same condition for a mask, seen through ``not``
    or not: the fact, the place and text in the rule, and the value as shown."""
    return (condition.fact, condition.span, condition.text, condition.actual)
