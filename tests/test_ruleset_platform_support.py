"""The shipped ``platform_support`` ruleset, beyond the verdict cases of
``rulesets/platform_support.tests.toml`` (``rule_cases`` reads its baseline)."""

from __future__ import annotations

from rule_cases import RulesetCases

CASES = RulesetCases("platform_support")


def test_no_rule_is_about_a_scenario():
    assert all(not r.scenarios for r in CASES.loaded.ruleset.rules)
