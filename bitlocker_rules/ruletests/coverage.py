"""Coverage of rules by their test cases: which conditions were ever decisive for which outcome.

A rule's conditions are its atomic conditions as written, each by its place in the rule file
(a condition of a ``define`` the rule uses is the definition's; the condition a ``scenario``
clause adds is the clause's): the tests (``==``, ``in``, ``is present``, …) and the
quantifiers over a collection, found in its ``when`` (and scenario) and its ``require``
clauses. A condition is decisive for an outcome when an explained verdict of that outcome
cites it as decisive (``Condition.decisive``: in the minimal set of conditions that alone
forces the verdict).

The denominator is each condition times the outcomes a condition of its clause and kind can
decide: a ``when`` condition fail, unknown and not applicable (a rule that applies and passes
cites only its requirements); a ``require`` condition pass, fail and unknown (even a presence
test, which is never unknown itself, is cited for an unknown verdict when whether the rule
applies is not known); a ``disputed`` rule never fails and an ``unconfirmed`` one never passes
(those verdicts are unknown). Whether a rule's other conditions let an outcome happen is not
computed: an outcome no case can reach stays uncovered, and the report names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from attrs import frozen

from .. import nodes as n
from ..engine import LoadedRuleset
from ..outcome import Condition, RuleOutcome, Status
from ..source import Location, Span

WHEN_OUTCOMES = (Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE)
REQUIRE_OUTCOMES = (Status.PASS, Status.FAIL, Status.UNKNOWN)
_TESTS = (n.Compare, n.Member, n.Presence)


@frozen
class ConditionCoverage:
    """One condition of a rule as written: where it is, its clause, the outcomes it can decide
    and those some case saw it decide."""

    text: str
    clause: str  # "when" or "require"
    span: Span
    location: Location | None
    possible: tuple[Status, ...]
    decided: tuple[Status, ...]

    @property
    def missed(self) -> tuple[Status, ...]:
        """The outcomes it can decide that no case saw it decide."""
        return tuple(s for s in self.possible if s not in self.decided)


class _Share:
    """What covered pairs of a condition and an outcome are of all of them (a rule, a file, the total)."""

    @property
    def covered(self) -> int:
        """Pairs of a condition and an outcome some case saw."""
        raise NotImplementedError

    @property
    def total(self) -> int:
        """Pairs of a condition and an outcome that can happen."""
        raise NotImplementedError

    @property
    def percent(self) -> float:
        """``covered`` of ``total``, in percent (the total's is what ``--fail-under`` compares)."""
        return percent(self.covered, self.total)


@frozen
class RuleCoverage(_Share):
    """A rule's conditions and how many (condition, outcome) pairs the cases covered."""

    ruleset: str
    rule: str
    file: str
    conditions: tuple[ConditionCoverage, ...]
    tested: bool  # some case names the rule in its expectations

    @property
    def covered(self) -> int:
        """Pairs of a condition and an outcome it was seen deciding."""
        return sum(len(c.decided) for c in self.conditions)

    @property
    def total(self) -> int:
        """Pairs of a condition and an outcome it can decide."""
        return sum(len(c.possible) for c in self.conditions)


@frozen
class FileCoverage(_Share):
    """The rules of one rule file."""

    file: str
    rules: tuple[RuleCoverage, ...]

    @property
    def covered(self) -> int:
        """Covered pairs of every rule of the file."""
        return sum(r.covered for r in self.rules)

    @property
    def total(self) -> int:
        """Pairs of every rule of the file."""
        return sum(r.total for r in self.rules)


@frozen
class Coverage(_Share):
    """Coverage of every rule file tested, and the rules no case names."""

    files: tuple[FileCoverage, ...]

    @property
    def covered(self) -> int:
        """Covered pairs of every file."""
        return sum(f.covered for f in self.files)

    @property
    def total(self) -> int:
        """Pairs of every file."""
        return sum(f.total for f in self.files)

    @property
    def untested(self) -> tuple[RuleCoverage, ...]:
        """The rules no case names, in file order."""
        return tuple(r for f in self.files for r in f.rules if not r.tested)


def percent(covered: int, total: int) -> float:
    """``covered`` of ``total`` in percent, to one decimal (100 when there is nothing to cover)."""
    return round(100.0 * covered / total, 1) if total else 100.0


@frozen
class Written:
    """A condition as written in a rule: its clause, its node, and whether it is read negated
    (under ``not``, or as an ``implies`` antecedent; both for an ``if``'s condition)."""

    clause: str  # "when" or "require"
    node: n.CheckedExpr
    negated: frozenset[bool]


def written_conditions(rule: n.CheckedRule) -> list[Written]:
    """Each condition of a rule as written, once, in reading order: tests and quantifiers,
    inside definitions too; not inside a ``count`` (its body is read as a number, never cited)."""
    found: dict[tuple[int, int], tuple[str, n.CheckedExpr, set[bool]]] = {}
    clauses = [("when", rule.applicability), *(("require", e) for e in rule.requires)]
    for clause, top in clauses:
        walked: set[tuple[int, bool]] = set()  # a definition used many times is walked once per polarity
        stack = [(top, False)] if top is not None else []
        while stack:
            node, negated = stack.pop()
            if (id(node), negated) in walked:
                continue
            walked.add((id(node), negated))
            if isinstance(node, (*_TESTS, n.Quantified)) and node.span is not None:
                found.setdefault((node.span.start, node.span.end), (clause, node, set()))[2].add(negated)
            if not isinstance(node, (*_TESTS, n.Const, n.Count)):
                stack.extend(reversed(_polar_children(node, negated)))
    return [Written(clause, node, frozenset(negated)) for clause, node, negated in found.values()]


def _polar_children(node: object, negated: bool) -> list[tuple[n.CheckedExpr, bool]]:
    """A node's children, each with whether it is read negated."""
    if isinstance(node, n.Not):
        return [(node.operand, not negated)]
    if isinstance(node, n.Implies):
        return [(node.antecedent, not negated), (node.consequent, negated)]
    if isinstance(node, n.Conditional):
        return [
            (node.condition, negated),
            (node.condition, not negated),
            (node.then, negated),
            (node.otherwise, negated),
        ]
    return [(child, negated) for child in n.children(node)]


def possible_outcomes(rule: n.CheckedRule, written: Written) -> tuple[Status, ...]:
    """The outcomes a condition of its clause and kind can decide in ``rule``. A quantifier is
    cited only over a missing collection (unknown) or an empty one, whose truth is fixed: ``all``
    holds, ``any`` does not (negated, the other way round)."""
    found: tuple[Status, ...] = WHEN_OUTCOMES if written.clause == "when" else REQUIRE_OUTCOMES
    if isinstance(written.node, n.Quantified):
        holds_when_empty = {(written.node.quantifier == "all") != negated for negated in written.negated}
        if written.clause == "when":  # holding, the rule applies (and can fail); not holding, it does not apply
            empty = {Status.FAIL if holds else Status.NOT_APPLICABLE for holds in holds_when_empty}
        else:
            empty = {Status.PASS if holds else Status.FAIL for holds in holds_when_empty}
        found = tuple(s for s in found if s is Status.UNKNOWN or s in empty)
    if rule.disputed:
        found = tuple(s for s in found if s is not Status.FAIL)
    if rule.unconfirmed:
        found = tuple(s for s in found if s is not Status.PASS)
    return found


class CoverageCounter:
    """Collects, case by case, which conditions each rule's explained outcomes cite as decisive."""

    def __init__(self) -> None:
        self.decided: dict[tuple[str, str], dict[tuple[int, int], set[Status]]] = {}
        self.tested: set[tuple[str, str]] = set()

    def count(self, outcome: RuleOutcome, *, named: bool) -> None:
        """Count an explained outcome whose verdict a case checked; ``named``: by name."""
        key = (outcome.ruleset, outcome.rule)
        if named:
            self.tested.add(key)
        hits = self.decided.setdefault(key, {})
        for condition in _decisive(outcome):
            if condition.span is not None:
                hits.setdefault((condition.span.start, condition.span.end), set()).add(outcome.status)

    def coverage(self, rulesets: Sequence[LoadedRuleset]) -> Coverage:
        """The coverage of every rule of ``rulesets`` (each file once, in the order given)."""
        files: dict[str, list[RuleCoverage]] = {}
        for loaded in rulesets:
            if loaded.path in files:
                continue
            files[loaded.path] = [self.rule_coverage(loaded, rule) for rule in loaded.rules]
        return Coverage(tuple(FileCoverage(path, tuple(rules)) for path, rules in files.items()))

    def rule_coverage(self, loaded: LoadedRuleset, rule: n.CheckedRule) -> RuleCoverage:
        """One rule's conditions with the outcomes each can decide and was seen deciding."""
        hits = self.decided.get((loaded.id, rule.id), {})
        source = loaded.ruleset.text
        conditions = []
        for written in written_conditions(rule):
            clause, span = written.clause, written.node.span
            assert span is not None  # written_conditions yields conditions with a place only
            possible = possible_outcomes(rule, written)
            seen = hits.get((span.start, span.end), set())
            text = source.excerpt(span) if source is not None else ""
            location = source.location(span) if source is not None else None
            decided = tuple(s for s in possible if s in seen)
            conditions.append(ConditionCoverage(text, clause, span, location, possible, decided))
        return RuleCoverage(loaded.id, rule.id, loaded.path, tuple(conditions), (loaded.id, rule.id) in self.tested)


def _decisive(outcome: RuleOutcome) -> Iterable[Condition]:
    return (c for c in (*outcome.reasons, *outcome.applies_because) if c.decisive)


def by_rule(coverage: Coverage) -> Mapping[tuple[str, str], RuleCoverage]:
    """Every rule's coverage by (ruleset, rule id)."""
    return {(r.ruleset, r.rule): r for f in coverage.files for r in f.rules}
