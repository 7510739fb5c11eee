"""docs/authoring.md stays true: its rule examples are formatted and lint clean, its
configuration example is read as it says, its error table is what the parser says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bitlocker_rules import RulesError, parse_ruleset
from bitlocker_rules.cli import main
from bitlocker_rules.config import load_config
from bitlocker_rules.formatter import format_text

PAGE = (Path(__file__).resolve().parent.parent / "docs" / "authoring.md").read_text(encoding="utf-8")


def blocks(tag: str) -> list[str]:
    return re.findall(rf"```{tag}\n(.*?)```", PAGE, re.S)


@pytest.mark.parametrize("text", blocks("rules"))
def test_rule_examples_are_formatted_and_lint_clean(text, tmp_path, capsys):
    assert format_text(text) == text
    path = tmp_path / "example.rules"
    path.write_text(text)
    assert main(["lint", "--no-config", str(path)]) == 0, capsys.readouterr().out


def test_the_configuration_example_is_read_as_the_page_says(tmp_path):
    (toml,) = [b for b in blocks("toml") if b.startswith("# bitlocker-rules.toml")]
    path = tmp_path / "bitlocker-rules.toml"
    path.write_text(toml)
    config = load_config(path)
    assert config.rulesets == ("silent_enablement", str(tmp_path / "rules" / "corporate.rules"))
    assert (config.fail_on, config.format, config.line_length) == ("warning", "text", 100)
    assert config.lint_disable == ("redundant", "L105") and config.waivers == str(tmp_path / "waivers.toml")


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("require policy.x = Block", "did you mean `==`?"),
        ("require a && b", "use `and`"),
        ("require a || b", "use `or`"),
        ("require !a", "use `not`"),
        ('rationale "no end', "unterminated string"),
        ("require (a or b", "`(` is never closed"),
    ],
)
def test_the_error_table_is_what_the_parser_says(written, said):
    assert said.strip("`").split("`")[0] in PAGE
    with pytest.raises(RulesError) as caught:
        parse_ruleset(f'ruleset r "R"\nrule R-1 "t"\n  {written}\n')
    assert said in caught.value.render()
