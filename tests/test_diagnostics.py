"""Diagnostics in the user's words: syntax errors, every one of a file, lint shown as check shows
errors, and inline suppression of lint findings."""

from __future__ import annotations

import pytest

from bitlocker_rules import RulesError, parse_ruleset
from bitlocker_rules.cli import main

HEADER = 'ruleset r "Rules"\n\n'


def errors(text: str) -> list:
    with pytest.raises(RulesError) as caught:
        parse_ruleset(HEADER + text, "r.rules")
    return list(caught.value.diagnostics)


def one_error(text: str):
    (diagnostic,) = errors(text)
    return diagnostic


def test_a_single_equals_sign_asks_for_two():
    d = one_error('rule R-1 "t"\n  require device.tpm_present = true\n')
    assert (d.code, d.message, d.help) == ("E106", "`=` is not a comparison", "did you mean `==`?")
    assert d.location == "r.rules:4:30"


@pytest.mark.parametrize(("written", "word"), [("&&", "and"), ("||", "or"), ("!", "not"), ("&", "and")])
def test_operators_of_other_languages_name_the_word_to_use(written, word):
    text = f'rule R-1 "t"\n  require {"" if written == "!" else "a "}{written} b\n'
    d = one_error(text)
    assert d.code == "E105"
    assert d.message == f"`{written}` is not an operator of the rule language"
    assert d.help == f"use `{word}`"
    assert HEADER.count("\n") + 2 == d.place.start_line
    assert d.place.end_column - d.place.start_column == len(written)


def test_not_equal_is_still_a_comparison():
    assert parse_ruleset(HEADER + 'rule R-1 "t"\n  require a != b\n').rules[0].requires


def test_an_unterminated_string_is_reported_at_its_opening_quote():
    d = one_error('rule R-1 "The device has\n  require a\n')
    assert (d.code, d.message) == ("E107", "unterminated string")
    assert d.location == "r.rules:3:10"
    assert d.render().splitlines()[2].strip() == "^" * len('"The device has')


def test_an_unclosed_parenthesis_points_at_itself_not_at_the_next_rule():
    d = one_error('rule R-1 "t"\n  require (a == 1 or b\n\nrule R-2 "u"\n  require c\n')
    assert (d.code, d.message) == ("E108", "`(` is never closed")
    assert d.location == "r.rules:4:11"
    assert d.help == "close it with `)` where what it groups ends"


def test_an_unclosed_brace_at_the_end_of_the_file():
    d = one_error('rule R-1 "t"\n  require a in {b, c\n')
    assert (d.code, d.location) == ("E108", "r.rules:4:16")


def test_every_syntax_error_of_a_file_is_reported_resuming_at_the_next_rule():
    found = errors(
        'rule R-1 "t"\n  require a = 1\n\nrule R-2 "u"\n  require b && c\n\n'
        'rule R-3 "fine"\n  require d\n\nrule R-4 "v\n'
    )
    assert [(d.code, d.place.start_line) for d in found] == [("E106", 4), ("E105", 7), ("E107", 12)]


def test_an_error_in_the_header_stops_there():
    with pytest.raises(RulesError) as caught:
        parse_ruleset('ruleset r\nrule R-1 "t"\n  require a = 1\n', "r.rules")
    assert len(caught.value.diagnostics) == 1


def test_the_first_error_is_unchanged_for_a_file_with_one():
    d = one_error('rule R-1 "t"\n  requires a\n')
    assert d.code == "E103" and "did you mean `require`?" in d.help


# --- lint shows what check shows


def test_lint_shows_a_syntax_error_with_its_snippet_and_help_and_counts_the_file(tmp_path, capsys):
    path = tmp_path / "bad.rules"
    path.write_text(HEADER + 'rule R-1 "t"\n  require device.tpm_present = true\n')
    assert main(["lint", str(path)]) == 2
    out = capsys.readouterr().out
    assert out == (
        f"{path}:4:30: error[E106]: `=` is not a comparison\n"
        "   4 |   require device.tpm_present = true\n" + " " * len("   4 |   require device.tpm_present ") + "^\n"
        "  help: did you mean `==`?\n\n"
        "1 ruleset(s) checked: 1 error, 0 warning, 0 info\n"
    )


def test_lint_shows_an_analysis_finding_with_its_rule_text(tmp_path, capsys):
    path = tmp_path / "unused.rules"
    path.write_text(HEADER + "define spare = device.tpm_present\n")
    assert main(["lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert "warning[L106]: definition `spare` is never used" in out
    assert "   3 | define spare = device.tpm_present\n              ^^^^^\n" in out


# --- suppression


def lint_text(tmp_path, capsys, text: str) -> tuple[int, str]:
    path = tmp_path / "s.rules"
    path.write_text(HEADER + text)
    code = main(["lint", str(path)])
    return code, capsys.readouterr().out


def test_a_suppression_with_a_reason_hides_its_finding(tmp_path, capsys):
    code, out = lint_text(
        tmp_path,
        capsys,
        "# bitlocker-rules: ignore[unused-definition] reason: the next baseline uses it\n"
        "define spare = device.tpm_present\n",
    )
    assert (code, "L106" in out) == (0, False)
    code, out = lint_text(
        tmp_path, capsys, "define spare = device.tpm_present  # bitlocker-rules: ignore[L106] reason: x\n"
    )
    assert (code, "L106" in out) == (0, False)


def test_a_suppression_without_a_reason_hides_nothing_and_is_a_finding(tmp_path, capsys):
    code, out = lint_text(
        tmp_path, capsys, "define spare = device.tpm_present  # bitlocker-rules: ignore[unused-definition]\n"
    )
    assert code == 1
    assert "warning[L110]: suppression of unused-definition gives no reason" in out
    assert "warning[L106]" in out


def test_a_suppression_with_an_empty_reason_hides_nothing(tmp_path, capsys):
    """``reason:`` followed by nothing gives no reason (docs/authoring.md: a reason is required):
    the suppression hides nothing and is itself a finding."""
    code, out = lint_text(
        tmp_path, capsys, "define spare = device.tpm_present  # bitlocker-rules: ignore[unused-definition] reason:  \n"
    )
    assert code == 1
    assert "warning[L110]: suppression of unused-definition gives no reason" in out
    assert "warning[L106]" in out


def test_a_misspelled_check_is_a_finding_with_the_closest_name(tmp_path, capsys):
    _, out = lint_text(
        tmp_path, capsys, "define spare = device.tpm_present  # bitlocker-rules: ignore[unused-defintion] reason: x\n"
    )
    assert "no check `unused-defintion`; did you mean `unused-definition`?" in out


def test_a_suppression_that_hid_nothing_is_reported_as_unused(tmp_path, capsys):
    code, out = lint_text(
        tmp_path,
        capsys,
        'rule R-1 "t"  # bitlocker-rules: ignore[never-passes] reason: no longer needed\n  require device.tpm_present\n',
    )
    assert code == 1
    assert "warning[L111]: unused suppression: no never-passes finding on line 3" in out


def test_a_suppression_applies_only_to_its_line(tmp_path, capsys):
    code, out = lint_text(
        tmp_path,
        capsys,
        "# bitlocker-rules: ignore[unused-definition] reason: x\ndefine spare = device.tpm_present\n"
        "define other = device.tpm_present\n",
    )
    assert code == 1 and "definition `other`" in out and "definition `spare`" not in out


def test_a_suppression_hides_nothing_in_another_file(tmp_path, capsys):
    """A suppression applies to its line of its own file: linting two files, a suppression on
    line 3 of one does not hide a finding on line 3 of the other."""
    hidden, shown = tmp_path / "a.rules", tmp_path / "b.rules"
    hidden.write_text(
        'ruleset a "A"\n\ndefine spare = device.tpm_present  # bitlocker-rules: ignore[unused-definition] reason: x\n'
    )
    shown.write_text('ruleset b "B"\n\ndefine other = device.tpm_present\n')
    assert main(["lint", str(hidden), str(shown)]) == 1
    out = capsys.readouterr().out
    assert "b.rules:3:8: warning[L106]: definition `other` is never used" in out
    assert "definition `spare`" not in out


# --- the library function an editor calls


def test_rule_diagnostics_gives_every_problem_of_a_text_as_records():
    from bitlocker_rules.rule_diagnostics import rule_diagnostics

    broken = rule_diagnostics(HEADER + 'rule R-1 "t"\n  require a = 1\n\nrule R-2 "u"\n  require b && c\n', "r.rules")
    assert [(d.code, d.location) for d in broken] == [("E106", "r.rules:4:13"), ("E105", "r.rules:7:13")]
    linted = rule_diagnostics(
        HEADER + "define spare = device.tpm_present\n"
        "define kept = device.tpm_present  # bitlocker-rules: ignore[unused-definition] reason: next release\n",
        "r.rules",
    )
    assert [(d.code, d.location, d.source.excerpt(d.span)) for d in linted] == [("L106", "r.rules:3:8", "spare")]
    assert rule_diagnostics(HEADER + "define spare = device.tpm_present\n", lint=False) == []
