"""Every rule and note of every shipped ruleset has cases in its ruleset's case table.

The tables are ``CASES`` of ``tests/test_ruleset_<name>.py`` (see ``rule_cases``): passing and
failing variants per rule, when each note applies. This test enumerates what ships, not what
the tables list, so a new ruleset without a table, or a new rule or note without cases,
fails here by name.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from rule_cases import RulesetCases

from bitlocker_rules import Engine
from bitlocker_rules.resources import shipped_ruleset_paths

SHIPPED = Engine.load().rulesets
RULES = [(loaded.id, rule.id) for loaded in SHIPPED for rule in loaded.rules]
NOTES = [(loaded.id, note.id) for loaded in SHIPPED for note in loaded.notes]


def table_module(ruleset: str) -> ModuleType | None:
    """``tests/test_ruleset_<ruleset>.py``, imported, or None when there is none."""
    try:
        return importlib.import_module(f"test_ruleset_{ruleset}")
    except ModuleNotFoundError as missing:
        if missing.name != f"test_ruleset_{ruleset}":
            raise
        return None


def case_table(ruleset: str) -> RulesetCases:
    """The ruleset's case table; fails the test when it has none."""
    module = table_module(ruleset)
    assert module is not None, f"ruleset {ruleset} has no tests/test_ruleset_{ruleset}.py"
    cases = getattr(module, "CASES", None)
    assert isinstance(cases, RulesetCases), f"tests/test_ruleset_{ruleset}.py declares no CASES"
    assert cases.ruleset == ruleset, f"tests/test_ruleset_{ruleset}.py holds the cases of {cases.ruleset}"
    return cases


def test_every_shipped_rule_file_is_enumerated():
    assert {loaded.id for loaded in SHIPPED} == set(shipped_ruleset_paths())
    assert len(RULES) > len(SHIPPED)  # every ruleset has rules


@pytest.mark.parametrize(("ruleset", "rule"), RULES, ids=[rule for _, rule in RULES])
def test_every_shipped_rule_has_a_passing_and_a_failing_case(ruleset, rule):
    cases = case_table(ruleset)
    assert cases.passing.get(rule), f"{rule} has no passing variant in tests/test_ruleset_{ruleset}.py"
    assert rule in cases.failing, f"{rule} has no failing variant in tests/test_ruleset_{ruleset}.py"


@pytest.mark.parametrize(("ruleset", "note"), NOTES, ids=[note for _, note in NOTES])
def test_every_shipped_note_has_cases_saying_when_it_applies(ruleset, note):
    cases = case_table(ruleset)
    assert cases.notes.get(note), f"{note} has no cases in tests/test_ruleset_{ruleset}.py"
