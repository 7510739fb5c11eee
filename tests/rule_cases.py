"""Shared machinery for the per-ruleset tests (``tests/test_ruleset_<name>.py``).

Each of those modules declares a baseline (facts on which every rule of its ruleset passes or
does not apply), passing variants and one failing variant per rule, when each note applies,
then calls ``install``. ``install`` adds real test functions named by rule id to the module,
e.g. ``test_KR_01_passes``, ``test_KR_01_fails``, ``test_KR_01_texts`` and, for a note,
``test_RK_09_applies``:

* a passing variant makes the rule pass and no rule of the ruleset fail or turn unknown. A rule
  marked ``unconfirmed`` never passes: where it would, it is unknown with a caveat saying so;
* the failing variant makes that rule, and only that rule of its ruleset, fail, with the
  declared severity, remediation, events, citations and scenarios, and a reason that names the
  setting or fact at fault (its label, as the admin reads it). A rule marked ``disputed``
  never fails: where it would, it is unknown with a caveat saying the sources disagree;
* a rule about a scenario (``scenario NAME``) does not apply to its failing variant when the
  input says the scenario is out of scope, and fails it when the input says it is in scope;
* a note's cases say whether it applies (True, False, or None: cannot tell), with no scenario
  declared, so that it follows from the facts alone;
* the texts of every rule and note cite only ids of ``rulesets/requirements.toml``, cite with
  ``sources`` or ``related`` (not both), carry no working-paper words ("seed", "reference
  1.2", section numbers), say "Microsoft Entra" (the old name only in brackets after it), and
  a remediation that names a policy setting walks the admin center to it (``A > B``).

Every evaluation also runs with ``explain_all=True``: the compiled verdict function and the
explaining interpreter must agree on every rule.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from bitlocker_rules import Engine, Report, RuleOutcome, Status, Vocabulary
from bitlocker_rules import nodes as n

Changes = Mapping[str, Any]

REQUIREMENTS = Path(__file__).resolve().parents[1] / "rulesets" / "requirements.toml"
DISPUTED = "the sources disagree: "
UNCONFIRMED = "not confirmed by the sources: "


def citable_ids() -> set[str]:
    """Every id ``rulesets/requirements.toml`` lists: requirements, causes and documents."""
    data = tomllib.loads(REQUIREMENTS.read_text(encoding="utf-8"))
    return {item["id"] for table in ("requirements", "causes", "documents") for item in data[table]}


class RulesetCases:
    """A ruleset, its baseline facts, the passing and failing variants of every rule, and
    when each note applies.

    ``engine`` is the engine a user gets with ``Engine.load([ruleset])``: naming the ruleset
    declares the scenarios of its header. ``undeclared`` holds the same rules with no scenario
    declared, so every scenario is inferred from the facts (or given by the input).
    """

    def __init__(
        self,
        ruleset: str,
        base: Changes,
        passing: Mapping[str, Sequence[Changes]],
        failing: Mapping[str, tuple[Changes, str]],
        *,
        notes: Mapping[str, Sequence[tuple[Changes, bool | None]]] | None = None,
        text_gaps: Mapping[str, str] | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.engine = Engine.load([ruleset])
        (self.loaded,) = self.engine.rulesets
        self.undeclared = Engine([self.loaded])
        self.base = dict(base)
        self.passing = passing
        self.failing = failing
        self.notes = dict(notes or {})
        # Rule id -> why its texts are known not to meet the text checks (reported, not fixed here).
        self.text_gaps = dict(text_gaps or {})

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self.loaded.rules]

    @property
    def note_ids(self) -> list[str]:
        return [r.id for r in self.loaded.notes]

    @property
    def unconfirmed(self) -> set[str]:
        """Rules that never pass (where they would, they are unknown with a caveat)."""
        return {r.id for r in self.loaded.rules if r.unconfirmed}

    def rule(self, rule_id: str) -> n.Rule:
        (found,) = [r for r in self.loaded.ruleset.rules if r.id == rule_id]
        return found

    def facts(self, changes: Changes | None = None, remove: Sequence[str] = ()) -> dict[str, Any]:
        values = {**self.base, **(changes or {})}
        for name in remove:
            values.pop(name, None)
        return values

    def evaluate(
        self, changes: Changes | None = None, remove: Sequence[str] = (), *, engine: Engine | None = None
    ) -> Report:
        engine = engine or self.engine
        values = self.facts(changes, remove)
        report = engine.evaluate(engine.facts(values))
        explained = engine.evaluate(engine.facts(values), explain_all=True)
        fast = {o.rule: o.status for o in report.outcomes}
        slow = {o.rule: o.status for o in explained.outcomes}
        assert fast == slow, f"compiled and interpreted verdicts differ for {values}"
        return report

    def status(
        self, rule: str, changes: Changes | None = None, remove: Sequence[str] = (), *, engine: Engine | None = None
    ) -> Status:
        return outcome(self.evaluate(changes, remove, engine=engine), rule).status

    def note(
        self, note: str, changes: Changes | None = None, remove: Sequence[str] = (), *, engine: Engine | None = None
    ) -> bool | None:
        (found,) = [o for o in self.evaluate(changes, remove, engine=engine).notes if o.rule == note]
        return found.applies


def short(changes: Changes) -> str:
    """A variant as an assertion message: long values cut."""
    text = repr(dict(changes))
    return text if len(text) < 300 else text[:300] + "…"


def with_status(report: Report, status: Status) -> set[str]:
    return {o.rule for o in report.outcomes if o.status is status}


def failing(report: Report) -> set[str]:
    return with_status(report, Status.FAIL)


def unknown(report: Report) -> set[str]:
    return with_status(report, Status.UNKNOWN)


def outcome(report: Report, rule: str) -> RuleOutcome:
    (found,) = [o for o in report.outcomes if o.rule == rule]
    return found


def failed_labels(found: RuleOutcome) -> list[str]:
    """Labels of the requirements that did not hold (what a reviewer reads as the fault)."""
    return [c.label for c in found.reasons if c.status is Status.FAIL and c.role == "require"]


# --- texts ---------------------------------------------------------------------------------------

# A dotted number a rule text may carry: a TPM version ("TPM 1.2"), a Windows version
# ("10.0.17763") or an OS build with its revision ("17763.529"). Any other one ("5.3", "2.7")
# reads as a section number of a working paper.
_DOTTED = re.compile(r"(?<![\w.])(\d+(?:\.\d+)+)")
_ALLOWED_DOTTED = re.compile(r"^(?:10\.0\.\d+(?:\.\d+)?|\d{5}\.\d+)$")


def text_problems(rule: n.Rule, vocabulary: Vocabulary, known: set[str]) -> list[str]:
    """What is wrong with a rule's (or note's) texts and citations; empty when nothing is."""
    problems = []
    if bool(rule.encodes) == bool(rule.related):
        problems.append("cites with both `sources` and `related`" if rule.encodes else "cites nothing")
    problems += [
        f"cites {ref}, which rulesets/requirements.toml does not list"
        for ref in (*rule.encodes, *rule.related)
        if ref not in known
    ]
    texts = {
        "title": rule.title,
        "rationale": rule.rationale,
        "remediation": rule.remediation,
        "disputed": rule.disputed,
        "unconfirmed": rule.unconfirmed,
    }
    for name, text in texts.items():
        for word in re.findall(r"\b(seeds?|references?)\b", text, flags=re.IGNORECASE):
            problems.append(f"{name} says {word!r}")
        for match in _DOTTED.finditer(text):
            number = match.group(1)
            before = text[: match.start()].rstrip()
            if not (_ALLOWED_DOTTED.match(number) or before.endswith("TPM")):
                problems.append(f"{name} carries the section number {number}")
        for old in re.finditer(r"Azure AD|Azure Active Directory", text):
            # The old name may follow the new one in brackets: "Microsoft Entra ID (Azure AD)".
            if name in ("title", "remediation") or text[max(0, old.start() - 1)] != "(":
                problems.append(f"{name} says {old.group()!r} instead of Microsoft Entra")
    if rule.kind == "rule" and not rule.remediation:
        problems.append("has no remediation")
    if not rule.rationale:
        problems.append("has no rationale")
    settings = [f.label for f in vocabulary.facts.values() if f.name.startswith("policy.")]
    named = [label for label in settings if re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", rule.remediation)]
    if named and " > " not in rule.remediation:
        problems.append(f"remediation names {max(named, key=len)!r} without the path to it in the admin center (A > B)")
    return problems


# --- generated tests --------------------------------------------------------------------------------


def _passes(cases: RulesetCases, rule: str):
    def test() -> None:
        declared = cases.rule(rule)
        assert cases.passing.get(rule), f"{rule} has no passing variant"
        for changes in cases.passing[rule]:
            report = cases.evaluate(changes)
            found = outcome(report, rule)
            if declared.unconfirmed:
                # Nothing confirms that passing is enough: the verdict is unknown, never pass.
                assert found.status is Status.UNKNOWN, (short(changes), found)
                assert found.caveat == UNCONFIRMED + declared.unconfirmed
                assert not failed_labels(found) and not found.missing_facts, found.reasons
            else:
                assert found.status is Status.PASS, (short(changes), found)
                assert not found.caveat
            assert failing(report) == set(), short(changes)
            assert unknown(report) <= cases.unconfirmed, (short(changes), unknown(report))

    return test


def _fails(cases: RulesetCases, rule: str):
    def test() -> None:
        declared = cases.rule(rule)
        assert rule in cases.failing, f"{rule} has no failing variant"
        changes, label = cases.failing[rule]
        report = cases.evaluate(changes)
        found = outcome(report, rule)
        if declared.disputed:
            # The sources disagree on what it would fail: unknown with that caveat, never fail.
            assert failing(report) == set(), short(changes)
            assert found.status is Status.UNKNOWN
            assert found.caveat == DISPUTED + declared.disputed
            assert report.exit_code() == 0
        else:
            assert failing(report) == {rule}, (short(changes), failing(report))
            assert found.status is Status.FAIL and not found.caveat
            # --fail-on counts it at its own severity, and not above it.
            assert report.exit_code(declared.severity) == 1
            if declared.severity != "error":
                assert report.exit_code("error") == 0
        assert unknown(report) - {rule} <= cases.unconfirmed, unknown(report)
        assert found.severity == declared.severity
        assert found.remediation and found.remediation == declared.remediation
        assert found.events == declared.events
        assert (found.encodes, found.related) == (declared.encodes, declared.related)
        assert found.advice is (bool(declared.related) and not declared.encodes)
        assert found.scenarios == declared.scenarios
        assert found.location is not None and found.location.file.endswith(f"{cases.ruleset}.rules")
        # The reason a reviewer reads says what is wrong: a requirement about the expected
        # setting or fact did not hold, and its value is known.
        assert found.reasons, "a failing rule names the conditions that decided it"
        assert label in failed_labels(found), [(c.label, c.status, c.role) for c in found.reasons]
        for condition in found.reasons:
            assert condition.sentence()
            if condition.status is Status.FAIL:
                # A fact that failed has a value, unless the rule asked for one (``is present``).
                assert not condition.missing or condition.text.endswith("is present"), condition
        if declared.scenarios and not declared.disputed:
            # Why it applies names the scenario.
            assert {f"scenario.{s}" for s in declared.scenarios} & {c.fact for c in found.applies_because}

    return test


def _scenario_decides(cases: RulesetCases, rule: str):
    def test() -> None:
        declared = cases.rule(rule)
        assert rule in cases.failing, f"{rule} has no failing variant"
        changes, _ = cases.failing[rule]
        out = {f"scenario.{s}": False for s in declared.scenarios}
        assert cases.status(rule, {**changes, **out}, engine=cases.undeclared) is Status.NOT_APPLICABLE
        within = {f"scenario.{s}": True for s in declared.scenarios}
        expected = Status.UNKNOWN if declared.disputed else Status.FAIL
        assert cases.status(rule, {**changes, **within}, engine=cases.undeclared) is expected

    return test


def _applies(cases: RulesetCases, note: str):
    def test() -> None:
        assert cases.notes.get(note), f"{note} has no cases saying when it applies"
        expected = {applies for _, applies in cases.notes[note]}
        if cases.rule(note).applicability is None:
            assert expected == {True}, "a note without `when` or `scenario` always applies"
        else:
            assert {True, False} <= expected, "a case where the note applies and one where it does not"
        for changes, applies in cases.notes[note]:
            # With no scenario declared: whether a note applies follows from the facts alone.
            assert cases.note(note, changes, engine=cases.undeclared) is applies, short(changes)

    return test


def _texts(cases: RulesetCases, rule: str):
    def test() -> None:
        problems = text_problems(cases.rule(rule), cases.engine.vocabulary, citable_ids())
        assert problems == []

    return test


def _name(rule: str, suffix: str) -> str:
    return f"test_{rule.replace('-', '_')}_{suffix}"


def install(namespace: MutableMapping[str, Any], cases: RulesetCases) -> None:
    """Add the per-rule and ruleset-wide tests to a test module's namespace."""

    def test_every_rule_has_a_passing_and_a_failing_case() -> None:
        assert set(cases.passing) == set(cases.rule_ids) == set(cases.failing)

    def test_every_note_has_its_cases() -> None:
        assert set(cases.notes) == set(cases.note_ids)

    def test_baseline_fails_no_rule_and_knows_every_fact() -> None:
        report = cases.evaluate()
        assert failing(report) == set()
        assert unknown(report) <= cases.unconfirmed
        assert report.exit_code() == 0

    def test_text_gaps_are_rules_of_this_ruleset() -> None:
        assert set(cases.text_gaps) <= set(cases.rule_ids) | set(cases.note_ids)

    for test in (
        test_every_rule_has_a_passing_and_a_failing_case,
        test_every_note_has_its_cases,
        test_baseline_fails_no_rule_and_knows_every_fact,
        test_text_gaps_are_rules_of_this_ruleset,
    ):
        namespace[test.__name__] = test

    def add(rule: str, suffix: str, test, doc: str, marks: Iterable[Any] = ()) -> None:
        test.__name__ = test.__qualname__ = _name(rule, suffix)
        test.__doc__ = f"{rule}: {doc}"
        for mark in marks:
            test = mark(test)
        namespace[_name(rule, suffix)] = test

    # One test per rule (and note) of the ruleset, whether its cases are given or not: a rule
    # without cases fails its own tests, by name, rather than having none.
    for rule in cases.rule_ids:
        add(rule, "passes", _passes(cases, rule), "its passing variants.")
        add(rule, "fails", _fails(cases, rule), "its failing variant.")
        if cases.rule(rule).scenarios:
            add(
                rule,
                "follows_its_scenario",
                _scenario_decides(cases, rule),
                "applies to its failing variant only when its scenario is in scope.",
            )
    for note in cases.note_ids:
        add(note, "applies", _applies(cases, note), "when the note applies.")
    for rule in [*cases.rule_ids, *cases.note_ids]:
        gap = cases.text_gaps.get(rule)
        marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
        add(rule, "texts", _texts(cases, rule), "its texts and citations.", marks)
