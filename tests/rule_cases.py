"""Shared machinery for the per-ruleset tests (``tests/test_ruleset_<name>.py``).

Each of those modules declares a baseline (facts on which every rule of its ruleset passes or
does not apply), passing variants and one failing variant per rule, then calls ``install``.
``install`` adds real test functions named by rule id to the module, e.g. ``test_KR_01_passes``
and ``test_KR_01_fails``:

* a passing variant makes the rule pass and no rule of the ruleset fail;
* the failing variant makes that rule, and only that rule of its ruleset, fail, with a
  remediation and (when the case names one) a reason that names the setting or fact at fault.

Every evaluation also runs with ``explain_all=True``: the compiled verdict function and the
explaining interpreter must agree on every rule.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from bitlocker_rules import Engine, Report, RuleOutcome, Status

Changes = Mapping[str, Any]


class RulesetCases:
    """A ruleset, its baseline facts, and the passing and failing variants of every rule."""

    def __init__(
        self,
        ruleset: str,
        base: Changes,
        passing: Mapping[str, Sequence[Changes]],
        failing: Mapping[str, tuple[Changes, str | None]],
        *,
        notes: Sequence[str] = (),
    ) -> None:
        self.ruleset = ruleset
        self.engine = Engine.load([ruleset])
        (self.loaded,) = self.engine.rulesets
        self.base = dict(base)
        self.passing = passing
        self.failing = failing
        self.notes = tuple(notes)

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self.loaded.rules]

    def facts(self, changes: Changes | None = None, remove: Sequence[str] = ()) -> dict[str, Any]:
        values = {**self.base, **(changes or {})}
        for name in remove:
            values.pop(name, None)
        return values

    def evaluate(self, changes: Changes | None = None, remove: Sequence[str] = ()) -> Report:
        values = self.facts(changes, remove)
        report = self.engine.evaluate(self.engine.facts(values))
        explained = self.engine.evaluate(self.engine.facts(values), explain_all=True)
        fast = {o.rule: o.status for o in report.outcomes}
        slow = {o.rule: o.status for o in explained.outcomes}
        assert fast == slow, f"compiled and interpreted verdicts differ for {values}"
        return report


def with_status(report: Report, status: Status) -> set[str]:
    return {o.rule for o in report.outcomes if o.status is status}


def failing(report: Report) -> set[str]:
    return with_status(report, Status.FAIL)


def outcome(report: Report, rule: str) -> RuleOutcome:
    (found,) = [o for o in report.outcomes if o.rule == rule]
    return found


def _passes(cases: RulesetCases, rule: str):
    def test() -> None:
        for changes in cases.passing[rule]:
            report = cases.evaluate(changes)
            assert outcome(report, rule).status is Status.PASS, (changes, outcome(report, rule))
            assert failing(report) == set(), changes

    return test


def _fails(cases: RulesetCases, rule: str):
    def test() -> None:
        changes, label = cases.failing[rule]
        report = cases.evaluate(changes)
        assert failing(report) == {rule}, changes
        found = outcome(report, rule)
        declared = next(r for r in cases.loaded.rules if r.id == rule)
        assert found.remediation and found.remediation == declared.remediation
        assert found.events == declared.events
        assert f"{cases.ruleset}.rules:" in found.location
        assert found.reasons, "a failing rule names the conditions that decided it"
        # The reason a reviewer reads says what is wrong: some condition failed, and (when the
        # case names it) that condition is about the expected setting or fact.
        failed = [c for c in found.reasons if c.status is Status.FAIL]
        assert failed, found.reasons
        if label is not None:
            assert label in [c.label for c in failed], [c.label for c in found.reasons]
        for condition in found.reasons:
            assert condition.sentence()

    return test


def install(namespace: MutableMapping[str, Any], cases: RulesetCases) -> None:
    """Add ``test_<ID>_passes`` / ``test_<ID>_fails`` for every rule, plus ruleset-wide tests."""

    def test_every_rule_has_a_passing_and_a_failing_case() -> None:
        assert set(cases.passing) == set(cases.rule_ids) == set(cases.failing)

    def test_baseline_fails_no_rule_and_knows_every_fact() -> None:
        report = cases.evaluate()
        assert failing(report) == set()
        assert with_status(report, Status.UNKNOWN) == set()
        assert report.exit_code() == 0

    def test_notes_are_the_expected_ones() -> None:
        assert [r.id for r in cases.loaded.notes] == list(cases.notes)

    def test_every_rule_is_documented() -> None:
        for rule in cases.loaded.ruleset.rules:
            assert rule.title and rule.sources and rule.rationale, rule.id
            if rule.kind == "rule":
                assert rule.remediation, rule.id
            # Reference source keys S13..S24 / S1o would read as seed ids; seed ids stop at S12.
            for source in rule.sources:
                assert not (source.startswith("S") and source[1:].isdigit() and int(source[1:]) > 12), source

    for test in (test_every_rule_has_a_passing_and_a_failing_case, test_baseline_fails_no_rule_and_knows_every_fact,
                 test_notes_are_the_expected_ones, test_every_rule_is_documented):
        namespace[test.__name__] = test
    for rule in cases.rule_ids:
        stem = rule.replace("-", "_")
        for suffix, make, table in (("passes", _passes, cases.passing), ("fails", _fails, cases.failing)):
            if rule in table:
                test = make(cases, rule)
                test.__name__ = test.__qualname__ = f"test_{stem}_{suffix}"
                test.__doc__ = f"{rule}: its {'passing' if suffix == 'passes' else 'failing'} variants."
                namespace[test.__name__] = test
