"""Syntax errors in the user's words."""

from __future__ import annotations

import pytest

from bitlocker_rules import RulesError, parse_ruleset


def syntax_error(text: str):
    with pytest.raises(RulesError) as info:
        parse_ruleset(text, "s.rules")
    (diagnostic,) = info.value.diagnostics
    return diagnostic


def test_missing_value_at_end_of_file():
    d = syntax_error('ruleset s "S"\nrule A-1 "x" require device.tpm_version >=')
    assert d.code == "E102"
    assert d.location.startswith("s.rules:2:")
    assert "a name" in d.help and "a Windows version" in d.help


def test_unexpected_character_points_at_it():
    d = syntax_error('ruleset s "S"\nrule A-1 "x" require device.tpm_version >= $\n')
    assert d.code == "E101"
    assert d.location == "s.rules:2:44"
    assert "'$'" in d.message


def test_unexpected_word_says_what_fits():
    d = syntax_error('ruleset s "S"\nrule A-1 "x" require device.tpm_present device.tpm_ready\n')
    assert d.code == "E103"
    assert "`and`" in d.help and "`or`" in d.help
    assert "__ANON" not in d.render() and "Token(" not in d.render()


def test_missing_header():
    d = syntax_error('rule A-1 "x" require device.tpm_present\n')
    assert "`ruleset`" in d.help


def test_comments_and_multi_line_strings():
    ruleset = parse_ruleset(
        'ruleset s "S"  # the header\n'
        'rule A-1 "x"\n  rationale "one"\n    "two"  # joined\n  require device.tpm_present\n'
    )
    assert ruleset.rules[0].rationale == "one two"


def test_clause_given_twice_is_reported():
    ruleset = parse_ruleset('ruleset s "S"\nrule A-1 "x" severity info severity error require device.tpm_present\n')
    assert [d.code for d in ruleset.problems] == ["E201"]


def test_oversized_text_is_refused():
    d = syntax_error('ruleset s "S"\n' + "#" * 1_000_001)
    assert d.code == "E001"
