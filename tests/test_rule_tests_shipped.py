"""The shipped rulesets' own tests: their case files (``rulesets/<name>.tests.toml``), run by
``bitlocker-rules test``, and what those cases cannot say, checked here on the same cases.

The case files hold every verdict: a baseline on which no rule fails, passing and failing cases
of every rule, each rule about a scenario out of it and in it, when each note applies. This
module runs them (through the command line too, as CI does), holds each ruleset to having those
cases, and checks on them what is not a verdict: a failing rule's outcome carries its severity,
fix, events, citations and scenarios; a caveat says why a disputed rule does not fail and an
unconfirmed one does not pass; every rule's texts and citations (``rule_cases.text_problems``).
"""

from __future__ import annotations

import pytest
from rule_cases import DISPUTED, RULESETS, UNCONFIRMED, citable_ids, failed_labels, text_problems

from bitlocker_rules import Engine, Report, RuleOutcome, Status
from bitlocker_rules.cli import main
from bitlocker_rules.report import render_test_run
from bitlocker_rules.ruletests import CASE_SUFFIX, Case, CaseFile, run_tests
from bitlocker_rules.ruletests.coverage import CoverageCounter, possible_outcomes, written_conditions
from bitlocker_rules.vocabulary import shipped_vocabulary

VOCABULARY = shipped_vocabulary()
SHIPPED = Engine.load().rulesets
RUNS = {loaded.id: run_tests([RULESETS / f"{loaded.id}{CASE_SUFFIX}"], VOCABULARY) for loaded in SHIPPED}
FILES = {ruleset: run.files[0] for ruleset, run in RUNS.items()}
RULES = [(loaded.id, rule) for loaded in SHIPPED for rule in loaded.rules]
NOTES = [(loaded.id, note) for loaded in SHIPPED for note in loaded.notes]


def rule_ids(pairs):
    return [rule.id for _, rule in pairs]


def report_of(ruleset: str, case: Case) -> Report:
    """The case's report as the runner made it, every rule explained."""
    (found,) = [r.report for r in RUNS[ruleset].results if r.case is case]
    return found


def outcome(report: Report, rule: str) -> RuleOutcome:
    (found,) = [o for o in report.outcomes if o.rule == rule]
    return found


def expecting(file: CaseFile, rule: str, *verdicts: str, declared: bool | None = None) -> list[Case]:
    """The cases whose own expectation for ``rule`` is exactly ``verdicts`` (declared: with the
    ruleset's scenarios declared, True, or none declared, False)."""
    return [
        case
        for case in file.cases
        if any(e.rule == rule and e.verdicts == verdicts for e in case.expected)
        and (declared is None or (case.scenarios != ()) is declared)
    ]


# --- the case files run


@pytest.mark.parametrize("ruleset", sorted(FILES))
def test_the_case_file_passes(ruleset):
    run = RUNS[ruleset]
    assert not run.failed, render_test_run(run, "text")
    assert all(result.checked for result in run.results)


def test_bitlocker_rules_test_runs_every_shipped_case_file(capsys):
    """What CI runs: every shipped ruleset has a case file, and every case passes."""
    assert main(["test"]) == 0
    out = capsys.readouterr().out
    assert "No case file" not in out
    for ruleset in FILES:
        assert f"rulesets/{ruleset}{CASE_SUFFIX}: " in out


# --- each rule's cases


@pytest.mark.parametrize(("ruleset", "rule"), RULES, ids=rule_ids(RULES))
def test_every_rule_has_a_passing_and_a_failing_case(ruleset, rule):
    file = FILES[ruleset]
    passing = expecting(file, rule.id, "unknown" if rule.unconfirmed else "pass")
    failing = expecting(file, rule.id, "unknown" if rule.disputed else "fail", declared=True)
    assert [c for c in passing if c.others], f"{rule.id} has no passing case that checks the other rules"
    first = next((c for c in failing if c.name.startswith(f"{rule.id} fails")), None)
    assert first is not None and first.others, f"{rule.id}: no failing case that checks the other rules"
    (reason,) = [e.reason for e in first.expected if e.rule == rule.id]
    assert reason, f"{rule.id}: its failing case names the fact at fault (reason)"


@pytest.mark.parametrize(("ruleset", "rule"), [(r, rule) for r, rule in RULES if rule.scenarios], ids=str)
def test_a_rule_about_a_scenario_has_a_case_out_of_it_and_in_it(ruleset, rule):
    file = FILES[ruleset]
    assert expecting(file, rule.id, "not_applicable", declared=False), f"{rule.id}: no case out of its scenario"
    within = expecting(file, rule.id, "unknown" if rule.disputed else "fail", declared=False)
    assert within, f"{rule.id}: no case in its scenario with no scenario declared"


@pytest.mark.parametrize(("ruleset", "note"), NOTES, ids=rule_ids(NOTES))
def test_every_note_has_cases_saying_when_it_applies(ruleset, note):
    file = FILES[ruleset]
    said = {
        v for case in file.cases if case.scenarios == () for e in case.expected if e.rule == note.id for v in e.verdicts
    }
    if note.applicability is None:
        assert said == {"applies"}, "a note without `when` or `scenario` always applies"
    else:
        assert {"applies", "not_applicable"} <= said, "a case where the note applies and one where it does not"


# --- what the cases cannot say


@pytest.mark.parametrize(("ruleset", "rule"), RULES, ids=rule_ids(RULES))
def test_the_failing_outcome_carries_the_rules_texts(ruleset, rule):
    file = FILES[ruleset]
    case = next(c for c in file.cases if c.name.startswith(f"{rule.id} fails"))  # the first
    report = report_of(ruleset, case)
    found = outcome(report, rule.id)
    if rule.disputed:
        # The sources disagree on what it would fail: unknown with that caveat, never fail.
        assert found.caveat == DISPUTED + rule.disputed
        assert report.exit_code() == 0
    else:
        assert not found.caveat
        # --fail-on counts it at its own severity, and not above it.
        assert report.exit_code(rule.severity) == 1
        if rule.severity != "error":
            assert report.exit_code("error") == 0
    assert found.severity == rule.severity
    assert found.remediation and found.remediation == rule.remediation
    assert found.events == rule.events
    assert (found.encodes, found.related) == (rule.encodes, rule.related)
    assert found.advice is (bool(rule.related) and not rule.encodes)
    assert found.scenarios == rule.scenarios
    assert found.location is not None and found.location.file.endswith(f"{ruleset}.rules")
    assert failed_labels(found), "the reason a reviewer reads names a requirement that did not hold"
    for condition in found.reasons:
        assert condition.sentence()
        if condition.status is Status.FAIL:
            # A fact that failed has a value, unless the rule asked for one (``is present``).
            assert not condition.missing or condition.text.endswith("is present"), condition
    if rule.scenarios and not rule.disputed:
        # Why it applies names the scenario.
        assert {f"scenario.{s}" for s in rule.scenarios} & {c.fact for c in found.applies_because}


@pytest.mark.parametrize(("ruleset", "rule"), RULES, ids=rule_ids(RULES))
def test_a_passing_case_says_why_an_unconfirmed_rule_is_unknown(ruleset, rule):
    file = FILES[ruleset]
    passing = expecting(file, rule.id, "unknown" if rule.unconfirmed else "pass")
    for case in [c for c in passing if c.name.startswith(f"{rule.id} passes")]:
        found = outcome(report_of(ruleset, case), rule.id)
        if rule.unconfirmed:
            # Nothing confirms that passing is enough: the verdict is unknown, never pass.
            assert found.caveat == UNCONFIRMED + rule.unconfirmed, case.name
            assert not failed_labels(found) and not found.missing_facts, found.reasons
        else:
            assert not found.caveat, case.name


@pytest.mark.parametrize(("ruleset", "rule"), [*RULES, *NOTES], ids=rule_ids([*RULES, *NOTES]))
def test_texts_and_citations(ruleset, rule):
    assert text_problems(rule, VOCABULARY, citable_ids()) == []


def test_the_coverage_docs_authoring_reports_is_the_shipped_coverage():
    """docs/authoring.md's table of the shipped rulesets' coverage is what the cases cover now."""
    run = run_tests([RULESETS], VOCABULARY, with_coverage=True)
    assert run.coverage is not None
    rows = [f"| `{f.file}` | {f.covered} of {f.total} ({f.percent:.1f}%) |" for f in run.coverage.files]
    total = f"| total | {run.coverage.covered} of {run.coverage.total} ({run.coverage.percent:.1f}%) |"
    page = (RULESETS.parent / "docs" / "authoring.md").read_text(encoding="utf-8")
    table = [line for line in page.splitlines() if line.startswith(("| `rulesets/", "| total |"))]
    assert table == [*rows, total]


def test_no_condition_decides_an_outcome_coverage_counts_impossible():
    """The denominator holds: every outcome the shipped cases saw a condition decide is one that
    coverage counts as possible for it (else it would be seen, and never counted)."""
    counter = CoverageCounter()
    for result in (r for run in RUNS.values() for r in run.results):
        for found in result.report.outcomes:
            counter.count(found, named=True)
    outside = []
    for loaded in SHIPPED:
        for rule in loaded.rules:
            seen = counter.decided.get((loaded.id, rule.id), {})
            for written in written_conditions(rule):
                span = written.node.span
                extra = seen.get((span.start, span.end), set()) - set(possible_outcomes(rule, written))
                outside += [(rule.id, written.clause, loaded.ruleset.text.excerpt(span), s.value) for s in extra]
    assert outside == []
