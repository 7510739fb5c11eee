"""A fixed sample of the mutation run over the shipped rule files (``tests/rule_mutants.py``).

The whole run (about 720 mutants, about 5 minutes) is ``python tests/rule_mutants.py``; it
missed none when the cases at each threshold, spelling and ``when`` were added. Here 30 mutants
drawn with a fixed seed run in CI (about 15 s), and the runner's own parts are checked: what it
changes in a line, and that a case file without the case that guards a change lets it through.
"""

from __future__ import annotations

import functools

import pytest
import rule_mutants

from bitlocker_rules.vocabulary import shipped_vocabulary

VOCABULARY = shipped_vocabulary()
ENUMS = [["Blocked", "Required", "Allowed", "NotConfigured"]]
RELEASES = ["1809", "1903", "1909"]


@functools.cache
def _sample() -> list[rule_mutants.Mutant]:
    every = rule_mutants.shipped_mutants([], VOCABULARY)
    return [every[i] for i in sorted(rule_mutants.random.Random(17).sample(range(len(every)), 30))]


def _changed(line: str) -> set[str | None]:
    return {new for new, _ in rule_mutants.line_mutants(line, ENUMS, RELEASES)}


def test_each_operator_number_member_and_when_is_changed_alone():
    """The mutants of a line are exactly the one-token changes the runner's docstring lists."""
    assert _changed("  require device.os_version >= 1909 and policy.tpm_startup_pin != Required") == {
        "  require device.os_version > 1909 and policy.tpm_startup_pin != Required",
        "  require device.os_version >= 1909 or policy.tpm_startup_pin != Required",
        "  require device.os_version >= 1909 and policy.tpm_startup_pin == Required",
        "  require device.os_version >= 1903 and policy.tpm_startup_pin != Required",
        "  require device.os_version >= 1909 and policy.tpm_startup_pin != Blocked",
        "  require device.os_version >= 1909 and policy.tpm_startup_pin != Allowed",
        "  require device.os_version >= 1909 and policy.tpm_startup_pin != NotConfigured",
    }
    assert _changed("  when all e in device.events: e.id not in {846, 847}") >= {
        "  when any e in device.events: e.id not in {846, 847}",
        "  when all e in device.events: e.id in {846, 847}",
        "  when all e in device.events: e.id not in {847}",
        "  when all e in device.events: e.id not in {845, 847}",
        None,
    }
    # Text in quotes is not code: its digits and capitals stay.
    assert _changed('  require u.kb == "KB4497934"') == {'  require u.kb != "KB4497934"'}


def test_a_case_file_without_the_guarding_case_lets_the_mutant_through(tmp_path):
    """The runner can say ``missed``: without its case for a missing BitLocker log, KR-09's
    ``when`` can be deleted unnoticed; with it, it cannot."""
    text = (rule_mutants.RULESETS / "key_rotation.rules").read_text("utf-8")
    (deleted,) = [
        m
        for m in rule_mutants.mutants("key_rotation", text, VOCABULARY)
        if m.subject == "KR-09" and m.change.startswith("the when")
    ]
    assert rule_mutants.outcome(deleted, tmp_path, VOCABULARY) == "caught"
    cases = (tmp_path / "key_rotation.tests.toml").read_text("utf-8")
    start = cases.index('[[case]]\nname = "KR-09 does not apply without the BitLocker log"')
    (tmp_path / "key_rotation.tests.toml").write_text(
        cases[:start] + cases[cases.index("[[case]]", start + 1) :], "utf-8"
    )
    assert rule_mutants.outcome(deleted, tmp_path, VOCABULARY) == "missed"


@pytest.mark.parametrize("mutant", _sample(), ids=lambda m: m.name)
def test_the_shipped_cases_catch_the_sampled_mutant(mutant, tmp_path):
    """Each sampled change to a shipped rule file fails one of its cases (or does not load)."""
    assert rule_mutants.outcome(mutant, tmp_path, VOCABULARY) in ("caught", "invalid"), mutant.text.split("\n")[
        mutant.line - 1
    ]
