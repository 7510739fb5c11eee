"""Project configuration: found upward, every key checked, the command line wins."""

from __future__ import annotations

import argparse

import pytest

from bitlocker_rules.cli import main
from bitlocker_rules.cli.configured import configured
from bitlocker_rules.config import ProjectConfig, find_config, load_config
from bitlocker_rules.errors import InputError

UNUSED = 'ruleset r "R"\n\ndefine spare = device.tpm_present\n'


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.rules").write_text(UNUSED)
    (tmp_path / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deep" / "er")
    return tmp_path


def test_found_from_the_working_folder_upward_own_file_first(project):
    assert find_config(project / "deep" / "er") is None
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_config(project / "deep" / "er") is None  # a pyproject.toml without the table is not one
    (project / "pyproject.toml").write_text("[tool.bitlocker-rules]\nfail-on = 'error'\n")
    assert find_config(project / "deep" / "er") == project / "pyproject.toml"
    (project / "deep" / "bitlocker-rules.toml").write_text("")
    assert find_config(project / "deep" / "er") == project / "deep" / "bitlocker-rules.toml"


def test_every_key_is_read_paths_relative_to_the_file(project):
    path = project / "bitlocker-rules.toml"
    path.write_text(
        'rulesets = ["silent_enablement", "rules/r.rules"]\nfail-on = "error"\nformat = "json"\n'
        'waivers = "waivers.toml"\n[lint]\nenable = ["L106"]\ndisable = ["redundant"]\n[fmt]\nline-length = 90\n'
    )
    assert load_config(path) == ProjectConfig(
        file=str(path),
        rulesets=("silent_enablement", str(project / "rules" / "r.rules")),
        fail_on="error",
        format="json",
        waivers=str(project / "waivers.toml"),
        lint_enable=("L106",),
        lint_disable=("redundant",),
        line_length=90,
    )


@pytest.mark.parametrize(
    ("text", "where", "message", "hint"),
    [
        ("[tool.bitlocker-rules]\nrulset = []\n", "tool.bitlocker-rules.rulset", "unknown key `rulset`", "`rulesets`"),
        (
            "[tool.bitlocker-rules.lint]\ndisabel = []\n",
            "tool.bitlocker-rules.lint.disabel",
            "unknown key",
            "`disable`",
        ),
        ("[tool.bitlocker-rules]\nfail-on = 'eror'\n", "tool.bitlocker-rules.fail-on", "must be one of", "`error`"),
        ("[tool.bitlocker-rules]\nrulesets = 'r.rules'\n", "tool.bitlocker-rules.rulesets", "a list", None),
        ("[tool.bitlocker-rules.fmt]\nline-length = true\n", "tool.bitlocker-rules.fmt.line-length", "whole", None),
        ("[tool.bitlocker-rules]\nlint = 3\n", "tool.bitlocker-rules.lint", "must be a table", None),
    ],
)
def test_a_bad_key_names_its_path_and_the_closest_key(project, text, where, message, hint):
    path = project / "pyproject.toml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_config(path)
    (d,) = caught.value.diagnostics
    assert (d.file, d.path) == (str(path), where)
    assert message in d.message
    assert (hint or "") in (d.help or "")


def test_bad_toml_is_an_error_naming_the_file_and_line(project, capsys):
    (project / "bitlocker-rules.toml").write_text("fail-on = \n")
    assert main(["lint"]) == 2
    err = capsys.readouterr().err
    assert "bitlocker-rules.toml: error[C002]: not valid TOML" in err and "line 1" in err


def test_lint_reads_rulesets_and_threshold_and_the_command_line_wins(project, capsys):
    (project / "bitlocker-rules.toml").write_text('rulesets = ["rules/r.rules"]\nfail-on = "error"\n')
    assert main(["lint"]) == 0  # the unused definition is a warning, below the configured error
    assert "definition `spare` is never used" in capsys.readouterr().out
    assert main(["lint", "--fail-on", "warning"]) == 1
    assert main(["lint", "--no-config", "--fail-on", "error", "silent_enablement"]) == 0
    capsys.readouterr()


def test_lint_checks_disabled_or_enabled(project, capsys):
    config = project / "bitlocker-rules.toml"
    config.write_text('rulesets = ["rules/r.rules"]\n[lint]\ndisable = ["unused-definition"]\n')
    assert main(["lint"]) == 0
    assert "L106" not in capsys.readouterr().out
    config.write_text('rulesets = ["rules/r.rules"]\n[lint]\nenable = ["never-passes"]\n')
    assert main(["lint"]) == 0
    config.write_text('rulesets = ["rules/r.rules"]\n[lint]\nenable = ["L106"]\n')
    assert main(["lint"]) == 1
    config.write_text('rulesets = ["rules/r.rules"]\n[lint]\ndisable = ["unused-defintion"]\n')
    assert main(["lint"]) == 2
    assert "lint.disable: error[C004]: no lint check `unused-defintion`" in capsys.readouterr().err


def test_config_names_a_file_and_no_config_reads_none(project, capsys):
    other = project / "elsewhere.toml"
    other.write_text('rulesets = ["rules/r.rules"]\nfail-on = "error"\n')
    assert main(["lint", "--config", str(other)]) == 0
    assert main(["lint", "--config", str(project / "missing.toml")]) == 2
    assert "missing.toml: error[C001]: cannot read the configuration" in capsys.readouterr().err


def test_check_and_fmt_take_their_settings(project, tmp_path):
    (project / "bitlocker-rules.toml").write_text(
        'rulesets = ["rules/r.rules"]\nfail-on = "warning"\nformat = "json"\nwaivers = "w.toml"\n[fmt]\nline-length = 40\n'
    )
    check = argparse.Namespace(command="check", rules=None, fail_on=None, format=None, waivers=None)
    configured(check)
    assert (check.rules, check.fail_on, check.format) == ([str(project / "rules" / "r.rules")], "warning", "json")
    assert check.waivers == str(project / "w.toml")  # as check --waivers FILE would give it
    given = argparse.Namespace(command="check", rules=["x"], fail_on="error", format="text", waivers="mine.toml")
    configured(given)
    assert (given.rules, given.fail_on, given.format, given.waivers) == (["x"], "error", "text", "mine.toml")
    fmt = argparse.Namespace(command="fmt", line_length=None)
    assert configured(fmt).line_length == 40
