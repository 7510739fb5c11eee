"""Where a value came from is a record: input names holding ``$`` or ``; `` are never split.

Each test runs the command line on two policies whose display names hold what the old text
form (``"policy 'A' (1) $.x; policy 'B' …"``) was split on, and checks that every report names
each policy whole, with the JSON path of the setting apart.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from bitlocker_rules import (
    analysis,
    compile_text,
    load_device_file,
    load_policy_file,
    merge_facts,
    shipped_vocabulary,
)
from bitlocker_rules.cli import main
from bitlocker_rules.engine import Engine
from bitlocker_rules.facts import Facts
from bitlocker_rules.outcome import ValueOrigin, origins_text

ROOT = Path(__file__).resolve().parents[1]
PIN = "WIN; BitLocker $.x"  # the policy that requires a startup PIN
SILENT = "Silent $.y; z"  # the one that blocks it
PIN_NAME, SILENT_NAME = f"policy {PIN!r} (1)", f"policy {SILENT!r} (2)"
SETTING = "$.settings.tpm_startup_pin"


@pytest.fixture
def policies(tmp_path, monkeypatch) -> tuple[str, str]:
    """The two example policies renamed, written to files; the working directory is the checkout."""
    monkeypatch.chdir(ROOT)
    files = []
    for example, name, ident in (("policy-startup-pin.json", PIN, "1"), ("policy-silent.json", SILENT, "2")):
        data = json.loads((ROOT / "examples" / example).read_text())
        path = tmp_path / f"policy-{ident}.json"
        path.write_text(json.dumps({**data, "displayName": name, "id": ident}, indent=2))
        files.append(str(path))
    return files[0], files[1]


def check(capsys, *policy_files: str, fmt: str) -> str:
    args = ["check", "--rules", "silent_enablement", "--device", "examples/device-legacy.json", "--format", fmt]
    for file in policy_files:
        args += ["--policy", file]
    assert main(args) in (0, 1)
    return capsys.readouterr().out


def test_a_conflict_names_each_policy_whole(capsys, policies):
    report = json.loads(check(capsys, *policies, fmt="json"))
    (conflict,) = [c for c in report["conflicts"] if c["fact"] == "policy.tpm_startup_pin"]
    assert [v["source"] for v in conflict["values"]] == [PIN_NAME, SILENT_NAME]
    (reason,) = [c for r in report["results"] if r["rule"] == "SE-09" for c in r["reasons"]]
    assert reason["source"] == f"{PIN_NAME} {SETTING}; {SILENT_NAME} {SETTING}"
    assert f"{PIN_NAME} sets Require startup PIN with TPM; {SILENT_NAME} sets Do not allow" in reason["conflict"]


def test_markdown_cites_each_policy_with_its_path(capsys, policies):
    page = check(capsys, *policies, fmt="markdown")
    (row,) = [line for line in page.splitlines() if line.startswith("| Compatible TPM startup PIN<br>")]
    assert f"| policy 'WIN; BitLocker $.x' (1) `{SETTING}`<br>policy 'Silent $.y; z' (2) `{SETTING}` |" in row


def test_html_cites_each_policy_with_its_path(capsys, policies):
    page = check(capsys, *policies, fmt="html")
    path = SETTING.replace(".", ".<wbr>").replace("_", "_<wbr>")
    cited = "<br>".join(f"{html.escape(name, quote=True)}<br><code>{path}</code>" for name in (PIN_NAME, SILENT_NAME))
    assert cited in page


def test_sarif_locates_the_setting_in_each_policy_file(capsys, policies):
    log = json.loads(check(capsys, *policies, fmt="sarif"))
    (result,) = [r for r in log["runs"][0]["results"] if r["ruleId"] == "SE-09"]
    located = [
        (
            loc["physicalLocation"]["artifactLocation"]["uri"],
            loc["message"]["text"],
            loc["physicalLocation"]["region"]["startLine"],
        )
        for loc in result["locations"]
    ]
    assert [(uri, text) for uri, text, _ in located] == [
        (Path(policies[0]).as_uri(), f"{PIN_NAME} {SETTING}"),
        (Path(policies[1]).as_uri(), f"{SILENT_NAME} {SETTING}"),
    ]
    for file, (_, _, line) in zip(policies, located):
        assert '"tpm_startup_pin"' in Path(file).read_text().splitlines()[line - 1]


def test_the_text_report_says_which_file_a_failing_value_came_from(capsys, policies):
    page = check(capsys, policies[0], fmt="text")
    assert f"value from: {policies[0]} {SETTING}" in " ".join(page.split())


def test_a_repair_of_a_setting_in_conflict_names_each_policy_whole(policies):
    vocabulary = shipped_vocabulary()
    loaded = compile_text(
        'ruleset t "T"\nrule T-1 "PIN" require policy.tpm_startup_pin != Required and policy.minimum_pin_length >= 8\n',
        "t.rules",
    )
    facts = merge_facts(
        [
            *(load_policy_file(p, vocabulary) for p in policies),
            load_device_file(ROOT / "examples" / "device-ready.json", vocabulary),
        ]
    )
    change = next(c for c in analysis.repair([loaded], vocabulary, facts).changes if c.fact == "policy.tpm_startup_pin")
    assert change.old == (
        f"in conflict: policy {PIN!r} sets Require startup PIN with TPM; "
        f"policy {SILENT!r} sets Do not allow startup PIN with TPM"
    )


def test_an_origin_given_as_text_is_kept_whole():
    """A Facts record built by hand may name its origins in text: kept as one note, never split."""
    text = "policy 'A; B' $.settings.x; hand-written"
    facts = Facts({"policy.tpm_startup_pin": "Required"}, {"policy.tpm_startup_pin": text})
    assert facts.origins["policy.tpm_startup_pin"] == (ValueOrigin(note=text),)
    report = Engine.load(["silent_enablement"]).evaluate(facts)
    (reason,) = [c for o in report.outcomes if o.rule == "SE-09" for c in o.reasons]
    assert origins_text(reason.origins) == text
