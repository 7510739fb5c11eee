"""Static analysis of checked rules: satisfiability, conflicts, lint, comparison, repair.

Everything here reasons about what rules *mean* (decision 10 of the architecture), with
the reference interpreter's Kleene semantics, and returns records; nothing is printed.

The decision procedure
----------------------
Question: is there an assignment of the free facts (the others are fixed, e.g. to a
device's values) under which every selected rule ends in a wanted verdict? The default
goal is *satisfied*: ``pass`` or ``not_applicable`` (the rule does not fail and is not
unknown). Other goals (``pass``, ``fail``, ``unknown``, ``not_applicable``, ``applicable``
or any set of statuses) serve lint and compare.

Each fact ranges over a finite set of values that represents all of its values exactly:

* a missing fact (``None``) is always one of the values: a fact that is absent is a legal
  state, and ``is missing``, Kleene ``unknown`` and applicability that is unknown all
  depend on it;
* ``bool``: true and false; enums: the members the rules name plus enough unnamed ones;
* ordered facts (integer, decimal, version): every constant compared with them, and for
  every interval between consecutive constants (and below the lowest, above the highest)
  as many representatives as the interval has room for, up to the number of terms
  compared with each other (facts compared with facts share one set of constants);
* strings: the constants plus fresh values ("(other)").

Facts compared with each other (``a == b``, ``x.size > policy.min``) form components
whose terms share their constants and get enough representatives per interval to realise
every order between them, so the truth of every atom is preserved exactly.

Collections are decided exactly for the *record-local* fragment: a quantifier's or
count's body may read the fields of its own variable, facts, and nested quantifiers that
do not read an outer variable. Record types are the referenced fields over their value
sets (each field may be missing); types that every body treats alike, for every value of
the facts the bodies read, are merged into one. A collection is then one of:

* without counts: a set of at most one record per quantifier (any collection can be cut
  down to one witness per quantifier without changing an atom);
* with counts, whichever exact set is smaller: multisets of at most
  ``max(Q + sum(M_b + 2), M_0 + 1)`` records (Q quantifiers, M_b the largest constant a
  ``count(x in c: b)`` is compared with, M_0 the same for ``count(c)``), or, for one count
  expression with any constants, a set of distinct records plus extra copies of one of
  them, as many as reach each interval between the constants; ``count(c) < 200`` thus
  costs a few candidates, not 200 records.

Three things are *refused* with a diagnostic, never guessed: a body that reads the
variable of an outer quantifier (``A101``), a count compared with anything but constants
(``A102``), and a collection whose candidate set would exceed
``MAX_COLLECTION_CANDIDATES`` (``A103``; e.g. several different counts over one
collection with large constants).

Search is backtracking over the free facts, most constrained first (the fact of the open
rule with the fewest unassigned facts, then the smallest value set), with three-valued
partial evaluation for pruning: an unassigned fact is *undetermined* (distinct from
missing); every node evaluates to the set of Kleene values it may still take, and a rule
whose possible verdicts miss the goal cuts the branch. Groups of rules that share no free
fact are searched separately; a failed branch backjumps over facts its conflict does not
involve (conflict-directed backjumping). The search is exhaustive over the finite value
sets, so it is exact: no sampling decides anything (lint samples assignments only to
*refute* implications cheaply; every claim that holds is proved by search). A witness is
re-checked with the real ``Interpreter`` before it is returned. An unsatisfiable set
yields a minimal conflicting subset (QuickXplain, a deletion-based minimisation:
removing any one rule makes the rest satisfiable). Repairs use iterative deepening on
the number of changed settings per independent group, pruned by a lower bound (rules
that fail today and share no setting each need a change of their own).

Lint, compare and repair are built on the procedure; see ``lint``, ``compare``,
``repair`` and ``fleet_repair``. ``findings_to_sarif`` renders lint findings as SARIF 2.1.0.
"""

from __future__ import annotations

import itertools
import math
import operator
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from types import MappingProxyType
from typing import Any

from attrs import field, frozen

from . import nodes as n
from .errors import BitLockerRulesError, Diagnostic
from .interpreter import Interpreter
from .outcome import Condition, Status
from .versions import WindowsVersion
from .vocabulary import Fact, Vocabulary

MAX_COLLECTION_CANDIDATES = 20000
MAX_CONFLICTS = 50

PASS, FAIL, UNKNOWN, NOT_APPLICABLE = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE
SATISFIED = frozenset({PASS, NOT_APPLICABLE})

# --- three-valued masks -----------------------------------------------------------------
# A mask is the set of Kleene values a node may still take: T, F, N (unknown) as bits.

T, F, N = 1, 2, 4
ALL = T | F | N
_TRUTH_BIT = {True: T, False: F, None: N}
_BITS = (T, F, N)


def _and3(a: int, b: int) -> int:
    return F if F in (a, b) else N if N in (a, b) else T


def _or3(a: int, b: int) -> int:
    return T if T in (a, b) else N if N in (a, b) else F


def _not3(a: int) -> int:
    return {T: F, F: T, N: N}[a]


def _table(fn) -> list[list[int]]:
    table = [[0] * 8 for _ in range(8)]
    for x in range(8):
        for y in range(8):
            table[x][y] = _lift(fn, x, y)
    return table


def _lift(fn, x: int, y: int) -> int:
    out = 0
    for a in _BITS:
        if x & a:
            for b in _BITS:
                if y & b:
                    out |= fn(a, b)
    return out


_AND = _table(_and3)
_OR = _table(_or3)
_NOT = [sum(_not3(b) for b in _BITS if x & b) for x in range(8)]

# A rule's state is (applicability, requirements), 9 combinations, each one bit.
_INDEX = {T: 0, F: 1, N: 2}


def _verdict(a: int, r: int) -> Status:
    """The interpreter's verdict for applicability ``a`` and requirement truth ``r``."""
    if a == F:
        return NOT_APPLICABLE
    if a == N:
        return PASS if r == T else UNKNOWN
    return {T: PASS, F: FAIL, N: UNKNOWN}[r]


def _state_bit(a: int, r: int) -> int:
    return 1 << (_INDEX[a] * 3 + _INDEX[r])


_STATES = [[_lift(_state_bit, x, y) for y in range(8)] for x in range(8)]
_ALL_STATES = (1 << 9) - 1


def _status_goal(statuses: Iterable[Status]) -> int:
    wanted = set(statuses)
    return sum(_state_bit(a, r) for a in _BITS for r in _BITS if _verdict(a, r) in wanted)


_APPLICABLE = sum(_state_bit(T, r) for r in _BITS)
_GOAL_WORDS = {
    "satisfied": _status_goal(SATISFIED),
    "not_satisfied": _status_goal({FAIL, UNKNOWN}),
    "applicable": _APPLICABLE,
}


def goal_mask(goal: str | Status | Iterable[Status | str]) -> int:
    """The set of rule states a goal accepts.

    ``"satisfied"`` (pass or not applicable), ``"not_satisfied"`` (fail or unknown),
    ``"applicable"`` (the applicability condition is true), a status or its name
    (``"pass"``, ``"fail"``, ``"unknown"``, ``"not_applicable"``), or a set of these.
    """
    if isinstance(goal, Status):
        return _status_goal({goal})
    if isinstance(goal, str):
        if goal in _GOAL_WORDS:
            return _GOAL_WORDS[goal]
        try:
            return _status_goal({Status(goal)})
        except ValueError:
            raise ValueError(f"unknown goal {goal!r}") from None
    mask = 0
    for item in goal:
        mask |= goal_mask(item)
    return mask


# --- errors -----------------------------------------------------------------------------


class AnalysisError(BitLockerRulesError):
    """Rules the analyser cannot decide exactly (each diagnostic says which construct)."""


class _Unassigned:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<undetermined>"


_UN: Any = _Unassigned()


# --- records -----------------------------------------------------------------------------


@frozen
class Location:
    """A place in a rule file: 1-based lines and columns; the end column is exclusive."""

    path: str
    start_line: int
    start_column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.start_line}:{self.start_column}"


@frozen
class Requirement:
    """What one condition of a rule needs of a fact, in the admin's words.

    ``role`` is ``requires`` (a ``require`` clause) or ``applies when`` (the ``when``
    clause); ``required`` is the interpreter's wording (``anything but Require``,
    ``at least 6``), already turned around where the condition sits under a negation.
    """

    rule: str
    ruleset: str
    fact: str
    label: str
    required: str
    text: str
    role: str = "requires"
    location: Location | None = None

    def sentence(self) -> str:
        """``SE-09 requires Compatible TPM startup PIN to be anything but Require``."""
        verb = "to have" if self.required in ("a value", "no value") else "to be"
        if self.role == "applies when":
            verb = "has" if verb == "to have" else "is"
            return f"{self.rule} applies when {self.label} {verb} {self.required}"
        return f"{self.rule} requires {self.label} {verb} {self.required}"


@frozen
class Witness:
    """A concrete assignment found by the analyser and confirmed by the interpreter.

    ``values`` holds every fact of the assignment that has a value (typed, as the
    evaluators take them); ``missing`` the facts the analyser chose to leave missing;
    ``shown`` (fact, label, value in the admin's words) rows; ``outcomes`` the verdict of
    every rule involved, as the interpreter gives it.
    """

    values: Mapping[str, Any]
    missing: tuple[str, ...] = ()
    shown: tuple[tuple[str, str, str], ...] = ()
    outcomes: tuple[tuple[str, Status], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The assignment as plain JSON values (enum member names, versions as text)."""
        return {name: _raw(value) for name, value in self.values.items()}


def _requirement_dict(r: Requirement) -> dict[str, Any]:
    return {"rule": r.rule, "ruleset": r.ruleset, "fact": r.fact, "label": r.label, "role": r.role,
            "required": r.required, "text": r.text, "sentence": r.sentence(),
            "location": str(r.location) if r.location else None}


def _witness_dict(w: Witness) -> dict[str, Any]:
    return {"values": w.to_json(), "missing": list(w.missing),
            "shown": [{"fact": f, "label": label, "value": shown} for f, label, shown in w.shown],
            "outcomes": {rule: str(status) for rule, status in w.outcomes}}


@frozen
class RuleConflict:
    """Rules that cannot all be satisfied together; removing any one of them resolves it.

    ``device_facts`` (repair only) are the device facts that block: with them free the
    rules could be satisfied; empty when no device could satisfy them.
    """

    rules: tuple[str, ...]
    rulesets: tuple[str, ...]
    requirements: tuple[Requirement, ...] = ()
    device_facts: tuple[str, ...] = ()

    def message(self) -> str:
        """One paragraph: which rules, and condition by condition what each requires."""
        names = [f"{r} ({s})" for r, s in zip(self.rules, self.rulesets)]
        head = (" and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1])
        text = f"{head} cannot all be satisfied together" if len(names) > 2 else f"{head} cannot both be satisfied"
        if self.requirements:
            text += ": " + "; ".join(r.sentence() for r in self.requirements)
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"rules": list(self.rules), "rulesets": list(self.rulesets), "message": self.message(),
                "requirements": [_requirement_dict(r) for r in self.requirements],
                "device_facts": list(self.device_facts)}


@frozen
class Satisfiability:
    """The answer of ``check_satisfiable``: a witness, or a minimal conflicting set of rules."""

    satisfiable: bool
    witness: Witness | None = None
    conflict: RuleConflict | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"satisfiable": self.satisfiable,
                "witness": _witness_dict(self.witness) if self.witness else None,
                "conflict": self.conflict.to_dict() if self.conflict else None}


@frozen
class Finding:
    """One lint result: a code, a severity, a message, the rules and places it concerns."""

    code: str
    severity: str
    message: str
    rules: tuple[str, ...] = ()
    locations: tuple[Location, ...] = ()
    details: Mapping[str, Any] = field(factory=dict)

    @property
    def name(self) -> str:
        """The short name of the finding's code (``never-passes``)."""
        return _CODES.get(self.code, ("checker-error", "", ""))[0]

    def render(self) -> str:
        """``path:line:col: severity[code]: message`` (one line per further location)."""
        where = str(self.locations[0]) if self.locations else "<rules>"
        lines = [f"{where}: {self.severity}[{self.code}]: {self.message}"]
        lines += [f"  see also {loc}" for loc in self.locations[1:]]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        return {
            "code": self.code, "name": self.name, "severity": self.severity, "message": self.message,
            "rules": list(self.rules),
            "locations": [
                {"path": loc.path, "line": loc.start_line, "column": loc.start_column,
                 "end_line": loc.end_line, "end_column": loc.end_column}
                for loc in self.locations
            ],
            "details": dict(self.details),
        }


@frozen
class Difference:
    """An assignment that satisfies one side of a comparison and not the other."""

    satisfies: str
    fails: str
    witness: Witness
    failing_rules: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"satisfies": self.satisfies, "fails": self.fails, "failing_rules": list(self.failing_rules),
                "witness": _witness_dict(self.witness)}


@frozen
class Comparison:
    """``relation`` of A to B: ``stricter`` (A's satisfying set is inside B's), ``looser``,
    ``equivalent`` or ``incomparable``; a witness for each direction that differs."""

    relation: str
    a_not_b: Difference | None = None
    b_not_a: Difference | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"relation": self.relation,
                "a_not_b": self.a_not_b.to_dict() if self.a_not_b else None,
                "b_not_a": self.b_not_a.to_dict() if self.b_not_a else None}


@frozen
class SettingChange:
    """Set ``fact`` (Intune ``label``) from ``old`` to ``new`` (both in the Intune words)."""

    fact: str
    label: str
    old: str
    new: str
    old_value: Any = None
    new_value: Any = None
    alternatives: tuple[str, ...] = ()

    def sentence(self) -> str:
        """``Compatible TPM startup PIN: Require startup PIN with TPM → Do not allow …``."""
        return f"{self.label}: {self.old} → {self.new}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (raw values as the policy JSON writes them)."""
        return {"fact": self.fact, "label": self.label, "old": self.old, "new": self.new,
                "old_value": _raw(self.old_value), "new_value": _raw(self.new_value),
                "alternatives": list(self.alternatives)}


@frozen
class Prerequisite:
    """A rule no policy change can satisfy on this device, and the device facts that block it.

    ``conditions`` are the failing conditions in the evaluator's words; ``needed`` shows,
    per blocking fact, a value under which the rule could be satisfied.
    """

    rule: str
    ruleset: str
    title: str
    facts: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    needed: tuple[tuple[str, str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"rule": self.rule, "ruleset": self.ruleset, "title": self.title, "facts": list(self.facts),
                "conditions": [c.sentence() for c in self.conditions],
                "needed": [{"fact": f, "label": label, "value": shown} for f, label, shown in self.needed]}


@frozen
class Repair:
    """The smallest change to policy settings that satisfies the selected rules on a device.

    ``changes`` is optimal in the number of settings changed, for the rules that a policy
    can satisfy at all on this device. ``prerequisites`` lists rules only a device change
    can satisfy; ``conflicts`` lists minimal sets of rules that no policy satisfies together
    on this device; ``left_out`` the rule of each conflict (its last) that the repair does
    not satisfy. ``outcomes`` are the verdicts after the change.
    """

    changes: tuple[SettingChange, ...]
    prerequisites: tuple[Prerequisite, ...] = ()
    conflicts: tuple[RuleConflict, ...] = ()
    outcomes: tuple[tuple[str, Status], ...] = ()
    left_out: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether the changes alone satisfy every selected rule."""
        return not self.prerequisites and not self.conflicts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"complete": self.complete, "changes": [c.to_dict() for c in self.changes],
                "prerequisites": [p.to_dict() for p in self.prerequisites],
                "conflicts": [c.to_dict() for c in self.conflicts], "left_out": list(self.left_out),
                "outcomes": {rule: str(status) for rule, status in self.outcomes}}


@frozen
class FleetChange:
    """One candidate change across a fleet and how many devices satisfy every rule with it."""

    change: SettingChange | None
    devices_satisfied: int


@frozen
class FleetRepair:
    """The single policy change that makes the most devices satisfy every selected rule."""

    best: FleetChange
    before: int
    total: int
    ranking: tuple[FleetChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        def one(c: FleetChange) -> dict[str, Any]:
            return {"change": c.change.to_dict() if c.change else None, "devices_satisfied": c.devices_satisfied}

        return {"best": one(self.best), "before": self.before, "total": self.total,
                "ranking": [one(c) for c in self.ranking]}


# --- selected rules ------------------------------------------------------------------------


class _Entry:
    """One selected rule with its compiled partial evaluator and static summary."""

    __slots__ = ("index", "ruleset", "rule", "interpreter", "path", "facts", "problems",
                 "app", "reqs", "info", "source")

    def __init__(self, index, ruleset: n.Ruleset, rule: n.Rule, interpreter: Interpreter, path: str) -> None:
        self.index = index
        self.ruleset = ruleset
        self.rule = rule
        self.interpreter = interpreter
        self.path = path
        self.source = ruleset.text
        self.facts = n.facts_read(rule.applicability, *rule.requirements)
        info = _Info(interpreter.vocabulary, ruleset.text)
        for expr in (rule.applicability, *rule.requirements):
            if expr is not None:
                info.walk(expr, ())
        self.info = info
        self.problems = tuple(info.problems)
        if not self.problems:
            compiler = _Compiler()
            self.app = None if rule.applicability is None else compiler.condition(rule.applicability)
            self.reqs = tuple(compiler.condition(r) for r in rule.requirements)

    @property
    def id(self) -> str:
        return self.rule.id

    def state(self, ctx: _Ctx) -> int:
        """The set of (applicability, requirement) states still possible."""
        a = T if self.app is None else self.app(ctx, _EMPTY)
        if a == F:
            return _STATES[F][ALL]
        r = T
        for g in self.reqs:
            m = g(ctx, _EMPTY)
            if m == F:
                r = F
                break
            r = _AND[r][m]
        return _STATES[a][r]


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _entries(rulesets: Iterable[Any], vocabulary: Vocabulary, rules: Iterable[str] | None = None) -> list[_Entry]:
    """Selected rules of LoadedRuleset-like objects (``.ruleset``, ``.path``, ``.interpreter``) or Rulesets."""
    wanted = None if rules is None else set(rules)
    found: list[_Entry] = []
    for item in rulesets:
        ruleset = getattr(item, "ruleset", item)
        interpreter = getattr(item, "interpreter", None) or Interpreter(ruleset, vocabulary)
        path = getattr(item, "path", None) or (ruleset.text.name if ruleset.text else ruleset.id)
        for rule in ruleset.rules:
            if rule.kind != "rule" or (wanted is not None and rule.id not in wanted):
                continue
            found.append(_Entry(len(found), ruleset, rule, interpreter, path))
    if wanted is not None:
        missing = wanted - {e.id for e in found}
        if missing:
            raise AnalysisError([Diagnostic("A001", f"no selected rule called `{r}`") for r in sorted(missing)])
    return found


# --- static summary: terms, constants, collections -------------------------------------------


class _Coll:
    """What the selected rules ask of one collection: fields read, quantifiers, counts."""

    __slots__ = ("fields", "quants", "counts")

    def __init__(self) -> None:
        self.fields: set[str] = set()
        self.quants: list[n.Quantified] = []
        self.counts: list[tuple[n.Count, list]] = []  # distinct count expressions, constants

    def merge(self, other: _Coll) -> None:
        self.fields |= other.fields
        for q in other.quants:
            if q not in self.quants:
                self.quants.append(q)
        for c, consts in other.counts:
            self.add_count(c, consts)

    def add_count(self, count: n.Count, consts: list) -> None:
        for known, values in self.counts:
            if known == count:
                values.extend(consts)
                return
        self.counts.append((count, list(consts)))

    def bound(self) -> int:
        """Records enough for any combination of quantifier and count values (explicit multisets)."""
        witnesses, plain = len(self.quants), 0
        for count, consts in self.counts:
            top = _top(consts)
            if count.body is None:
                plain = top + 1
            else:
                witnesses += top + 2
        return max(witnesses, plain)


def _top(consts: list) -> int:
    return max([math.floor(c) for c in consts if _number(c)] + [0])


def _number(c: Any) -> bool:
    return isinstance(c, (int, float)) and not isinstance(c, bool)


class _Bag(tuple):
    """Distinct records with multiplicities: a collection of many records, stored compactly.

    Quantifiers look at the distinct records, counts add up the multiplicities;
    ``expand`` gives the plain tuple the interpreter reads.
    """

    mult: tuple[int, ...]

    def __new__(cls, records: Iterable[Any], mult: Iterable[int]) -> _Bag:
        bag = super().__new__(cls, records)
        bag.mult = tuple(mult)
        return bag

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Bag) and tuple(self) == tuple(other) and self.mult == other.mult

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def expand(self) -> tuple:
        return tuple(r for r, k in zip(self, self.mult) for _ in range(k))


def _plain(value: Any) -> Any:
    return value.expand() if isinstance(value, _Bag) else value


class _Info:
    """What domain construction needs from a rule: terms, constants, comparisons, collections."""

    def __init__(self, vocabulary: Vocabulary, source) -> None:
        self.vocabulary = vocabulary
        self.source = source
        self.consts: list[tuple[tuple, Any]] = []
        self.edges: list[tuple[tuple, tuple]] = []
        self.terms: set[tuple] = set()
        self.colls: dict[str, _Coll] = {}
        self.problems: list[Diagnostic] = []

    def coll(self, name: str) -> _Coll:
        return self.colls.setdefault(name, _Coll())

    def problem(self, code: str, message: str, node, help: str) -> None:
        self.problems.append(Diagnostic(code, message, severity="warning", source=self.source,
                                        span=getattr(node, "span", None), help=help))

    def walk(self, e, scope: tuple[str, ...]) -> None:
        if isinstance(e, (n.And, n.Or)):
            for o in e.operands:
                self.walk(o, scope)
        elif isinstance(e, n.Not):
            self.walk(e.operand, scope)
        elif isinstance(e, n.Implies):
            self.walk(e.antecedent, scope)
            self.walk(e.consequent, scope)
        elif isinstance(e, n.Conditional):
            for part in (e.condition, e.then, e.otherwise):
                self.walk(part, scope)
        elif isinstance(e, n.DefinitionRef):
            self.walk(e.body, scope)
        elif isinstance(e, n.Quantified):
            if self.collection(e.collection, e):
                self.coll(e.collection.fact).quants.append(e)
            self.walk(e.body, scope + (e.var,))
        elif isinstance(e, n.Compare):
            self.compare(e, scope)
        elif isinstance(e, n.Member):
            if isinstance(e.operand, n.Count):
                self.count(e.operand, [i.value for i in e.items], scope)
            else:
                term = self.term(e.operand, scope)
                if term is not None:
                    self.consts += [(term, i.value) for i in e.items]
        elif isinstance(e, n.Presence):
            self.term(e.operand, scope)
        elif isinstance(e, n.Const):
            pass
        else:
            self.problem("A104", f"the analyser cannot read a {type(e).__name__} here", e,
                         "check the rule with the checker first")

    def collection(self, e, node) -> bool:
        if isinstance(e, n.FactRef):
            return True
        self.problem("A104", "the analyser needs a collection fact here", node, "quantify over a collection fact")
        return False

    def compare(self, e: n.Compare, scope) -> None:
        left, right = e.left, e.right
        for count, other in ((left, right), (right, left)):
            if isinstance(count, n.Count):
                if not isinstance(other, n.Const):
                    self.problem("A102", "a count compared with something other than a constant is outside "
                                 "what the analyser decides", e, "compare count(…) with a number")
                    self.count(count, [], scope)
                    if isinstance(other, n.Count):
                        self.count(other, [], scope)
                    return
                self.count(count, [other.value], scope)
                return
        lt, rt = self.term(left, scope), self.term(right, scope)
        if lt is not None and rt is not None:
            self.edges.append((lt, rt))
        elif lt is not None and isinstance(right, n.Const):
            self.consts.append((lt, right.value))
        elif rt is not None and isinstance(left, n.Const):
            self.consts.append((rt, left.value))

    def count(self, e: n.Count, constants: list, scope) -> None:
        if not self.collection(e.collection, e):
            return
        self.coll(e.collection.fact).add_count(e, [c for c in constants if _number(c)])
        if e.body is not None:
            self.walk(e.body, scope + (e.var,))

    def term(self, e, scope) -> tuple | None:
        if isinstance(e, n.FactRef):
            fact = self.vocabulary.fact(e.fact)
            if fact is not None and fact.type.kind == "collection":
                self.coll(e.fact)
                return None
            term = ("f", e.fact)
            self.terms.add(term)
            return term
        if isinstance(e, n.FieldRef):
            if not scope or e.var != scope[-1]:
                self.problem("A101", f"`{e.var}.{e.field}` reads the record of an outer quantifier; the analyser "
                             "decides quantifiers whose bodies read only their own variable", e,
                             "split the rule, or compare each record with facts and constants")
                return None
            self.coll(e.collection).fields.add(e.field)
            term = ("c", e.collection, e.field)
            self.terms.add(term)
            return term
        return None


# --- compiled partial evaluation ---------------------------------------------------------------


class _Ctx:
    """One search: the assignment (fact → value, None = missing; absent = undetermined)."""

    __slots__ = ("asg", "domains", "cache")

    def __init__(self, asg: dict[str, Any], domains: Mapping[str, tuple]) -> None:
        self.asg = asg
        self.domains = domains
        self.cache: dict[int, int] = {}


Eval = Callable[[_Ctx, Mapping[str, Any]], int]
Get = Callable[[_Ctx, Mapping[str, Any]], Any]
_OPERATORS = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


class _Compiler:
    """Checked expressions → closures that return the mask of still-possible truth values."""

    # Atom keys index the per-search mask cache, shared by every rule: unique per process.
    keys = itertools.count()

    def condition(self, e) -> Eval:
        if isinstance(e, n.And):
            return self.junction([self.condition(o) for o in e.operands], conjunction=True)
        if isinstance(e, n.Or):
            return self.junction([self.condition(o) for o in e.operands], conjunction=False)
        if isinstance(e, n.Not):
            inner = self.condition(e.operand)
            return lambda ctx, env: _NOT[inner(ctx, env)]
        if isinstance(e, n.Implies):
            return self.implies(self.condition(e.antecedent), self.condition(e.consequent))
        if isinstance(e, n.Conditional):
            c, a, b = (self.condition(p) for p in (e.condition, e.then, e.otherwise))

            def conditional(ctx, env):
                m = c(ctx, env)
                return _AND[_OR[_NOT[m]][a(ctx, env)]][_OR[m][b(ctx, env)]]

            return conditional
        if isinstance(e, n.DefinitionRef):
            return self.condition(e.body)
        if isinstance(e, n.Quantified):
            return self.quantified(e)
        if isinstance(e, n.Const):
            bit = _TRUTH_BIT.get(e.value, N)
            return lambda ctx, env: bit
        if isinstance(e, n.Compare):
            return self.compare(e)
        if isinstance(e, n.Member):
            return self.member(e)
        if isinstance(e, n.Presence):
            return self.presence(e)
        raise TypeError(f"not a condition: {type(e).__name__}")

    @staticmethod
    def junction(parts: list[Eval], conjunction: bool) -> Eval:
        stop, start, table = (F, T, _AND) if conjunction else (T, F, _OR)

        def junction(ctx, env):
            acc = start
            for g in parts:
                m = g(ctx, env)
                if m == stop:
                    return stop
                acc = table[acc][m]
            return acc

        return junction

    @staticmethod
    def implies(a: Eval, c: Eval) -> Eval:
        def implies(ctx, env):
            m = a(ctx, env)
            if m == F:
                return T
            return _OR[_NOT[m]][c(ctx, env)]

        return implies

    def quantified(self, e: n.Quantified) -> Eval:
        name, var, body = e.collection.fact, e.var, self.condition(e.body)
        every = e.quantifier == "all"

        def quantified(ctx, env):
            items = ctx.asg.get(name, _UN)
            if items is _UN:
                return ALL
            if items is None:
                return N
            acc = T if every else F
            for record in items:
                m = body(ctx, {**env, var: record})
                if every:
                    if m == F:
                        return F
                    acc = _AND[acc][m]
                else:
                    if m == T:
                        return T
                    acc = _OR[acc][m]
            return acc

        return quantified

    def getter(self, e) -> Get:
        if isinstance(e, n.FactRef):
            name = e.fact
            return lambda ctx, env: ctx.asg.get(name, _UN)
        if isinstance(e, n.FieldRef):
            var, fld = e.var, e.field
            return lambda ctx, env: env[var].get(fld)
        if isinstance(e, n.Const):
            value = e.value
            return lambda ctx, env: value
        if isinstance(e, n.Count):
            return self.count(e)
        raise TypeError(f"not a value: {type(e).__name__}")

    def count(self, e: n.Count) -> Get:
        name, var = e.collection.fact, e.var
        body = None if e.body is None else self.condition(e.body)

        def count(ctx, env):
            items = ctx.asg.get(name, _UN)
            if items is _UN or items is None:
                return items
            mult = getattr(items, "mult", None)
            if body is None:
                return len(items) if mult is None else sum(mult)
            total, unknown, open_ = 0, False, False
            for i, record in enumerate(items):
                m = body(ctx, {**env, var: record})
                if m == T:
                    total += 1 if mult is None else mult[i]
                elif m == N:
                    unknown = True
                elif m != F:
                    open_ = True
            return None if unknown else _UN if open_ else total

        return count

    def atom(self, truth: Callable[[Any, Any], int], left, right) -> Eval:
        """An atom over one or two operands; ``truth(a, b)`` on determined values."""
        gl = self.getter(left)
        gr = self.getter(right) if right is not None else (lambda ctx, env: None)
        lfact = left.fact if isinstance(left, n.FactRef) else None
        rfact = right.fact if isinstance(right, n.FactRef) else None
        lstatic = right is None or isinstance(right, n.Const)
        rstatic = isinstance(left, n.Const)
        key = next(self.keys)

        def atom(ctx, env):
            a = gl(ctx, env)
            b = gr(ctx, env)
            if a is not _UN and b is not _UN:
                return truth(a, b)
            if b is not _UN and lfact is not None:
                return _over(ctx, lfact, key if lstatic else None, lambda v: truth(v, b))
            if a is not _UN and rfact is not None:
                return _over(ctx, rfact, key if rstatic else None, lambda v: truth(a, v))
            return ALL

        return atom

    def compare(self, e: n.Compare) -> Eval:
        op = _OPERATORS[e.op]

        def truth(a, b):
            if a is None or b is None:
                return N
            return T if op(a, b) else F

        return self.atom(truth, e.left, e.right)

    def member(self, e: n.Member) -> Eval:
        items = tuple(i.value for i in e.items)
        negated = e.negated

        def truth(a, _):
            if a is None:
                return N
            inside = any(a == item for item in items)
            return F if inside == negated else T

        return self.atom(truth, e.operand, None)

    def presence(self, e: n.Presence) -> Eval:
        present = e.present

        def truth(a, _):
            return T if (a is not None) == present else F

        return self.atom(truth, e.operand, None)


def _over(ctx: _Ctx, fact: str, key: int | None, truth: Callable[[Any], int]) -> int:
    """The mask of an atom over every value an undetermined fact may still take."""
    if key is not None:
        cached = ctx.cache.get(key)
        if cached is not None:
            return cached
    domain = ctx.domains.get(fact)
    if domain is None:
        return ALL
    mask = 0
    for value in domain:
        mask |= truth(value)
        if mask == ALL:
            break
    if key is not None:
        ctx.cache[key] = mask
    return mask


# --- value sets ------------------------------------------------------------------------------


class _Union:
    def __init__(self) -> None:
        self.parent: dict[tuple, tuple] = {}

    def find(self, x: tuple) -> tuple:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: tuple, b: tuple) -> None:
        self.parent[self.find(a)] = self.find(b)


def _term_type(vocabulary: Vocabulary, term: tuple):
    if term[0] == "f":
        return vocabulary.fact(term[1]).type
    return vocabulary.fact(term[1]).type.field(term[2]).type


def _fresh_strings(consts: set, count: int) -> list[str]:
    out, i = [], 1
    while len(out) < count:
        word = "(other)" if i == 1 else f"(other {i})"
        if word not in consts:
            out.append(word)
        i += 1
    return out


def _integer_points(consts: list, m: int) -> list[int]:
    bounds = sorted(set(consts))
    if not bounds:
        return list(range(m))
    points = [int(c) for c in bounds if isinstance(c, int) or float(c).is_integer()]
    low = math.ceil(bounds[0]) - 1
    points += [low - i for i in range(m)]
    for lo, hi in zip(bounds, bounds[1:]):
        start = math.floor(lo) + 1
        points += [x for x in range(start, start + m) if x < hi]
    high = math.floor(bounds[-1]) + 1
    points += [high + i for i in range(m)]
    return sorted(set(points))


def _decimal_points(consts: list, m: int) -> list[float]:
    bounds = sorted({float(c) for c in consts})
    if not bounds:
        return [float(i) for i in range(m)]
    points = list(bounds)
    points += [math.floor(bounds[0]) - (1 if float(bounds[0]).is_integer() else 0) - i for i in range(m)]
    points += [math.ceil(bounds[-1]) + (1 if float(bounds[-1]).is_integer() else 0) + i for i in range(m)]
    for lo, hi in zip(bounds, bounds[1:]):
        whole = [float(x) for x in range(math.floor(lo) + 1, math.ceil(hi)) if lo < x < hi][:m]
        inner = sorted(set([lo, *whole, hi]))
        while len(inner) - 2 < m:
            gaps = sorted(zip(inner, inner[1:]), key=lambda g: g[1] - g[0], reverse=True)
            a, b = gaps[0]
            mid = a + (b - a) / 2
            if not a < mid < b:
                break
            inner = sorted(set(inner + [mid]))
        points += inner
    return sorted({float(p) for p in points})


_VERSION_TOP = 2**31


def _version_points(consts: list, m: int) -> list[WindowsVersion]:
    bounds = sorted(set(consts))
    if not bounds:
        return [WindowsVersion(10, 0, 19045, i) for i in range(m)]
    points = list(bounds)
    below, v = [], bounds[0]
    for _ in range(m):
        v = _version_below(v)
        if v is None:
            break
        below.append(v)
    points += below
    for lo, hi in zip(bounds, bounds[1:]):
        v = lo
        for _ in range(m):
            v = WindowsVersion(v.major, v.minor, v.build, v.revision + 1)
            if v >= hi:
                break
            points.append(v)
    v = bounds[-1]
    for _ in range(m):
        v = WindowsVersion(v.major, v.minor, v.build, v.revision + 1)
        points.append(v)
    return sorted(set(points))


def _version_below(v: WindowsVersion) -> WindowsVersion | None:
    if v.revision > 0:
        return WindowsVersion(v.major, v.minor, v.build, v.revision - 1)
    if v.build > 0:
        return WindowsVersion(v.major, v.minor, v.build - 1, 0)
    if v.minor > 0:
        return WindowsVersion(v.major, v.minor - 1, 0, 0)
    if v.major > 0:
        return WindowsVersion(v.major - 1, 0, 0, 0)
    return None


def _scalar_values(ftype, consts: list, m: int, kinds: set[str]) -> list:
    kind = ftype.kind
    if kind == "bool":
        return [True, False]
    if kind == "enum":
        names = ftype.enum.member_names
        named = [x for x in names if x in consts]
        others = [x for x in names if x not in consts][:m]
        return [x for x in names if x in named or x in others]
    if kind == "string":
        strings = sorted({c for c in consts if isinstance(c, str)})
        return strings + _fresh_strings(set(strings), m)
    if kind == "version":
        return _version_points([c for c in consts if isinstance(c, WindowsVersion)], m)
    numbers = [c for c in consts if isinstance(c, (int, float)) and not isinstance(c, bool)]
    if kind == "integer":
        return _integer_points(numbers, m)
    if "integer" in kinds:
        numbers = numbers + _integer_points(numbers, m)
    return _decimal_points(numbers, m)


def _order_values(values: list, consts: list) -> list:
    """Constants the rules name first (nicer witnesses and repairs), then the others."""
    known = {(type(c), c) for c in consts}
    named = [v for v in values if (type(v), v) in known]
    rest = [v for v in values if (type(v), v) not in known]
    return named + rest


def _domains(entries: Sequence[_Entry], vocabulary: Vocabulary, fixed: Mapping[str, Any],
             first: Mapping[str, Any] | None = None) -> dict[str, tuple]:
    """The value set of every free fact the entries read (None = missing is always included).

    ``first`` gives values that must head a fact's value set (a repair's current values).
    """
    union = _Union()
    consts: dict[tuple, list] = {}
    terms: set[tuple] = set()
    colls: dict[str, _Coll] = {}
    for entry in entries:
        info = entry.info
        terms |= info.terms
        for term, value in info.consts:
            consts.setdefault(term, []).append(value)
        for a, b in info.edges:
            union.union(a, b)
        for name, coll in info.colls.items():
            colls.setdefault(name, _Coll()).merge(coll)
    components: dict[tuple, list[tuple]] = {}
    for term in terms:
        components.setdefault(union.find(term), []).append(term)
    values: dict[tuple, list] = {}
    for members in components.values():
        shared = [c for t in members for c in consts.get(t, ())]
        if len(members) > 1:
            # A fact compared with another may need to equal (or pass) the other's value:
            # fixed values, and the current values a repair may keep, act as constants.
            shared += [fixed[t[1]] for t in members if t[0] == "f" and fixed.get(t[1]) is not None]
            shared += [first[t[1]] for t in members if t[0] == "f" and first and first.get(t[1]) is not None]
        shared = list({(type(c), c): c for c in shared}.values())
        free_globals = [t for t in members if t[0] == "f" and t[1] not in fixed]
        per_coll: dict[str, int] = {}
        for t in members:
            if t[0] == "c":
                per_coll[t[1]] = per_coll.get(t[1], 0) + 1
        k = max(per_coll.values(), default=0)
        g = len(free_globals)
        m = g + (g + 1) * k if k else max(g, 1)
        kinds = {_term_type(vocabulary, t).kind for t in members}
        for t in members:
            if t[0] == "f" and t[1] in fixed:
                continue
            ftype = _term_type(vocabulary, t)
            values[t] = _order_values(_scalar_values(ftype, shared, m, kinds), shared)
    out: dict[str, tuple] = {}
    for entry in entries:
        for name in entry.facts:
            if name in fixed or name in out:
                continue
            decl = vocabulary.fact(name)
            if decl.type.kind == "collection":
                out[name] = _collection_values(name, colls.get(name) or _Coll(), values, entry, fixed, vocabulary)
            else:
                out[name] = tuple(values.get(("f", name), [])) + (None,)
    if first:
        for name, value in first.items():
            if name in out:
                out[name] = (value,) + tuple(v for v in out[name] if not _same(v, value))
    return out


def _collection_values(name: str, coll: _Coll, values: dict[tuple, list], entry: _Entry,
                       fixed: Mapping[str, Any], vocabulary: Vocabulary) -> tuple:
    """Candidate collections: every combination of record types the rules can tell apart.

    Without counts: sets of at most one record per quantifier. With counts, whichever of
    two exact sets is smaller: explicit multisets of up to ``_Coll.bound`` records, or (one
    count expression, any constants) a set of distinct records (quantifier witnesses plus
    the records that carry the count) with extra copies of one of them, as many as reach
    each interval between the constants (so ``count(c) < 200`` costs no 200 records).
    """
    fields = sorted(coll.fields)
    choices = [list(values.get(("c", name, f), [])) + [None] for f in fields]
    types = [
        MappingProxyType({f: v for f, v in zip(fields, combo) if v is not None})
        for combo in itertools.product(*choices)
    ]
    types = _distinct_types(name, coll, types, values, fixed, vocabulary)
    if not coll.counts:
        bound = min(len(coll.quants), len(types))
        total = sum(math.comb(len(types), s) for s in range(bound + 1))
        _limit(name, total, bound, entry)
        out = [tuple(c) for size in range(bound + 1) for c in itertools.combinations(types, size)]
        return tuple(out) + (None,)
    bound = coll.bound()
    explicit = sum(math.comb(len(types) + s - 1, s) for s in range(bound + 1))
    carried = None
    if len(coll.counts) == 1:
        count, consts = coll.counts[0]
        support = min(len(coll.quants) + (1 if count.body is None else 2), len(types))
        lows = sorted({0} | {x for c in consts if c >= 0 for x in (math.ceil(c), math.floor(c) + 1)})
        carried = sum(math.comb(len(types), s) * max(s, 1) * (len(lows) * s + 1) for s in range(support + 1))
    if carried is not None and carried < explicit:
        _limit(name, carried, support, entry)
        out: list = [()]
        for size in range(1, support + 1):
            extras = sorted({0} | {low - s for low in lows for s in range(size + 1) if low - s > 0})
            for combo in itertools.combinations(types, size):
                for carrier in range(size):
                    for extra in extras:
                        if extra == 0 and carrier > 0:
                            continue
                        mult = [1] * size
                        mult[carrier] += extra
                        out.append(_Bag(combo, mult) if extra else tuple(combo))
        return tuple(out) + (None,)
    _limit(name, explicit, bound, entry)
    out = [tuple(c) for size in range(bound + 1)
           for c in itertools.combinations_with_replacement(types, size)]
    return tuple(out) + (None,)


_SIGNATURE_LIMIT = 512


def _distinct_types(name: str, coll: _Coll, types: list, values: dict[tuple, list],
                    fixed: Mapping[str, Any], vocabulary: Vocabulary) -> list:
    """One record type per behaviour: records whose every body (quantifier or count over
    this collection) has the same truth value, for every value of the facts the bodies
    read, cannot be told apart by any rule, so one of them stands for all."""
    bodies = [(q.var, q.body) for q in coll.quants] + [(c.var, c.body) for c, _ in coll.counts if c.body is not None]
    if len(types) <= 1 or not bodies:
        return types[:1] if not bodies else types
    read = list(dict.fromkeys(f for _, body in bodies for f in n.facts_read(body)))
    options = []
    for f in read:
        decl = vocabulary.fact(f)
        if decl is None or decl.type.kind == "collection":
            return types
        options.append([fixed[f]] if f in fixed else list(values.get(("f", f), [])) + [None])
    if math.prod(len(o) for o in options) > _SIGNATURE_LIMIT:
        return types
    compiler = _Compiler()
    compiled = [(var, compiler.condition(body)) for var, body in bodies]
    contexts = [_Ctx(dict(zip(read, combo)), _EMPTY) for combo in itertools.product(*options)]
    seen: dict[tuple, Any] = {}
    for record in types:
        signature = tuple(fn(ctx, {var: record}) for ctx in contexts for var, fn in compiled)
        seen.setdefault(signature, record)
    return list(seen.values())


def _limit(name: str, total: int, bound: int, entry: _Entry) -> None:
    if total > MAX_COLLECTION_CANDIDATES:
        raise AnalysisError([Diagnostic(
            "A103", f"{name} would need {total} candidate collections (up to {bound} distinct records) "
            f"for an exact answer; the analyser stops at {MAX_COLLECTION_CANDIDATES}",
            severity="warning", source=entry.source, span=entry.rule.span,
            help="count one expression per collection, compare counts with smaller numbers, "
                 "or quantify over fewer fields",
        )])


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return type(a) is type(b) and a == b


# --- the search --------------------------------------------------------------------------------


class _Constraint:
    __slots__ = ("entries", "goal", "any", "vars")

    def __init__(self, entries: Sequence[_Entry], goal: int, any_: bool = False) -> None:
        self.entries = tuple(entries)
        self.goal = goal
        self.any = any_
        self.vars: tuple[str, ...] = ()


_DEAD, _DONE, _OPEN = 0, 1, 2


def _status(c: _Constraint, ctx: _Ctx) -> int:
    if not c.any:
        s = c.entries[0].state(ctx)
        if not s & c.goal:
            return _DEAD
        return _DONE if not s & ~c.goal else _OPEN
    result = _DEAD
    for e in c.entries:
        s = e.state(ctx)
        if s & c.goal:
            if not s & ~c.goal:
                return _DONE
            result = _OPEN
    return result


def _prepare(constraints: Sequence[_Constraint], fixed: Mapping[str, Any]) -> None:
    for c in constraints:
        c.vars = tuple(dict.fromkeys(f for e in c.entries for f in e.facts if f not in fixed))


def _groups(constraints: Sequence[_Constraint]) -> list[list[_Constraint]]:
    """Constraints that share no free fact, apart: each group is decided on its own."""
    union = _Union()
    for i, c in enumerate(constraints):
        union.find(("c", i))
        for v in c.vars:
            union.union(("c", i), ("v", v))
    groups: dict[tuple, list[_Constraint]] = {}
    for i, c in enumerate(constraints):
        groups.setdefault(union.find(("c", i)), []).append(c)
    return list(groups.values())


def _search(constraints: Sequence[_Constraint], fixed: Mapping[str, Any], domains: Mapping[str, tuple],
            current: Mapping[str, Any] | None = None, budget: int | None = None,
            violated: Sequence[tuple[str, ...]] = ()) -> dict[str, Any] | None:
    """Backtracking over the free facts; an assignment (facts read → value) or None.

    ``constraints`` must have been prepared (``_prepare``) with the same ``fixed``. With
    ``current`` and ``budget``: only assignments that change at most ``budget`` facts away
    from ``current`` (unassigned facts keep their current value); ``violated`` lists the
    free facts of constraints that fail under ``current``: each such constraint whose facts
    are all still unassigned needs a change of its own, a lower bound that prunes.
    """
    asg = dict(fixed)
    ctx = _Ctx(asg, domains)
    by_var: dict[str, list[int]] = {}
    for i, c in enumerate(constraints):
        for v in c.vars:
            by_var.setdefault(v, []).append(i)
    left = [len(c.vars) for c in constraints]
    open_set = set()
    for i, c in enumerate(constraints):
        st = _status(c, ctx)
        if st == _DEAD:
            return None
        if st == _OPEN:
            open_set.add(i)

    def choose() -> str:
        i = min(open_set, key=left.__getitem__)
        unassigned = [v for v in constraints[i].vars if v not in asg]
        assert unassigned, "an open constraint with every fact assigned"
        return min(unassigned, key=lambda v: (len(domains[v]), -len(by_var[v])))

    def bound() -> int:
        used: set[str] = set()
        count = 0
        for facts in violated:
            if not used.intersection(facts) and not any(f in asg for f in facts):
                used.update(facts)
                count += 1
        return count

    jump = budget is None
    everything = frozenset(by_var)

    def dfs(cost: int) -> frozenset | None:
        """None on success; otherwise the assigned facts the failure depends on
        (conflict-directed backjumping: a fact outside it need not try other values)."""
        if not open_set:
            return None
        if violated and cost + bound() > budget:
            return everything
        var = choose()
        touched = by_var[var]
        for i in touched:
            left[i] -= 1
        conflict: set[str] = set()
        for value in domains[var]:
            spent = cost
            if budget is not None:
                spent += 0 if _same(value, current.get(var)) else 1
                if spent > budget:
                    continue
            asg[var] = value
            closed, dead = [], None
            for i in touched:
                if i in open_set:
                    st = _status(constraints[i], ctx)
                    if st == _DEAD:
                        dead = i
                        break
                    if st == _DONE:
                        open_set.discard(i)
                        closed.append(i)
            if dead is not None:
                why = frozenset(v for v in constraints[dead].vars if v in asg and v not in fixed)
            else:
                why = dfs(spent)
                if why is None:
                    return None
            open_set.update(closed)
            del asg[var]
            if jump and var not in why:
                for i in touched:
                    left[i] += 1
                return why
            conflict |= why
        for i in touched:
            left[i] += 1
        conflict.discard(var)
        return frozenset(conflict) if jump else everything

    if dfs(0) is not None:
        return None
    result = dict(asg)
    if current is not None:
        for v in by_var:
            if v not in result:
                result[v] = current.get(v)
    return result


# --- the analyser -------------------------------------------------------------------------------


class Analyzer:
    """Selected rules of one or more checked rulesets, ready for exact questions.

    ``rulesets`` are LoadedRulesets (``engine.load_ruleset``) or checked ``Ruleset``s;
    ``rules`` optionally restricts the selection to these rule ids. Rules outside the
    decidable fragment are listed in ``unsupported`` (with diagnostics); a question that
    involves them raises ``AnalysisError``.
    """

    def __init__(self, rulesets: Iterable[Any], vocabulary: Vocabulary, rules: Iterable[str] | None = None) -> None:
        self.vocabulary = vocabulary
        self.rulesets = tuple(rulesets)
        self.entries = _entries(self.rulesets, vocabulary, rules)
        self._domain_cache: dict[tuple[int, ...], dict[str, tuple]] = {}

    @property
    def unsupported(self) -> tuple[tuple[str, tuple[Diagnostic, ...]], ...]:
        """(rule id, diagnostics) for every selected rule the analyser cannot decide."""
        return tuple((e.id, e.problems) for e in self.entries if e.problems)

    def select(self, rules: Iterable[str] | None = None) -> list[_Entry]:
        """Entries by rule id (all when None), raising AnalysisError for undecidable ones."""
        if rules is None:
            chosen = list(self.entries)
        else:
            by_id: dict[str, _Entry] = {}
            for e in self.entries:
                by_id.setdefault(e.id, e)
            missing = [r for r in rules if r not in by_id]
            if missing:
                raise AnalysisError([Diagnostic("A001", f"no selected rule called `{r}`") for r in missing])
            chosen = [by_id[r] for r in rules]
        problems = [d for e in chosen for d in e.problems]
        if problems:
            raise AnalysisError(problems)
        return chosen

    # --- core questions
    def solve(self, goals: Sequence[tuple[_Entry, int]], fixed: Mapping[str, Any] | None = None,
              any_of: tuple[Sequence[_Entry], int] | None = None) -> dict[str, Any] | None:
        """An assignment under which every (entry, goal mask) holds, or None.

        ``any_of`` adds one disjunctive constraint: some entry of the group reaches its goal.
        """
        fixed = dict(fixed or {})
        constraints = [_Constraint([e], g) for e, g in goals]
        involved = [e for e, _ in goals]
        if any_of is not None:
            constraints.append(_Constraint(any_of[0], any_of[1], any_=True))
            involved += list(any_of[0])
        for e in involved:
            if e.problems:
                raise AnalysisError(e.problems)
        _prepare(constraints, fixed)
        result = dict(fixed)
        for group in _groups(constraints):
            entries = list({e.index: e for c in group for e in c.entries}.values())
            found = _search(group, fixed, self.domains(entries, fixed))
            if found is None:
                return None
            result.update(found)
        return result

    def domains(self, entries: Sequence[_Entry], fixed: Mapping[str, Any]) -> dict[str, tuple]:
        """Value sets for a query; remembered for small queries without fixed facts."""
        if fixed or len(entries) > 2:
            return _domains(entries, self.vocabulary, fixed)
        key = tuple(sorted(e.index for e in entries))
        found = self._domain_cache.get(key)
        if found is None:
            if len(self._domain_cache) > 4096:
                self._domain_cache.clear()
            found = self._domain_cache[key] = _domains(entries, self.vocabulary, fixed)
        return found

    def satisfiable(self, entries: Sequence[_Entry], goal: int, fixed: Mapping[str, Any] | None = None) -> bool:
        return self.solve([(e, goal) for e in entries], fixed) is not None

    def witness(self, assignment: Mapping[str, Any], entries: Sequence[_Entry],
                check: Sequence[tuple[_Entry, int]] = ()) -> Witness:
        """A Witness for ``assignment``; every (entry, goal) in ``check`` is confirmed by the interpreter."""
        values = _typed(assignment)
        for entry, goal in check:
            state = _interpreter_state(entry, values)
            if not state & goal:
                raise AssertionError(f"analysis bug: the witness does not give {entry.id} the wanted verdict")
        missing = tuple(sorted(k for k, v in assignment.items() if v is None))
        shown = tuple(
            (name, self.label(name), _show(self.vocabulary, name, assignment[name]))
            for name in sorted(assignment)
        )
        outcomes = tuple((e.id, e.interpreter.verdict(e.rule, values)[0]) for e in entries)
        return Witness(MappingProxyType(values), missing, shown, outcomes)

    def label(self, name: str) -> str:
        decl = self.vocabulary.fact(name)
        return decl.label if decl else name

    def minimal_conflict(self, entries: Sequence[_Entry], goal: int,
                         fixed: Mapping[str, Any] | None = None) -> list[_Entry] | None:
        """A minimal unsatisfiable subset of ``entries`` (None when they are satisfiable)."""
        fixed = dict(fixed or {})
        for component in _components(entries, fixed):
            if not self.satisfiable(component, goal, fixed):
                return self._quickxplain(component, goal, fixed)
        return None

    def split(self, entries: Sequence[_Entry], goal: int, fixed: Mapping[str, Any] | None = None
              ) -> tuple[list[_Entry], list[list[_Entry]]]:
        """Grow a satisfiable subset in selection order; each rule that does not fit is left
        out, with a minimal conflicting set it forms with the rules kept before it.

        Returns (kept, conflicts); every conflict ends with the rule left out.
        """
        fixed = dict(fixed or {})
        kept: list[_Entry] = []
        conflicts: list[list[_Entry]] = []
        witness = dict(fixed)
        for e in entries:
            # Most rules fit the witness found so far: try that first, cheaply.
            found = self.solve([(e, goal)], witness)
            if found is None:
                found = self.solve([(x, goal) for x in kept + [e]], fixed)
                if found is not None:
                    witness = dict(fixed)
            if found is not None:
                kept.append(e)
                witness.update(found)
                continue
            mine = {f for f in e.facts if f not in fixed}
            neighbours = [x for x in kept if mine.intersection(x.facts)]
            # A rule at odds with a single kept rule is the common case: pairs first.
            core = next(([x] for x in neighbours if self.solve([(x, goal), (e, goal)], fixed) is None), None)
            if core is None:
                core = self._quickxplain(self._connected(e, kept, fixed), goal, fixed, background=[e])
            order = {x.index: i for i, x in enumerate(entries)}
            conflicts.append(sorted(core, key=lambda x: order[x.index]) + [e])
        return kept, conflicts

    @staticmethod
    def _connected(e: _Entry, others: Sequence[_Entry], fixed: Mapping[str, Any]) -> list[_Entry]:
        """The rules linked to ``e`` through shared free facts (a minimal core lies among them)."""
        for component in _components([e, *others], fixed):
            if any(x is e for x in component):
                return [x for x in component if x is not e]
        return []

    def _quickxplain(self, entries: list[_Entry], goal: int, fixed,
                     background: Sequence[_Entry] = ()) -> list[_Entry]:
        def sat(items: list[_Entry]) -> bool:
            return self.satisfiable(items, goal, fixed)

        def qx(background: list[_Entry], changed: bool, items: list[_Entry]) -> list[_Entry]:
            if changed and not sat(background):
                return []
            if len(items) == 1:
                return list(items)
            half = len(items) // 2
            first, second = items[:half], items[half:]
            d2 = qx(background + first, bool(first), second)
            d1 = qx(background + d2, bool(d2), first)
            return d1 + d2

        core = qx(list(background), bool(background), entries)
        order = {e.index: i for i, e in enumerate(entries)}
        return sorted(core, key=lambda e: order[e.index])

    def conflict(self, core: Sequence[_Entry], device_facts: tuple[str, ...] = ()) -> RuleConflict:
        """A RuleConflict record: the rules and, condition by condition, what each requires."""
        counts: dict[str, int] = {}
        for e in core:
            for f in set(e.facts):
                counts[f] = counts.get(f, 0) + 1
        shared = {f for f, c in counts.items() if c > 1} or set(counts)
        requirements = tuple(r for e in core for r in requirements_of(e, shared))
        return RuleConflict(tuple(e.id for e in core), tuple(e.ruleset.id for e in core), requirements, device_facts)


def _components(entries: Sequence[_Entry], fixed: Mapping[str, Any]) -> list[list[_Entry]]:
    """Entries grouped by shared free facts (independent groups are decided separately)."""
    union = _Union()
    for e in entries:
        union.find(("e", e.index))
        for f in e.facts:
            if f not in fixed:
                union.union(("e", e.index), ("f", f))
    groups: dict[tuple, list[_Entry]] = {}
    for e in entries:
        groups.setdefault(union.find(("e", e.index)), []).append(e)
    return list(groups.values())


def _interpreter_state(entry: _Entry, values: Mapping[str, Any]) -> int:
    """The (applicability, requirements) state bit, computed by the reference interpreter."""
    interp, rule = entry.interpreter, entry.rule
    a = T if rule.applicability is None else _TRUTH_BIT[interp.eval(rule.applicability, values, {})[0]]
    r = T
    for req in rule.requirements:
        r = _and3(r, _TRUTH_BIT[interp.eval(req, values, {})[0]])
    status = interp.verdict(rule, values)[0]
    if a == F:
        return _STATES[F][ALL] if status is NOT_APPLICABLE else 0
    if status is not _verdict(a, r):
        raise AssertionError(f"analysis bug: state of {entry.id} disagrees with the interpreter")
    return _state_bit(a, r)


# --- requirements in words ----------------------------------------------------------------------

_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_OP_WORDS = {"==": "equal to {}", "!=": "different from {}", "<": "less than {}", "<=": "at most {}",
             ">": "more than {}", ">=": "at least {}"}


def requirements_of(entry: _Entry, facts: set[str] | None = None) -> list[Requirement]:
    """What each condition of a rule requires, for the conditions that read ``facts`` (all if None)."""
    out: list[Requirement] = []
    rule = entry.rule
    if rule.applicability is not None:
        _collect(entry, rule.applicability, 1, "applies when", facts, out)
    for req in rule.requirements:
        _collect(entry, req, 1, "requires", facts, out)
    seen, unique = set(), []
    for r in out:
        key = (r.fact, r.required, r.role, r.text)
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def _collect(entry: _Entry, e, polarity: int, role: str, facts, out: list[Requirement]) -> None:
    if isinstance(e, (n.And, n.Or)):
        for o in e.operands:
            _collect(entry, o, polarity, role, facts, out)
    elif isinstance(e, n.Not):
        _collect(entry, e.operand, -polarity, role, facts, out)
    elif isinstance(e, n.Implies):
        _collect(entry, e.antecedent, -polarity, role, facts, out)
        _collect(entry, e.consequent, polarity, role, facts, out)
    elif isinstance(e, n.Conditional):
        _collect(entry, e.condition, 0, role, facts, out)
        _collect(entry, e.then, polarity, role, facts, out)
        _collect(entry, e.otherwise, polarity, role, facts, out)
    elif isinstance(e, n.DefinitionRef):
        _collect(entry, e.body, polarity, role, facts, out)
    elif isinstance(e, n.Quantified):
        _collect(entry, e.body, polarity, role, facts, out)
    elif isinstance(e, (n.Compare, n.Member, n.Presence)):
        found = _requirement(entry, e, polarity, role, facts)
        if found is not None:
            out.append(found)


def _requirement(entry: _Entry, e, polarity: int, role: str, facts) -> Requirement | None:
    interp = entry.interpreter
    subject, other, op = _subject(e)
    if isinstance(subject, n.FactRef):
        fact = subject.fact
    elif isinstance(subject, n.FieldRef):
        fact = subject.collection
    elif isinstance(subject, n.Count):
        fact = subject.collection.fact if isinstance(subject.collection, n.FactRef) else ""
    else:
        return None
    if facts is not None and fact not in facts:
        return None
    decl = interp.declaration(subject)
    label = decl.label if decl else fact
    if isinstance(subject, n.FieldRef):
        collection = interp.vocabulary.fact(subject.collection)
        label = f"{label} of each {collection.item_label or 'item'} in {collection.label}" if collection else label
        fact = f"{subject.collection}[].{subject.field}"
    if isinstance(subject, n.Count):
        collection = interp.vocabulary.fact(fact)
        label = f"Number of {collection.item_label or 'item'}s in {collection.label}" if collection else "Count"
    text = interp.excerpt(e)
    if polarity == 0:
        required = f"as in `{text}`"
    else:
        if polarity < 0:
            if isinstance(e, n.Member):
                e = n.Member(e.operand, e.items, not e.negated, span=e.span)
            elif isinstance(e, n.Presence):
                e = n.Presence(e.operand, not e.present, span=e.span)
            else:
                op = _NEGATE[op]
        if isinstance(e, n.Compare) and not isinstance(other, n.Const):
            other_decl = interp.declaration(other)
            required = _OP_WORDS[op].format(other_decl.label if other_decl else interp.excerpt(other))
        else:
            try:
                required = interp.required(e, op, other, decl, {}, {})
            except (KeyError, TypeError, AttributeError):
                required = f"as in `{text}`"
    return Requirement(entry.id, entry.ruleset.id, fact, label, required, text, role,
                       _location(entry.path, entry.source, getattr(e, "span", None)))


def _subject(e) -> tuple[Any, Any, str]:
    if isinstance(e, n.Compare):
        if isinstance(e.left, n.Const) and not isinstance(e.right, n.Const):
            return e.right, e.left, _FLIP[e.op]
        return e.left, e.right, e.op
    return e.operand, None, ""


def _location(path: str, source, span) -> Location | None:
    if source is None or span is None:
        return None
    line, column = source.position(span.start)
    end_line, end_column = source.position(span.end)
    return Location(path, line, column, end_line, end_column)


# --- values in words --------------------------------------------------------------------------


def _typed(assignment: Mapping[str, Any]) -> dict[str, Any]:
    """An assignment as the evaluators read it: missing facts left out, bags expanded."""
    return {k: _plain(v) for k, v in assignment.items() if v is not None}


def _show(vocabulary: Vocabulary, name: str, value: Any) -> str:
    if value is None:
        return "missing"
    decl = vocabulary.fact(name)
    if decl is None:
        return str(value)
    if decl.type.kind == "collection":
        if not value:
            return f"no {decl.item_label or 'item'}s"
        mult = getattr(value, "mult", None) or (1,) * len(value)
        total = sum(mult)
        head = f"{total} {decl.item_label or 'item'}{'' if total == 1 else 's'}"
        if not any(record for record in value):
            return head
        shown = "; ".join(
            _show_record(vocabulary, decl, record) + (f" × {k}" if k > 1 else "")
            for record, k in zip(value, mult)
        )
        return f"{head}: {shown}"
    return vocabulary.display(decl, value)


def _show_record(vocabulary: Vocabulary, decl: Fact, record: Mapping[str, Any]) -> str:
    parts = [f"{f.label}: {vocabulary.display(f, record[f.name])}" for f in decl.type.fields if f.name in record]
    return "{" + ", ".join(parts) + "}"


def _raw(value: Any) -> Any:
    if isinstance(value, WindowsVersion):
        return str(value)
    if isinstance(value, tuple):
        return [{k: _raw(v) for k, v in record.items()} for record in _plain(value)]
    return value


# --- satisfiability -------------------------------------------------------------------------------


def check_satisfiable(rulesets: Iterable[Any], vocabulary: Vocabulary, *, rules: Iterable[str] | None = None,
                      facts: Mapping[str, Any] | Any = None, fixed_namespaces: Iterable[str] = (),
                      goal: str | Status | Iterable[Status | str] = "satisfied") -> Satisfiability:
    """Can some assignment of the free facts give every selected rule a verdict in ``goal``?

    ``facts`` (a values mapping or a Facts record) fixes those facts; facts of a namespace
    in ``fixed_namespaces`` that ``facts`` lacks are fixed as missing. Returns a witness
    validated by the interpreter, or a minimal conflicting set of rules.
    """
    analyzer = Analyzer(rulesets, vocabulary, rules)
    entries = analyzer.select()
    mask = goal_mask(goal)
    fixed = _fixed(entries, facts, set(fixed_namespaces), vocabulary)
    assignment = analyzer.solve([(e, mask) for e in entries], fixed)
    if assignment is not None:
        return Satisfiability(True, analyzer.witness(assignment, entries, [(e, mask) for e in entries]))
    core = analyzer.minimal_conflict(entries, mask, fixed) or []
    return Satisfiability(False, conflict=analyzer.conflict(core))


def _values_of(facts: Any) -> Mapping[str, Any]:
    if facts is None:
        return {}
    if isinstance(facts, Mapping):
        return facts
    return facts.values


def _fixed(entries: Sequence[_Entry], facts: Any, namespaces: set[str], vocabulary: Vocabulary) -> dict[str, Any]:
    values = _values_of(facts)
    fixed = {k: v for k, v in values.items() if v is not None}
    for e in entries:
        for f in e.facts:
            if f not in fixed and f.split(".", 1)[0] in namespaces:
                fixed[f] = None
    return fixed


# --- lint ----------------------------------------------------------------------------------------

_CODES = {
    "L100": ("not-analysed", "A rule uses a construct the analyser does not decide", "warning"),
    "L101": ("never-passes", "A rule can never pass", "error"),
    "L102": ("never-fails", "A rule can never fail", "warning"),
    "L103": ("never-applicable", "A rule's applicability condition can never be true", "warning"),
    "L104": ("redundant", "A rule is implied by another rule", "warning"),
    "L105": ("equivalent", "Two rules are satisfied by exactly the same facts", "warning"),
    "L106": ("unused-definition", "A definition is never used", "warning"),
    "L107": ("conflict", "Rules cannot all be satisfied together", "error"),
}
_SAMPLES = 96


def lint(rulesets: Iterable[Any], vocabulary: Vocabulary, *, rules: Iterable[str] | None = None,
         implication: bool = True) -> list[Finding]:
    """Semantic findings for the selected rules (the checker's diagnostics come from loading).

    Per rule: can never pass (L101), can never fail (L102), never applicable (L103). Per
    pair: implied by another rule (L104; *satisfied* = pass or not applicable, so A implies B
    when every assignment satisfying A satisfies B), equivalent (L105). Per file: unused
    definitions (L106). Over the whole selection: minimal sets of rules that cannot be
    satisfied together (L107), condition by condition. Rules the analyser cannot decide
    are reported (L100) and left out of the rest.
    """
    analyzer = Analyzer(rulesets, vocabulary, rules)
    findings: list[Finding] = []
    findings += _unused_definitions(analyzer)
    usable: list[_Entry] = []
    for e in analyzer.entries:
        if e.problems:
            findings.append(_finding("L100", e.problems[0].message + f" (rule {e.id} is not analysed)",
                                     [e], details={"problems": [d.code for d in e.problems]},
                                     span=e.problems[0].span))
        else:
            usable.append(e)
    can: dict[int, dict[str, dict[str, Any] | None]] = {}
    healthy: list[_Entry] = []
    holdable: list[_Entry] = []
    for e in usable:
        try:
            found = _reachable(analyzer, e)
        except AnalysisError as exc:
            findings.append(_finding("L100", exc.diagnostics[0].message + f" (rule {e.id} is not analysed)", [e]))
            continue
        can[e.index] = found
        if e.rule.applicability is not None and found["applicable"] is None:
            findings.append(_finding("L103", f"{e.id} never applies: its `when` condition can never be true",
                                     [e], span=e.rule.applicability.span))
        elif found["pass"] is None:
            findings.append(_finding("L101", f"{e.id} can never pass: whenever it applies it fails or is unknown", [e]))
        elif found["fail"] is None:
            findings.append(_finding("L102", f"{e.id} can never fail, so it checks nothing", [e]))
        else:
            healthy.append(e)
        if found["satisfied"] is not None:
            holdable.append(e)
    samples = _samples(analyzer, usable, can)
    bits = {e.index: _satisfied_bits(e, samples) for e in usable if e.index in can}
    if implication:
        findings += _implications(analyzer, healthy, can, bits)
    findings += _conflicts(analyzer, holdable, can, bits)
    return findings


def _finding(code: str, message: str, entries: Sequence[_Entry], details: Mapping[str, Any] | None = None,
             span=None, severity: str | None = None) -> Finding:
    locations = []
    for i, e in enumerate(entries):
        where = _location(e.path, e.source, span if (i == 0 and span is not None) else e.rule.spans.get("id", e.rule.span))
        if where is not None:
            locations.append(where)
    info = {"rulesets": [e.ruleset.id for e in entries], **(details or {})}
    return Finding(code, severity or _CODES[code][2], message, tuple(e.id for e in entries), tuple(locations), info)


def _reachable(analyzer: Analyzer, e: _Entry) -> dict[str, dict[str, Any] | None]:
    """For one rule: an assignment reaching each interesting state, or None when none does."""
    goals = {
        "pass": goal_mask(PASS), "fail": goal_mask(FAIL), "satisfied": goal_mask("satisfied"),
        "not_satisfied": goal_mask("not_satisfied"),
    }
    if e.rule.applicability is not None:
        goals["applicable"] = _APPLICABLE
    return {name: analyzer.solve([(e, mask)]) for name, mask in goals.items()}


def _unused_definitions(analyzer: Analyzer) -> list[Finding]:
    findings = []
    seen = set()
    for item in analyzer.rulesets:
        ruleset = getattr(item, "ruleset", item)
        if id(ruleset) in seen:
            continue
        seen.add(id(ruleset))
        path = getattr(item, "path", None) or (ruleset.text.name if ruleset.text else ruleset.id)
        used: set[str] = set()
        stack = [x for r in ruleset.rules for x in (r.applicability, *r.requirements) if x is not None]
        while stack:
            node = stack.pop()
            if isinstance(node, n.DefinitionRef):
                if node.name in used:
                    continue
                used.add(node.name)
            stack.extend(n.children(node))
        for d in ruleset.definitions:
            if d.name not in used:
                where = _location(path, ruleset.text, d.span)
                findings.append(Finding(
                    "L106", "warning", f"definition `{d.name}` is never used by a rule or note",
                    (), (where,) if where else (), {"rulesets": [ruleset.id], "definition": d.name},
                ))
    return findings


def _samples(analyzer: Analyzer, entries: Sequence[_Entry], can) -> list[dict[str, Any]]:
    """Assignments to refute implications cheaply: every witness found so far, plus random ones."""
    samples: list[dict[str, Any]] = []
    rng = random.Random(20240611)
    for e in entries:
        for assignment in (can.get(e.index) or {}).values():
            if assignment is not None:
                samples.append(assignment)
    if len(samples) > _SAMPLES:
        samples = rng.sample(samples, _SAMPLES)
    pools: dict[str, tuple] = {}
    for e in entries:
        if e.index not in can:
            continue
        try:
            domains = _domains([e], analyzer.vocabulary, {})
        except AnalysisError:
            continue
        for name, values in domains.items():
            if len(values) > len(pools.get(name, ())):
                pools[name] = values
    for _ in range(_SAMPLES if pools else 0):
        samples.append({name: rng.choice(values) for name, values in pools.items()})
    return samples


def _satisfied_bits(e: _Entry, samples: Sequence[Mapping[str, Any]]) -> int:
    """Bit i set when the rule is satisfied on sample i (unknown facts count as missing)."""
    goal = _GOAL_WORDS["satisfied"]
    out = 0
    for i, sample in enumerate(samples):
        ctx = _Ctx(_complete(sample, e.facts), _EMPTY)
        if e.state(ctx) & goal:
            out |= 1 << i
    return out


def _holds(e: _Entry, assignment: Mapping[str, Any], goal: int) -> bool:
    """Whether ``e`` certainly reaches ``goal`` under ``assignment`` (absent facts missing)."""
    state = e.state(_Ctx(_complete(assignment, e.facts), _EMPTY))
    return bool(state & goal) and not state & ~goal


def _complete(sample: Mapping[str, Any], facts: Iterable[str]) -> dict[str, Any]:
    asg = dict(sample)
    for f in facts:
        asg.setdefault(f, None)
    return asg


def _implications(analyzer: Analyzer, entries: Sequence[_Entry], can, bits) -> list[Finding]:
    satisfied, broken = _GOAL_WORDS["satisfied"], _GOAL_WORDS["not_satisfied"]
    by_fact: dict[str, list[_Entry]] = {}
    for e in entries:
        for f in set(e.facts):
            by_fact.setdefault(f, []).append(e)
    implied: set[tuple[int, int]] = set()
    checked: set[tuple[int, int]] = set()
    for a in entries:
        partners = {b.index: b for f in set(a.facts) for b in by_fact[f] if b.index != a.index}
        for b in partners.values():
            key = (a.index, b.index)
            if key in checked:
                continue
            checked.add(key)
            if bits[a.index] & ~bits[b.index]:
                continue  # a sample satisfies a and not b
            if any(_holds(b, w, broken) for w in (can[a.index]["pass"], can[a.index]["satisfied"]) if w):
                continue  # a's own witnesses satisfy a and not b
            if analyzer.solve([(a, satisfied), (b, broken)]) is None:
                implied.add(key)
    return _implication_findings(entries, implied)


def _implication_findings(entries: Sequence[_Entry], implied: set[tuple[int, int]]) -> list[Finding]:
    """Equivalent rules as one finding per class; one-way implications between classes,
    without those that follow from two others (A ⇒ C ⇒ B makes A ⇒ B redundant to say)."""
    index = {e.index: e for e in entries}
    union = _Union()
    for a, b in implied:
        union.find(("r", a))
        if (b, a) in implied:
            union.union(("r", a), ("r", b))
    classes: dict[tuple, list[_Entry]] = {}
    for e in entries:
        classes.setdefault(union.find(("r", e.index)), []).append(e)
    head = {e.index: members[0].index for members in classes.values() for e in members}
    findings = []
    for members in classes.values():
        if len(members) > 1:
            rulesets = [m.ruleset for m in members]
            same = len({id(r) for r in rulesets}) < len(rulesets)
            names = ", ".join(m.id for m in members[:-1]) + f" and {members[-1].id}"
            where = "" if len({id(r) for r in rulesets}) == 1 else \
                " (rulesets " + ", ".join(dict.fromkeys(r.id for r in rulesets)) + " overlap)"
            verb = "are equivalent: every assignment satisfies both or neither" if len(members) == 2 else \
                "are equivalent: every assignment satisfies all of them or none"
            findings.append(_finding("L105", f"{names} {verb}{where}", members,
                                     severity="warning" if same else "info"))
    edges = {(head[a], head[b]) for a, b in implied if head[a] != head[b]}
    after: dict[int, set[int]] = {}
    for a, b in edges:
        after.setdefault(a, set()).add(b)
    for a, b in sorted(edges):
        if any(b in after.get(c, ()) for c in after[a] if c != b):
            continue  # a ⇒ c ⇒ b: already said
        x, y = index[a], index[b]
        same = x.ruleset is y.ruleset
        where = "" if same else f" (ruleset {x.ruleset.id} and ruleset {y.ruleset.id} overlap)"
        findings.append(_finding("L104", f"{y.id} is redundant: every assignment that satisfies {x.id} "
                                 f"also satisfies {y.id}{where}", [y, x], details={"implied_by": x.id},
                                 severity="warning" if same else "info"))
    return findings


def _conflicts(analyzer: Analyzer, entries: Sequence[_Entry], can, bits) -> list[Finding]:
    """Minimal sets of satisfiable rules that cannot be satisfied together."""
    satisfied = _GOAL_WORDS["satisfied"]
    cores: list[list[_Entry]] = []
    by_fact: dict[str, list[_Entry]] = {}
    for e in entries:
        for f in set(e.facts):
            by_fact.setdefault(f, []).append(e)
    # Pairs first: every conflict of two rules is found exactly.
    done: set[tuple[int, int]] = set()
    for a in entries:
        for b in {b.index: b for f in set(a.facts) for b in by_fact[f] if b.index > a.index}.values():
            if (a.index, b.index) in done or bits[a.index] & bits[b.index]:
                continue
            done.add((a.index, b.index))
            if analyzer.solve([(a, satisfied), (b, satisfied)]) is None:
                cores.append([a, b])
    # Then larger cores among what remains once one rule of each pair is set aside.
    removed = {core[-1].index for core in cores}
    rest = [e for e in entries if e.index not in removed]
    cores += analyzer.split(rest, satisfied)[1][:MAX_CONFLICTS]
    findings = []
    for core in cores:
        record = analyzer.conflict(core)
        rulesets = list(dict.fromkeys(record.rulesets))
        if len(rulesets) > 1:
            lead = "rulesets " + " and ".join(rulesets) + " contradict each other: "
        else:
            lead = f"rules of ruleset {rulesets[0]} contradict each other: "
        finding = _finding("L107", lead + record.message(), core, details={
            "requirements": [
                {"rule": r.rule, "ruleset": r.ruleset, "fact": r.fact, "label": r.label, "role": r.role,
                 "required": r.required, "text": r.text, "sentence": r.sentence()}
                for r in record.requirements
            ],
        })
        # Point at the conditions that clash (the first one of each rule), not at the rule ids.
        at = {r.rule: r.location for r in reversed(record.requirements) if r.location is not None}
        places = tuple(at.get(e.id) or loc for e, loc in zip(core, finding.locations))
        findings.append(Finding(finding.code, finding.severity, finding.message, finding.rules, places,
                                finding.details))
    return findings


def diagnostic_findings(diagnostics: Iterable[Diagnostic]) -> list[Finding]:
    """The checker's (or parser's) diagnostics as findings, for one lint report."""
    out = []
    for d in diagnostics:
        locations: tuple[Location, ...] = ()
        if d.source is not None and d.span is not None:
            locations = (_location(d.source.name, d.source, d.span),)
        elif d.file:
            locations = (Location(d.file, 1, 1, 1, 1),)
        details = {"help": d.help} if d.help else {}
        out.append(Finding(d.code, d.severity, d.message, (), locations, details))
    return out


def lint_exit_code(findings: Iterable[Finding], fail_on: str = "warning") -> int:
    """0 when no finding is at or above ``fail_on`` (error, warning, info), else 1."""
    levels = {"error": 0, "warning": 1, "info": 2}
    return int(any(levels.get(f.severity, 0) <= levels[fail_on] for f in findings))


# --- SARIF -----------------------------------------------------------------------------------------

_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def findings_to_sarif(findings: Iterable[Finding], tool_version: str = "") -> dict[str, Any]:
    """A SARIF 2.1.0 log: one run, one result per finding, located in the rule files."""
    findings = list(findings)
    codes = list(dict.fromkeys(f.code for f in findings))
    rules = []
    for code in codes:
        name, description, level = _CODES.get(code, ("checker-error", "A rule file does not check", "error"))
        if code not in _CODES:
            level = next(f.severity for f in findings if f.code == code)
        rules.append({
            "id": code, "name": name,
            "shortDescription": {"text": description},
            "defaultConfiguration": {"level": _SARIF_LEVEL.get(level, "warning")},
        })
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.code, "ruleIndex": codes.index(f.code),
            "level": _SARIF_LEVEL.get(f.severity, "warning"),
            "message": {"text": f.message},
            "locations": [_sarif_location(loc) for loc in f.locations[:1]],
        }
        if len(f.locations) > 1:
            result["relatedLocations"] = [
                {**_sarif_location(loc), "id": i, "message": {"text": f.rules[i] if i < len(f.rules) else ""}}
                for i, loc in enumerate(f.locations[1:], start=1)
            ]
        result["properties"] = {"rules": list(f.rules), **{k: v for k, v in f.details.items()}}
        results.append(result)
    driver: dict[str, Any] = {"name": "bitlocker-rules", "rules": rules}
    if tool_version:
        driver["version"] = tool_version
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results}],
    }


def _sarif_location(loc: Location) -> dict[str, Any]:
    return {"physicalLocation": {
        "artifactLocation": {"uri": _uri(loc.path)},
        "region": {"startLine": loc.start_line, "startColumn": loc.start_column,
                   "endLine": loc.end_line, "endColumn": loc.end_column},
    }}


def _uri(path: str) -> str:
    pure: PurePath = PureWindowsPath(path) if "\\" in path else PurePosixPath(path)
    if pure.is_absolute():
        return pure.as_uri()
    return "/".join(pure.parts)


# --- compare ---------------------------------------------------------------------------------------


def compare(a: Iterable[Any], b: Iterable[Any], vocabulary: Vocabulary) -> Comparison:
    """Is ruleset (selection) A stricter than, looser than, equivalent to or incomparable with B?

    A is stricter when every assignment that satisfies every rule of A satisfies every rule
    of B. Each direction that differs comes with a witness.
    """
    left, right = Analyzer(a, vocabulary), Analyzer(b, vocabulary)
    ea, eb = left.select(), right.select()
    for i, e in enumerate(eb):
        e.index = len(ea) + i
    a_not_b = _difference(left, ea, eb, "A", "B")
    b_not_a = _difference(left, eb, ea, "B", "A")
    relation = {(False, False): "equivalent", (False, True): "stricter",
                (True, False): "looser", (True, True): "incomparable"}[(a_not_b is not None, b_not_a is not None)]
    return Comparison(relation, a_not_b, b_not_a)


def _difference(analyzer: Analyzer, sat_side: list[_Entry], other: list[_Entry], name: str,
                other_name: str) -> Difference | None:
    satisfied, broken = _GOAL_WORDS["satisfied"], _GOAL_WORDS["not_satisfied"]
    if not other:
        return None
    goals = [(e, satisfied) for e in sat_side]
    assignment = analyzer.solve(goals, any_of=(other, broken))
    if assignment is None:
        return None
    # A clearer witness: satisfy as many rules of the other side as still allows a difference.
    for e in other:
        better = analyzer.solve(goals + [(e, satisfied)], any_of=(other, broken))
        if better is not None:
            goals.append((e, satisfied))
            assignment = better
    everything = sat_side + other
    witness = analyzer.witness(assignment, everything, [(e, satisfied) for e in sat_side])
    values = witness.values
    failing = tuple(e.id for e in other if not _interpreter_state(e, values) & satisfied)
    assert failing, "analysis bug: the witness satisfies both sides"
    return Difference(name, other_name, witness, failing)


# --- repair ----------------------------------------------------------------------------------------


def repair(rulesets: Iterable[Any], vocabulary: Vocabulary, facts: Any, *, rules: Iterable[str] | None = None,
           max_changes: int | None = None) -> Repair:
    """The fewest policy-setting changes that satisfy the selected rules on one device.

    ``facts`` are the device's effective facts (a Facts record or a values mapping: the
    policy settings and the device facts merged; facts in conflict are absent, hence
    missing). Only facts of the ``policy`` namespace change; every other fact keeps its
    value (or stays missing). Rules that no policy can satisfy on this device become
    prerequisites with the device facts that block them; rules that cannot be satisfied
    together are reported as conflicts (minimal sets) and one rule of each is left out.
    """
    analyzer = Analyzer(rulesets, vocabulary, rules)
    entries = analyzer.select()
    values = dict(_values_of(facts))
    satisfied = _GOAL_WORDS["satisfied"]
    policy = {f for e in entries for f in e.facts if _policy(vocabulary, f)}
    fixed = {f: values.get(f) for e in entries for f in e.facts if f not in policy}
    current = {f: values.get(f) for f in policy}

    prerequisites, reachable = [], []
    for e in entries:
        if analyzer.satisfiable([e], satisfied, fixed):
            reachable.append(e)
        else:
            prerequisites.append(_prerequisite(analyzer, e, fixed, values))
    rest, cores = analyzer.split(reachable, satisfied, fixed)
    conflicts = [analyzer.conflict(core, _blocking(analyzer, core, fixed)) for core in cores]
    left_out = [core[-1].id for core in cores]
    assignment = _optimal(analyzer, rest, fixed, current, max_changes)
    if assignment is None:
        raise AnalysisError([Diagnostic("A201", f"no repair with at most {max_changes} changes")])
    changed = {f: v for f, v in assignment.items() if f in policy and not _same(v, current.get(f))}
    after = _typed({**values, **changed})
    for e in rest:
        if not _interpreter_state(e, after) & satisfied:
            raise AssertionError(f"analysis bug: the repair does not satisfy {e.id}")
    disputed = {c.fact: c for c in getattr(facts, "conflicts", ())}
    changes = tuple(
        _change(analyzer, f, current.get(f), v, _alternatives(analyzer, rest, fixed, assignment, f),
                disputed.get(f))
        for f, v in sorted(changed.items(), key=lambda kv: _order_key(entries, kv[0]))
    )
    outcomes = tuple((e.id, e.interpreter.verdict(e.rule, after)[0]) for e in entries)
    prerequisites = [
        _with_conditions(p, next(e for e in entries if e.id == p.rule), after) for p in prerequisites
    ]
    return Repair(changes, tuple(prerequisites), tuple(conflicts), outcomes, tuple(left_out))


def _policy(vocabulary: Vocabulary, name: str) -> bool:
    decl = vocabulary.fact(name)
    return decl is not None and decl.policy_controlled


def _order_key(entries: Sequence[_Entry], fact: str) -> tuple[int, int]:
    for i, e in enumerate(entries):
        if fact in e.facts:
            return i, e.facts.index(fact)
    return len(entries), 0


def _optimal(analyzer: Analyzer, entries: Sequence[_Entry], fixed, current, max_changes) -> dict[str, Any] | None:
    """Iterative deepening on the number of changed settings, per independent group of
    rules: the first budget that works is optimal for the group, and the groups add up."""
    satisfied = _GOAL_WORDS["satisfied"]
    constraints = [_Constraint([e], satisfied) for e in entries]
    _prepare(constraints, fixed)
    result = dict(fixed) | dict(current)
    spent = 0
    for group in _groups(constraints):
        members = [c.entries[0] for c in group]
        domains = _domains(members, analyzer.vocabulary, fixed, first=current)
        here = {v: current.get(v) for c in group for v in c.vars}
        probe = _Ctx({**fixed, **here}, domains)
        violated = [c.vars for c in group if _status(c, probe) == _DEAD]
        used: set[str] = set()
        low = 0
        for facts in violated:  # disjoint violated rules each need a change of their own
            if not used.intersection(facts):
                used.update(facts)
                low += 1
        limit = len(here) if max_changes is None else min(max_changes - spent, len(here))
        found = None
        for k in range(low, limit + 1):
            found = _search(group, fixed, domains, here, k, violated)
            if found is not None:
                spent += k
                break
        if found is None:
            return None
        result.update(found)
    return result


def _alternatives(analyzer: Analyzer, entries, fixed, assignment, fact) -> tuple[str, ...]:
    """Other values of ``fact`` that work with the rest of the repair unchanged."""
    satisfied = _GOAL_WORDS["satisfied"]
    decl = analyzer.vocabulary.fact(fact)
    if decl is None or decl.type.kind not in ("enum", "bool"):
        return ()
    options = list(decl.type.enum.member_names) if decl.type.enum else [True, False]
    touching = [e for e in entries if fact in e.facts]
    found = []
    for option in options:
        if _same(option, assignment.get(fact)):
            continue
        trial = _typed({**assignment, fact: option})
        if all(_interpreter_state(e, trial) & satisfied for e in touching):
            found.append(_show(analyzer.vocabulary, fact, option))
    return tuple(found)


def _change(analyzer: Analyzer, fact: str, old: Any, new: Any, alternatives=(), disputed=None) -> SettingChange:
    """A SettingChange in the Intune words; a setting the assigned policies disagree on
    (a merge conflict, so missing) shows what each policy sets."""
    before = _show(analyzer.vocabulary, fact, old) if old is not None else "not set"
    if disputed is not None:
        before = "in conflict: " + "; ".join(
            f"{source.split(' $')[0]} sets {_show(analyzer.vocabulary, fact, value)}"
            for source, value in disputed.values
        )
    return SettingChange(
        fact, analyzer.label(fact), before,
        _show(analyzer.vocabulary, fact, new) if new is not None else "not set",
        old, new, alternatives,
    )


def _blocking(analyzer: Analyzer, entries: Sequence[_Entry], fixed: Mapping[str, Any]) -> tuple[str, ...]:
    """A minimal set of fixed facts that, set free, makes ``entries`` satisfiable (() if none does)."""
    satisfied = _GOAL_WORDS["satisfied"]
    read = list(dict.fromkeys(f for e in entries for f in e.facts if f in fixed))
    free = {k: v for k, v in fixed.items() if k not in read}
    if not analyzer.satisfiable(entries, satisfied, free):
        return ()
    needed = []
    kept = dict(free)
    for f in read:
        trial = {**kept, f: fixed[f]}
        if analyzer.satisfiable(entries, satisfied, trial):
            kept = trial
        else:
            needed.append(f)
    return tuple(needed)


def _prerequisite(analyzer: Analyzer, e: _Entry, fixed: Mapping[str, Any], values) -> Prerequisite:
    satisfied = _GOAL_WORDS["satisfied"]
    blocking = _blocking(analyzer, [e], fixed)
    needed: tuple[tuple[str, str, str], ...] = ()
    if blocking:
        free = {k: v for k, v in fixed.items() if k not in blocking}
        assignment = analyzer.solve([(e, satisfied)], free) or {}
        needed = tuple((f, analyzer.label(f), _show(analyzer.vocabulary, f, assignment.get(f))) for f in blocking)
    return Prerequisite(e.id, e.ruleset.id, e.rule.title, blocking, (), needed)


def _with_conditions(p: Prerequisite, e: _Entry, values: Mapping[str, Any]) -> Prerequisite:
    outcome = e.interpreter.evaluate(e.rule, values)
    wanted = set(p.facts)
    conditions = tuple(c for c in outcome.reasons if c.fact.split("[", 1)[0] in wanted) or outcome.reasons
    return Prerequisite(p.rule, p.ruleset, p.title, p.facts, conditions, p.needed)


def fleet_repair(rulesets: Iterable[Any], vocabulary: Vocabulary, devices: Iterable[Any], *,
                 rules: Iterable[str] | None = None, top: int = 5) -> FleetRepair:
    """The one policy-setting change (fact → value, set on every device) that makes the most
    devices satisfy every selected rule. ``devices`` are Facts records or values mappings
    (each with its own effective policy settings)."""
    analyzer = Analyzer(rulesets, vocabulary, rules)
    entries = analyzer.select()
    satisfied = _GOAL_WORDS["satisfied"]
    fleet = [dict(_values_of(d)) for d in devices]
    policy = list(dict.fromkeys(f for e in entries for f in e.facts if _policy(vocabulary, f)))
    domains = _domains(entries, vocabulary, {})

    def holds(e: _Entry, values: Mapping[str, Any]) -> bool:
        ctx = _Ctx(_complete(values, e.facts), _EMPTY)
        return bool(e.state(ctx) & satisfied)

    base = [[holds(e, values) for e in entries] for values in fleet]
    before = sum(all(row) for row in base)
    ranking = [FleetChange(None, before)]
    for fact in policy:
        touching = [i for i, e in enumerate(entries) if fact in e.facts]
        others = [i for i in range(len(entries)) if i not in touching]
        ready = [d for d, row in enumerate(base) if all(row[i] for i in others)]
        olds = {repr(fleet[d].get(fact)) for d in range(len(fleet))}
        for value in domains.get(fact, ()):
            count = sum(
                1 for d in ready
                if all(holds(entries[i], {**fleet[d], fact: value}) for i in touching)
            )
            old = fleet[0].get(fact) if len(olds) == 1 and fleet else None
            change = _change(analyzer, fact, old, value)
            if len(olds) > 1:
                change = SettingChange(change.fact, change.label, "(varies)", change.new, None, value)
            ranking.append(FleetChange(change, count))
    ranking.sort(key=lambda c: -c.devices_satisfied)
    best = ranking[0]
    if best.change is not None and best.devices_satisfied == before:
        best = FleetChange(None, before)
    if best.change is not None:
        for values in fleet:
            after = _typed({**values, best.change.fact: best.change.new_value})
            ok = all(_interpreter_state(e, after) & satisfied for e in entries)
            if ok != all(holds(e, {**values, best.change.fact: best.change.new_value}) for e in entries):
                raise AssertionError("analysis bug: fleet evaluation disagrees with the interpreter")
    return FleetRepair(best, before, len(fleet), tuple(ranking[:top]))
