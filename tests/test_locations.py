"""One location type: a diagnostic in rule text, a lint finding and a place in a JSON input
are all ``source.Location`` (file, start line and column, end line and column)."""

from __future__ import annotations

import json

import pytest

from bitlocker_rules import RulesError, compile_text
from bitlocker_rules.analysis import Location as AnalysisLocation
from bitlocker_rules.analysis.lint import diagnostic_findings
from bitlocker_rules.jsonpath import locate_json_path
from bitlocker_rules.source import Location, SourceText, Span

BROKEN = """ruleset broken "Broken"
rule B-1 "Startup PIN"
  require policy.tpm_startup_pn != Required
"""


def test_the_analysis_location_is_the_one_location():
    assert AnalysisLocation is Location


def test_a_span_of_rule_text_is_located_by_line_and_column():
    text = SourceText("ab\ncdef\n", "x.rules")
    assert text.location(Span(4, 6)) == Location("x.rules", 2, 2, 2, 4)
    assert str(text.location(Span(4, 6))) == "x.rules:2:2"


def test_a_diagnostic_and_its_lint_finding_share_one_location():
    with pytest.raises(RulesError) as caught:
        compile_text(BROKEN, "broken.rules")
    (diagnostic,) = caught.value.diagnostics
    place = diagnostic.place
    assert place is not None and place.file == "broken.rules" and place.start_line == 3
    assert diagnostic.location == str(place)
    assert (
        BROKEN.splitlines()[place.start_line - 1][place.start_column - 1 : place.end_column - 1]
        == "policy.tpm_startup_pn"
    )
    (finding,) = diagnostic_findings([diagnostic])
    assert finding.locations == (place,)
    assert finding.to_dict()["locations"][0]["path"] == "broken.rules"


def test_a_value_in_a_json_input_is_located_with_the_same_type():
    text = json.dumps({"settings": {"tpm_startup_pin": "Required"}}, indent=2)
    found = locate_json_path(text, ("settings", "tpm_startup_pin"), "p.json")
    assert found == Location("p.json", 3, 5, 3, 34)
    assert '"tpm_startup_pin"' in text.splitlines()[found.start_line - 1]


def test_a_reports_rule_and_condition_places_are_locations_not_text():
    """A rule's and a condition's place in the rule file are Location records (they were
    ``file:line:column`` strings the SARIF renderer parsed back with a pattern); the SARIF
    related location is made from the record's fields, whatever the file is called."""
    from bitlocker_rules import Engine, facts_from_mapping
    from bitlocker_rules.report.sarif_locations import rule_location

    text = 'ruleset odd "Odd"\nrule O-1 "Startup PIN"\n  require policy.tpm_startup_pin == Required\n'
    loaded = compile_text(text, "weird:7:9.rules")
    engine = Engine([loaded])
    report = engine.evaluate(facts_from_mapping({"policy.tpm_startup_pin": "Blocked"}, origin="p.json"))
    outcome = report.failed[0]
    assert outcome.location == Location("weird:7:9.rules", 2, 1, 3, 45)
    assert outcome.reasons[0].location == Location("weird:7:9.rules", 3, 11, 3, 45)
    related = rule_location(outcome.reasons[0].location, "rule text", 1)["physicalLocation"]
    assert related["region"] == {"startLine": 3, "startColumn": 11}
    assert related["artifactLocation"]["uri"].endswith("weird%3A7%3A9.rules")
