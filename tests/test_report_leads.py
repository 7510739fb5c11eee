"""Device reports lead with the verdict and the causes (issue 10): the records behind that
order and what every format shows of them.

``Report.causes()`` folds the failures into their distinct causes (one setting or fact with
one value, however many rules it breaks), ``Report.undecided()`` groups what could not be
decided, and rules whose scenario is not known are set apart. The terminal report wraps to a
width; cited ids carry their titles; no report uses the project's internal words.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import attrs
import pytest

from bitlocker_rules.cli import main
from bitlocker_rules.engine import Engine
from bitlocker_rules.facts import merge_facts
from bitlocker_rules.importers import load_devices, load_policies
from bitlocker_rules.outcome import (
    Citation,
    Condition,
    ConflictRecord,
    InputRecord,
    Report,
    RuleOutcome,
    ScenarioRecord,
    Status,
    find_causes,
)
from bitlocker_rules.report.html import render_html
from bitlocker_rules.report.json_report import report_to_dict
from bitlocker_rules.report.markdown import render_markdown
from bitlocker_rules.report.table import DEFAULT_WIDTH, render_table

ROOT = Path(__file__).resolve().parents[1]
POLICY = "examples/policy-silent.json"
PIN_POLICY = "examples/policy-startup-pin.json"
LEGACY = "examples/device-legacy.json"
READY = "examples/device-ready.json"
FORMATS = ("table", "json", "markdown", "sarif", "junit", "html")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True)
def in_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def evaluate(policies=(POLICY,), devices=(LEGACY,), rules=None, scenarios=None) -> Report:
    """A report of every shipped ruleset (or ``rules``), as ``check`` makes it."""
    engine = Engine.load(list(rules) if rules else None, scenarios=scenarios)
    pols = [p for path in policies for p in load_policies(path, engine.vocabulary)]
    devs = [d for path in devices for d in load_devices(path, engine.vocabulary)]
    subject = devs[0].name if devs else " + ".join(p.name for p in pols)
    facts = merge_facts([*(p.facts for p in pols), *(d.facts for d in devs)], name=subject)
    return attrs.evolve(
        engine.evaluate(facts), inputs=tuple(InputRecord(i.name, i.origin, i.kind) for i in [*pols, *devs])
    )


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def flat(text: str) -> str:
    """``text`` on one line: wrapped lines joined, so a test reads sentences, not layout."""
    return " ".join(ANSI.sub("", text).split())


def failing(rule: str, fact: str, actual: str, severity: str = "error", required: str = "x", **more) -> RuleOutcome:
    """A failing outcome blamed on ``fact`` having ``actual``."""
    return RuleOutcome(
        "rs",
        rule,
        f"Rule {rule}",
        severity,
        ("S1",),
        Status.FAIL,
        (Condition(fact, fact.split(".")[-1], actual, required, Status.FAIL),),
        remediation=more.get("remediation", f"Fix {fact}."),
        events=more.get("events", ()),
    )


# ---------------------------------------------------------------------------------------------
# Causes


def test_one_value_breaking_several_rules_is_one_cause():
    outcomes = (
        failing("A-1", "device.os_version", "1803", required="1809 or later", events=(851,)),
        failing("A-2", "device.firmware_mode", "Legacy", severity="warning"),
        failing(
            "A-3",
            "device.os_version",
            "1803",
            severity="warning",
            required="1909 or later",
            remediation="Fix device.os_version.",
            events=(852,),
        ),
        failing("A-4", "policy.tpm_startup_pin", "Required", severity="info"),
    )
    causes = find_causes(outcomes)
    assert [c.fact for c in causes] == ["device.os_version", "device.firmware_mode", "policy.tpm_startup_pin"]
    os_version = causes[0]
    assert [r.rule for r in os_version.rules] == ["A-1", "A-3"]  # worst severity first
    assert [r.required for r in os_version.rules] == ["1809 or later", "1909 or later"]
    assert os_version.fixes == ("Fix device.os_version.",)  # the same fix once
    assert os_version.events == (851, 852)
    assert os_version.sentence() == "os_version is 1803"
    assert [c.kind for c in causes] == ["fact", "fact", "setting"]


def test_causes_are_sorted_by_worst_severity_then_by_number_of_rules():
    outcomes = (
        failing("B-1", "device.a", "1", severity="warning"),
        failing("B-2", "device.a", "1", severity="warning"),
        failing("B-3", "device.b", "2"),
        failing("B-4", "device.c", "3"),
        failing("B-5", "device.c", "3"),
    )
    assert [c.fact for c in find_causes(outcomes)] == ["device.c", "device.b", "device.a"]


def test_a_failure_is_blamed_on_its_decisive_conditions_only():
    outcome = RuleOutcome(
        "rs",
        "C-1",
        "Rule",
        "error",
        (),
        Status.FAIL,
        (
            Condition("device.a", "A", "1", "2", Status.FAIL, decisive=True),
            Condition("device.b", "B", "1", "2", Status.FAIL, decisive=False),
        ),
    )
    assert [c.fact for c in find_causes([outcome])] == ["device.a"]


def test_a_setting_in_conflict_is_a_cause_of_its_own_kind():
    conflict = ConflictRecord(
        "policy.pin", "PIN", (("policy 'A'", "Blocked", "Do not allow"), ("policy 'B'", "Required", "Require"))
    )
    unknown = RuleOutcome(
        "rs",
        "D-1",
        "Rule",
        "error",
        (),
        Status.UNKNOWN,
        (Condition("policy.pin", "PIN", None, "anything but Require", Status.UNKNOWN, conflict="A sets …"),),
    )
    (cause,) = find_causes([unknown], [conflict])
    assert cause.kind == "conflict" and cause.actual is None
    assert [(r.rule, r.status) for r in cause.rules] == [("D-1", Status.UNKNOWN)]
    assert cause.sentence() == "PIN is in conflict: policy 'A' sets Do not allow; policy 'B' sets Require"
    report = Report("device 'X'", (unknown,), conflicts=(conflict,))
    assert report.undecided() == ()  # its only unknown is the conflict: shown as a cause, not again


def test_the_shipped_legacy_device_has_one_cause_per_wrong_value():
    report = evaluate()
    causes = report.causes()
    values = {(c.fact, c.actual) for o in report.failed for c in o.reasons if c.status is Status.FAIL and c.decisive}
    assert {(c.fact, c.actual) for c in causes} == values
    assert len(causes) < len(report.failed)  # several rules share a cause
    os_version = next(c for c in causes if c.fact == "device.os_version")
    reading = {o.rule for o in report.failed if any(c.fact == "device.os_version" for c in o.reasons)}
    assert {r.rule for r in os_version.rules} == reading and len(reading) > 1
    blamed = {r.rule for c in causes for r in c.rules}
    assert blamed == {o.rule for o in report.failed}  # every failure has its cause


def test_the_table_opens_with_the_verdict_scenarios_and_causes(capsys):
    code, out = run(capsys, "check", "--policy", POLICY, "--device", LEGACY)
    assert code == 1
    report = evaluate()
    lines = out.splitlines()
    assert lines[0].startswith("BitLocker rules for device 'CONTOSO-DT-0107'")
    failed, causes = len(report.failed), len(report.causes())
    assert lines[2].startswith(f"FAIL — {failed} rules fail; {causes} causes.")
    order = [
        out.index(h)
        for h in (
            "What this check is about:",
            "Causes, worst first:",
            "Not known (",
            "Rules that fail or could not be decided:",
        )
    ]
    assert order == sorted(order)
    first = report.causes()[0]
    causes_text = flat(out.split("Causes, worst first:")[1].split("Not known (")[0])
    assert f"1. {first.sentence()}" in causes_text
    for ref in first.rules:
        assert f"{ref.rule} {ref.severity} {ref.title}" in causes_text
    assert f"value from: {LEGACY} $.facts." in causes_text  # the file the value came from


# ---------------------------------------------------------------------------------------------
# What is hidden, what is not known, scenarios


def test_rows_that_do_not_apply_and_passing_rows_are_hidden_unless_verbose(capsys):
    _, out = run(capsys, "check", "--policy", POLICY, "--device", LEGACY)
    report = evaluate()
    rows = re.findall(r"^(pass|FAIL|unknown|n/a)\s+\S+\s", out, re.M)
    assert "n/a" not in rows and "pass" not in rows
    na, passed = report.count(Status.NOT_APPLICABLE), report.count(Status.PASS)
    assert f"Not listed: {passed} rules that pass, {na} rules that do not apply" in flat(out)
    _, verbose = run(capsys, "check", "--policy", POLICY, "--device", LEGACY, "--verbose")
    rows = re.findall(r"^(pass|FAIL|unknown|n/a)\s+\S+\s", verbose.split("Every rule:")[1], re.M)
    assert rows.count("n/a") == na and rows.count("pass") == passed and len(rows) == len(report.outcomes)
    assert "Not listed" not in verbose
    for render in (render_markdown, render_html):
        page = render(report)
        for outcome in report.outcomes:
            if outcome.status is Status.NOT_APPLICABLE:
                assert outcome.title not in page, outcome.rule


def test_unknown_rules_are_grouped_by_what_they_miss():
    report = evaluate()
    groups = report.undecided()
    grouped = [r.rule for g in groups for r in g.rules]
    assert len(grouped) == len(set(grouped))
    for group in groups:
        for ref in group.rules:
            outcome = next(o for o in report.outcomes if o.rule == ref.rule)
            assert outcome.status is Status.UNKNOWN and not outcome.pending_scenarios
            assert {f for f, _ in group.facts} == {c.fact for c in outcome.reasons if c.missing and not c.conflict}
    assert any(len(g.rules) > 1 for g in groups)


def test_rules_whose_scenario_is_not_known_are_listed_under_it_not_among_the_unknowns(capsys):
    report = evaluate()
    pending = {s.name: report.not_evaluated(s.name) for s in report.scenarios if s.holds is None}
    name, rules = next((n, r) for n, r in pending.items() if r)
    assert all(o.status is Status.UNKNOWN for o in rules)
    _, out = run(capsys, "check", "--policy", POLICY, "--device", LEGACY)
    about = flat(out.split("What this check is about:")[1].split("Causes, worst first:")[0])
    scenario = next(s for s in report.scenarios if s.name == name)
    assert scenario.sentence() in about
    ids = ", ".join(o.rule for o in rules)
    assert (
        f"{len(rules)} rules about it were not evaluated ({ids}); if the check is about it, declare it with "
        f"--scenario {name}."
    ) in about
    rest = out.split("Causes, worst first:")[1]
    for outcome in rules:
        assert not re.search(rf"\b{outcome.rule}\b", rest), outcome.rule  # neither an unknown nor a row
    # declared, the scenario is in scope and its rules are evaluated
    _, declared = run(capsys, "check", "--policy", POLICY, "--device", LEGACY, "--scenario", name)
    assert f"in scope, declared with --scenario {name}" in flat(declared)
    assert "were not evaluated" not in flat(declared).split(scenario.label)[1].split(" - ")[0]
    assert not evaluate(scenarios=[name]).not_evaluated(name)


def test_scenarios_shown_are_those_the_rules_are_about():
    report = evaluate(rules=["silent_enablement"])
    assert [s.name for s in report.relevant_scenarios()] == ["silent_enablement"]
    assert "Recovery password rotation" not in render_table(report)
    assert len(report_to_dict(report)["scenarios"]) == len(report.scenarios)  # JSON carries every one


# ---------------------------------------------------------------------------------------------
# Citations and caveats


def test_cited_ids_are_shown_with_their_titles(capsys):
    report = evaluate(rules=["silent_enablement"])
    _, out = run(capsys, "check", "--rules", "silent_enablement", "--policy", POLICY, "--device", LEGACY)
    text = flat(out)
    for outcome in report.failed:
        for ref in outcome.encodes:
            cited = report.citation(ref)
            assert cited.title, ref
            assert f"encodes {cited.sentence()}" in text
    assert "sources: " not in text  # bare ids no longer reach the reader
    page = render_markdown(report)
    cited = report.citation(report.failed[0].encodes[0])
    assert f"[{cited.id}](<{cited.url}>): " in page


def synthetic_report() -> Report:
    """An advice rule and a rule whose sources disagree, with their citations."""
    advice = RuleOutcome(
        "rs",
        "E-1",
        "Secure Boot protects PCR 7",
        "warning",
        (),
        Status.UNKNOWN,
        (Condition("device.pcr7", "PCR 7", None, "Yes", Status.UNKNOWN),),
        related=("F5",),
    )
    disputed = RuleOutcome(
        "rs",
        "E-2",
        "Silent enablement uses a template",
        "error",
        ("P2",),
        Status.UNKNOWN,
        (Condition("policy.type", "Policy type", "Settings catalog", "Template", Status.FAIL),),
        caveat="the sources disagree: one page says so, another does not",
    )
    citations = (
        Citation("F5", "Secure Boot is off", "https://example.test/f5", "cause", "Known issues"),
        Citation("P2", "silent enablement comes from the template", "", "requirement", "Intune page"),
    )
    return Report("device 'X'", (advice, disputed), citations=citations)


@pytest.mark.parametrize("render", [render_table, render_markdown, render_html])
def test_advice_rules_are_labelled_and_a_caveat_is_the_reason(render):
    page = render(synthetic_report(), verbose=True)
    plain = flat(re.sub(r"<[^>]+>|\*\*|\\", "", page)).replace("&#x27;", "'")
    assert re.search(r"advice about \W*F5\W+Secure Boot is off \(Known issues\)", plain, re.I)
    assert re.search(r"encodes \W*P2\W+silent enablement comes from the template \(Intune page\)", plain, re.I)
    assert re.search(r"unknown because the sources disagree: one page says so, another does not", plain, re.I)


def test_the_table_marks_advice_in_the_rule_heading():
    out = render_table(synthetic_report(), verbose=True)
    assert "E-1 Secure Boot protects PCR 7 [unknown, warning, advice]" in out
    assert re.search(r"^unknown\s+E-2\s.*the sources disagree", out, re.M)  # the caveat is the row's reason


def test_json_carries_causes_scenarios_citations_and_the_outcomes_new_fields():
    report = evaluate()
    document = report_to_dict(report)
    assert [c["explanation"] for c in document["causes"]] == [c.sentence() for c in report.causes()]
    assert [c["id"] for c in document["citations"]] == [c.id for c in report.citations]
    tenant = next(s for s in document["scenarios"] if s["holds"] is None and s["not_evaluated"])
    assert tenant["not_evaluated"] == [o.rule for o in report.not_evaluated(tenant["name"])]
    advice = next(r for r in document["results"] if r["advice"])
    assert advice["related"] and not advice["sources"]
    assert all({"related", "advice", "caveat", "scenarios"} <= set(r) for r in document["results"])


def test_sarif_and_junit_carry_the_scenarios_and_sarif_the_citation_titles(capsys):
    report = evaluate(rules=["silent_enablement"])
    _, out = run(
        capsys, "check", "--rules", "silent_enablement", "--policy", POLICY, "--device", LEGACY, "--format", "sarif"
    )
    run_ = json.loads(out)["runs"][0]
    assert [s["name"] for s in run_["properties"]["scenarios"]] == [s.name for s in report.scenarios]
    descriptor = next(r for r in run_["tool"]["driver"]["rules"] if r["id"] == report.failed[0].rule)
    assert report.citation(report.failed[0].encodes[0]).sentence() in descriptor["help"]["text"]
    _, out = run(
        capsys, "check", "--rules", "silent_enablement", "--policy", POLICY, "--device", LEGACY, "--format", "junit"
    )
    properties = {p.get("name"): p.get("value") for p in ET.fromstring(out).iter("property")}
    assert properties["scenario.silent_enablement"] == "in scope, declared with --rules silent_enablement"


# ---------------------------------------------------------------------------------------------
# Words and widths


SHIPPED = [
    ([POLICY], [LEGACY], ()),
    ([POLICY], [READY], ()),
    ([PIN_POLICY], [READY], ()),
    ([PIN_POLICY], [], ()),
    ([POLICY, PIN_POLICY], [LEGACY], ()),
    (
        ["examples/graph/endpoint-protection-beta.json", "examples/graph/endpoint-protection-startup-pin.json"],
        ["examples/graph/managed-device.json"],
        (),
    ),
    (["examples/graph/settings-catalog-bitlocker.json"], ["examples/graph/encryption-state.json"], ()),
    (["examples/graph/custom-oma-uri.json"], ["examples/graph/recovery-keys.json"], ()),
    ([POLICY], [LEGACY], ("--rules", "silent_enablement")),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("policies", "devices", "extra"), SHIPPED)
def test_no_report_uses_internal_words(capsys, fmt, policies, devices, extra):
    for verbose in ((), ("--verbose",)):
        _, out = run(
            capsys,
            "check",
            *extra,
            *(a for p in policies for a in ("--policy", p)),
            *(a for d in devices for a in ("--device", d)),
            "--format",
            fmt,
            *verbose,
        )
        assert "seed" not in out.lower()
        if fmt in ("table", "markdown", "html"):  # prose for people: a rule "does not apply"
            assert "not_applicable" not in out
            assert "n/a" not in out or (fmt == "table" and verbose), "n/a outside the table's status column"


@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "sarif", "html"])
def test_no_fleet_report_uses_the_word_seed(capsys, fmt):
    _, out = run(capsys, "check", "--policy", POLICY, "--fleet", "examples/fleet.jsonl", "--format", fmt)
    assert "seed" not in out.lower()


@pytest.mark.parametrize("width", [60, 72, 80, 100, 132])
@pytest.mark.parametrize(("policies", "devices", "extra"), SHIPPED)
def test_the_table_fits_the_width(width, policies, devices, extra):
    report = evaluate(policies, devices, rules=[extra[1]] if extra else None)
    for verbose in (False, True):
        lines = render_table(report, width=width, verbose=verbose).splitlines()
        assert max(len(line) for line in lines) <= width
    assert any(len(line) > width - 10 for line in lines)  # the room is used, not wasted


def test_a_file_or_pipe_gets_the_default_width_and_a_terminal_its_own(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "64")
    _, piped = run(capsys, "check", "--policy", POLICY, "--device", LEGACY)
    assert max(len(line) for line in piped.splitlines()) == DEFAULT_WIDTH  # not the terminal's 64
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    _, terminal = run(capsys, "check", "--policy", POLICY, "--device", LEGACY)
    assert "\x1b[" in terminal  # a terminal gets colour, and its width
    assert max(len(ANSI.sub("", line)) for line in terminal.splitlines()) <= 64
    lead = "Rules that fail or could not be decided:"  # before the table: the same words, wrapped differently
    assert flat(terminal.split(lead)[0]) == flat(piped.split(lead)[0])


def test_wrapping_keeps_recovery_passwords_masked():
    secret = "123456 234567 345678 456789 567890 678901 789012 890123"
    outcome = failing("F-1", "device.note", f"a long value that wraps right at {secret} and more", required="y")
    out = render_table(Report(f"device 'PC {secret}'", (outcome,)), width=60, verbose=True)
    assert "234567" not in out and "******-******" in out
    # Scenarios records are frozen data: a report renders without any.
    assert render_table(
        Report("device 'X'", (), scenarios=(ScenarioRecord("s", "S", "scenario.s", None, "unknown", "no facts"),))
    )
