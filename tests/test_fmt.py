"""``fmt``: canonical layout with comments kept, idempotent, the same tree; the command's modes."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import grammar_texts, syntactic_rulesets

from bitlocker_rules import RulesError, parse_ruleset
from bitlocker_rules.cli import main
from bitlocker_rules.formatter import format_text
from bitlocker_rules.printer import print_ruleset
from bitlocker_rules.resources import rulesets_dir
from bitlocker_rules.syntax import lexemes

COMMENT_TEXTS = st.sampled_from(["#", "# a note", '# "quoted" and = and && ', "#---- section ----", "# ünï ‽"])


@st.composite
def commented_texts(draw) -> str:
    """A generated ruleset printed at some width, with comments on lines of their own and at
    the ends of lines, and blank lines, anywhere a line may end."""
    ruleset = draw(syntactic_rulesets())
    width = draw(st.sampled_from([None, 20, 60, 100]))
    out = []
    for line in print_ruleset(ruleset, width).split("\n")[:-1]:
        if draw(st.integers(0, 4)) == 0:
            out.append(" " * draw(st.integers(0, 6)) + draw(COMMENT_TEXTS))
        if draw(st.integers(0, 6)) == 0:
            out.append("")
        out.append(line + (" " + draw(COMMENT_TEXTS) if draw(st.integers(0, 3)) == 0 else ""))
    if draw(st.booleans()):
        out.append(draw(COMMENT_TEXTS))
    return "\n".join(out) + "\n"


def comments(text: str) -> list[str]:
    return [t.text.rstrip() for t in lexemes(text) if t.kind == "COMMENT"]


def check_formatting(text: str, width: int = 100) -> str:
    formatted = format_text(text, width=width)
    assert parse_ruleset(formatted) == parse_ruleset(text)
    assert format_text(formatted, width=width) == formatted
    # Every comment kept (one inside a clause that spans lines moves above the clause).
    assert sorted(comments(formatted)) == sorted(comments(text))
    return formatted


@given(commented_texts(), st.sampled_from([30, 60, 100]))
def test_formatting_is_idempotent_and_keeps_the_tree_and_every_comment(text, width):
    check_formatting(text, width)


@given(grammar_texts())
def test_any_text_the_grammar_makes_formats_to_the_same_tree(text):
    try:
        ruleset = parse_ruleset(text)
    except RulesError:
        return  # a number too large for Python, say: fmt refuses it as the parser does
    if ruleset.problems:
        with pytest.raises(RulesError):
            format_text(text)
        return
    check_formatting(text)


def test_each_comment_stays_with_what_it_is_about():
    text = """# preamble

# about the file
ruleset x "T"  # the header
  # the scenario
  scenario a
define a = b   # t1
# leads c
define c = d
   or e # inside c
   # also inside c
   or f
rule X-1 "t" # on the head
  require a == 1 # on require
  # before severity, which moves up with it
  severity warning
  rationale "a"
     # in the text
     "b" # after b
# the end
"""
    assert (
        check_formatting(text)
        == """# preamble

# about the file
ruleset x "T"  # the header
  # the scenario
  scenario a

define a = b  # t1
# leads c
# also inside c
define c = d or e or f  # inside c

rule X-1 "t"  # on the head
  # before severity, which moves up with it
  severity warning
  require a == 1  # on require
  # in the text
  rationale "a"  # after b
            "b"
# the end
"""
    )


def test_trailing_comments_of_a_long_clause_stay_on_their_lines():
    text = 'ruleset x "T"\n\ndefine a = b # one\n  or c # two\n  or d # three\n  or e # four\n'
    assert check_formatting(text, width=20) == (
        'ruleset x "T"\n\ndefine a = b  # one\n           or c  # two\n           or d  # three\n           or e  # four\n'
    )
    # One line has room for one: the others go above it.
    assert check_formatting(text) == 'ruleset x "T"\n\n# two\n# three\n# four\ndefine a = b or c or d or e  # one\n'


def test_long_texts_and_conditions_break_where_the_grammar_allows():
    long = "word " * 30
    text = f'ruleset x "T"\nrule X-1 "t"\n  require a in {{{", ".join(f"Member{i}" for i in range(20))}}}\n'
    text += f'  rationale "{long.strip()}"\n'
    formatted = check_formatting(text, width=60)
    assert all(len(line) <= 60 for line in formatted.splitlines())
    assert '  rationale "word word' in formatted
    assert '            "word' in formatted  # continued under the first quote
    assert "                Member" in formatted  # a set continues after its brace


def test_definitions_written_together_stay_together_and_rules_are_set_apart():
    text = 'ruleset x "T"\ndefine a = b\ndefine c = d\n\n\n\ndefine e = f\nrule X-1 "t"\n  require a\nrule X-2 "u"\n'
    assert check_formatting(text) == (
        'ruleset x "T"\n\ndefine a = b\ndefine c = d\n\ndefine e = f\n\n'
        'rule X-1 "t"\n  severity error\n  require a\n\nrule X-2 "u"\n  severity error\n'
    )


@pytest.mark.parametrize("path", sorted(rulesets_dir().glob("*.rules")), ids=lambda p: p.stem)
def test_the_shipped_rulesets_are_formatted(path):
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text


def test_a_clause_given_twice_is_refused_not_dropped():
    with pytest.raises(RulesError, match="given twice"):
        format_text('ruleset x "T"\nrule X-1 "t"\n  severity error\n  severity warning\n')


def test_a_syntax_error_is_reported_as_check_reports_it():
    with pytest.raises(RulesError) as caught:
        format_text('ruleset x "T"\nrule X-1 "t"\n  require a = 1\n', "f.rules")
    assert "f.rules:3:13" in caught.value.render()


# --- the command


@pytest.fixture
def files(tmp_path):
    (tmp_path / "sub").mkdir()
    ugly = tmp_path / "sub" / "ugly.rules"
    ugly.write_text('ruleset x "T"   # keep me\nrule X-1 "t" require a\n')
    tidy = tmp_path / "tidy.rules"
    tidy.write_text('ruleset y "T"\n\nrule Y-1 "t"\n  severity error\n')
    return tmp_path, ugly, tidy


def test_fmt_check_lists_what_would_change_and_changes_nothing(files, capsys):
    folder, ugly, _ = files
    before = ugly.read_text()
    assert main(["fmt", "--check", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert out == f"would reformat {ugly}\n"
    assert "1 file would be reformatted" in err
    assert ugly.read_text() == before


def test_fmt_diff_shows_a_unified_diff(files, capsys):
    folder, ugly, _ = files
    assert main(["fmt", "--diff", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"--- {ugly}\n+++ {ugly} (formatted)\n" in out
    assert '-rule X-1 "t" require a\n+ruleset x "T"  # keep me\n+\n+rule X-1 "t"\n+  severity error\n' in out


def test_fmt_rewrites_files_then_has_nothing_left_to_do(files, capsys):
    folder, ugly, _ = files
    assert main(["fmt", str(folder)]) == 0
    assert ugly.read_text() == 'ruleset x "T"  # keep me\n\nrule X-1 "t"\n  severity error\n  require a\n'
    assert main(["fmt", "--check", str(folder)]) == 0
    assert "1 file reformatted" in capsys.readouterr().err


def test_fmt_leaves_a_broken_file_alone_and_does_the_others(files, capsys):
    folder, ugly, _ = files
    broken = folder / "broken.rules"
    broken.write_text('ruleset z "T"\nrule Z-1 "t"\n  require (a\n')
    assert main(["fmt", str(folder), str(folder / "missing.rules")]) == 2
    err = capsys.readouterr().err
    assert f"{broken}:3:" in err and "missing.rules: error[E003]: cannot read rule file" in err
    assert broken.read_text() == 'ruleset z "T"\nrule Z-1 "t"\n  require (a\n'
    assert ugly.read_text().startswith('ruleset x "T"  # keep me\n\n')


def test_fmt_reads_standard_input(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO('ruleset x "T"\nrule X-1 "t"\n'))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == 'ruleset x "T"\n\nrule X-1 "t"\n  severity error\n'


def test_ci_checks_the_shipped_rulesets_are_formatted():
    ci = (rulesets_dir().parent / ".ci" / "run").read_text()
    assert "bitlocker-rules fmt --check rulesets" in ci
    done = subprocess.run(
        [sys.executable, "-m", "bitlocker_rules", "fmt", "--check", str(rulesets_dir())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
