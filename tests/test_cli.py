"""The ``bitlocker-rules`` command line: exit codes, reports, located errors, masked secrets.

Exit codes: 0 nothing failed, 1 a rule failed, 2 bad input or usage. Most tests call
``bitlocker_rules.cli.main`` in-process with ``capsys``; one runs ``python -m bitlocker_rules``
in a subprocess to prove the module entry point. Every test runs from the repository root
so that paths in the output are relative (``examples/...``, ``rulesets/...``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bitlocker_rules.cli import main

ROOT = Path(__file__).resolve().parents[1]
POLICY = "examples/policy-silent.json"
PIN_POLICY = "examples/policy-startup-pin.json"
READY = "examples/device-ready.json"
LEGACY = "examples/device-legacy.json"

SE = ("--rules", "silent_enablement")  # pin the ruleset: other shipped rulesets change the counts
RULE_IDS = ["SE-00", "SE-01", "SE-02", "SE-03", "SE-04", "SE-05", "SE-06", "SE-07", "SE-08", "SE-09", "SE-10", "SE-11"]

# A BitLocker recovery password (48 digits, eight groups of six).
SECRET = "123456-234567-345678-456789-567890-678901-789012-890123"
SECRET_DIGITS = SECRET.replace("-", "")
MASK = "******-******-******-******-******-******-******-******"


@pytest.fixture(autouse=True)
def in_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys, *argv: str) -> str:
    """Run an argparse usage error: it must exit 2 with a usage line; return stderr."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    assert info.value.code == 2
    assert "usage: bitlocker-rules" in err
    assert out == ""
    return err


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def device_file(tmp_path: Path, facts: dict, name: str = "device.json") -> str:
    return write(tmp_path, name, json.dumps({"deviceName": "TEST-01", "facts": facts}, indent=2))


def assert_clean_error(err: str) -> None:
    """A user-facing error: no Python traceback, no parser internals."""
    assert err.strip()
    assert "Traceback" not in err
    assert "__ANON" not in err
    assert "Token(" not in err
    assert "lark." not in err


def caret_under(err: str, word: str) -> tuple[str, str]:
    """The snippet line holding ``word`` and the caret line under it; carets must cover ``word``."""
    lines = err.splitlines()
    for i, line in enumerate(lines[:-1]):
        if word in line and "^" in lines[i + 1]:
            carets = lines[i + 1]
            start = line.index(word)
            assert carets.index("^") == start, f"caret not under `{word}`:\n{line}\n{carets}"
            return line, carets
    raise AssertionError(f"no caret line under `{word}` in:\n{err}")


# ---------------------------------------------------------------------------------------------
# check: exit codes and the table


def test_passing_example_exits_0(capsys):
    code, out, err = run(capsys, "check", *SE, "--policy", POLICY, "--device", READY)
    assert code == 0
    assert err == ""
    assert out.startswith("BitLocker rules for device 'CONTOSO-LT-0423' (c7a1e2f3-4b5c-4d6e-8f90-123456789abc)\n")
    assert re.search(r"^PASS — no rule fails\. \d+ pass, 1 does not apply\.$", out, re.M)
    assert not re.search(r"^(pass|n/a)\s+SE-", out, re.M)  # passing rows are counted, not listed
    assert re.search(
        r"^Not listed: \d+ rules that pass and 1 rule that does not apply; --verbose lists every rule\.$", out, re.M
    )
    _, out, _ = run(capsys, "check", *SE, "--policy", POLICY, "--device", READY, "--verbose")
    for rule in RULE_IDS:
        assert re.search(rf"^(pass|n/a)\s+{rule}\s", out, re.M), rule
    assert "\x1b[" not in out  # no colour when stdout is not a terminal
    assert str(ROOT) not in out  # no absolute paths


def test_failing_example_exits_1_and_explains(capsys):
    code, out, err = run(capsys, "check", *SE, "--policy", POLICY, "--device", LEGACY)
    assert code == 1
    assert err == ""
    assert re.search(r"^FAIL — 3 rules fail; 3 causes\. \d+ pass, 1 does not apply\.$", out, re.M)
    assert re.search(
        r"^FAIL\s+SE-05\s+error\s+The firmware runs in native UEFI( mode)?\s+BIOS Mode is Legacy$", out, re.M
    )
    assert re.search(r"^FAIL\s+SE-03\s.*Join type is Microsoft", out, re.M)
    assert re.search(r"^FAIL\s+SE-02\s", out, re.M)
    assert "SE-05 The firmware runs in native UEFI mode [fail, error]" in out
    assert "  - BIOS Mode is Legacy; the rule needs UEFI" in out
    assert "      rule text: device.firmware_mode == UEFI  (rulesets/silent_enablement.rules:68:11)" in out
    assert "  fix: Switch the firmware to UEFI mode without CSM (msinfo32 then shows BIOS Mode: UEFI);" in out
    assert "  events: 851" in out
    assert (
        "Join type is Microsoft Entra registered; the rule needs one of: Microsoft Entra joined, "
        "Microsoft Entra hybrid joined"
    ) in " ".join(out.split())  # lines wrap at the report's width
    assert "\x1b[" not in out


def test_default_checks_every_shipped_ruleset(capsys):
    code, listing, _ = run(capsys, "rules")
    assert code == 0
    rules = [m.group(1) for m in re.finditer(r"^\S+\s+(\S+)\s+(?:rule|advice)\s", listing, re.M)]
    assert set(RULE_IDS) <= set(rules)
    code, out, _ = run(capsys, "check", "--policy", POLICY, "--device", LEGACY, "--verbose")
    assert code == 1
    table = out.split("Every rule:\n")[1].split("\n\n")[0]
    rows = re.findall(r"^(?:pass|FAIL|unknown|n/a)\s+(\S+)", table, re.M)  # a wrapped title continues below
    assert rows == rules
    code, out, _ = run(capsys, "check", "--policy", POLICY, "--device", READY)
    assert code == (1 if re.search(r"^FAIL\s", out, re.M) else 0)


def test_startup_pin_policy_names_the_intune_setting(capsys):
    code, out, _ = run(capsys, "check", *SE, "--policy", PIN_POLICY, "--device", READY)
    assert code == 1
    assert (
        "Compatible TPM startup PIN is Require startup PIN with TPM; "
        "the rule needs anything but Require startup PIN with TPM"
    ) in " ".join(out.split())  # lines wrap
    assert re.search(r"^FAIL\s+SE-09\s", out, re.M)


def test_module_entry_point(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    failing = subprocess.run(
        [sys.executable, "-m", "bitlocker_rules", "check", *SE, "--policy", POLICY, "--device", LEGACY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failing.returncode == 1, failing.stderr
    assert "FAIL      SE-05" in failing.stdout
    passing = subprocess.run(
        [
            sys.executable,
            "-m",
            "bitlocker_rules",
            "check",
            *SE,
            "--policy",
            POLICY,
            "--device",
            READY,
            "--format",
            "json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert passing.returncode == 0, passing.stderr
    assert json.loads(passing.stdout)["summary"]["fail"] == 0
    bad = subprocess.run(
        [sys.executable, "-m", "bitlocker_rules", "check", "--device", str(tmp_path / "none.json")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert_clean_error(bad.stderr)


def test_policy_only_leaves_device_rules_unknown_and_exits_0(capsys):
    code, out, _ = run(capsys, "check", *SE, "--policy", POLICY)
    assert code == 0
    assert re.search(r"^unknown\s+SE-05\s.*missing: BIOS Mode$", out, re.M)
    assert "BIOS Mode is not known (fact device.firmware_mode is missing); the rule needs UEFI" in out


def test_missing_fact_in_device_file_is_unknown(capsys, tmp_path):
    facts = json.loads((ROOT / READY).read_text())["facts"]
    facts["tpm_version"] = None
    code, out, _ = run(capsys, "check", *SE, "--policy", POLICY, "--device", device_file(tmp_path, facts))
    assert code == 0
    assert re.search(r"^unknown\s+SE-04\s.*missing: TPM version$", out, re.M)
    assert "TPM version is not known (fact device.tpm_version is missing); the rule needs at least 1.2" in out


def test_verbose_explains_passing_rules(capsys):
    code, out, _ = run(capsys, "check", *SE, "--policy", POLICY, "--device", READY, "--verbose")
    assert code == 0
    assert "SE-09 A startup PIN is not required [pass, error]" in out
    assert "Compatible TPM startup PIN is Do not allow startup PIN with TPM; as required" in out


def test_conflicting_policies_are_unknown_not_failed(capsys):
    code, out, _ = run(capsys, "check", *SE, "--policy", POLICY, "--policy", PIN_POLICY, "--device", READY)
    assert code == 0
    assert re.search(r"^unknown\s+SE-09\s", out, re.M)
    assert re.search(r"^PASS — no rule fails; 3 settings in conflict between policies\.", out, re.M)
    causes = out.split("Causes, worst first:\n")[1]  # each setting in conflict is a cause
    assert re.search(
        r"^ \d\. Compatible TPM startup PIN \(policy.tpm_startup_pin\) is in conflict between policies:\n"
        r"      policy 'WIN - EP - BitLocker silent' \(\S+\) sets Do not allow",
        causes,
        re.M,
    )
    assert re.search(
        r"policy 'WIN - EP - BitLocker with startup PIN' \(\S+\) sets Require startup PIN with TPM",
        " ".join(causes.split()),
    )  # lines wrap
    assert "Other settings in conflict" not in out  # every one is a cause: not listed twice


# ---------------------------------------------------------------------------------------------
# check: bad input exits 2 with a located message


def test_missing_file_exits_2(capsys):
    code, out, err = run(capsys, "check", *SE, "--policy", "examples/no-such-policy.json", "--device", READY)
    assert code == 2
    assert out == ""
    assert_clean_error(err)
    assert "examples/no-such-policy.json" in err
    assert "cannot read" in err


def test_directory_as_device_file_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "check", "--device", str(tmp_path))
    assert code == 2
    assert_clean_error(err)


def test_malformed_json_is_located_with_a_caret(capsys, tmp_path):
    path = write(tmp_path, "bad.json", '{\n  "facts": {\n    "os_version": "1809",\n    "tpm_present": tru\n  }\n}\n')
    code, out, err = run(capsys, "check", *SE, "--policy", POLICY, "--device", path)
    assert code == 2
    assert out == ""
    assert_clean_error(err)
    assert f"{path}:4:20:" in err
    assert "malformed JSON" in err
    line, carets = caret_under(err, "tru")
    assert line.endswith('"tpm_present": tru')
    assert carets.strip() == "^"


def test_empty_json_file_is_malformed(capsys, tmp_path):
    path = write(tmp_path, "empty.json", "")
    code, _, err = run(capsys, "check", "--device", path)
    assert code == 2
    assert f"{path}:1:1:" in err
    assert "^" in err


def test_json_without_facts_object_exits_2(capsys, tmp_path):
    path = write(tmp_path, "list.json", "[1, 2]")
    code, _, err = run(capsys, "check", "--device", path)
    assert code == 2
    assert_clean_error(err)
    assert "$[0]" in err and "cannot tell what kind of" in err


def test_unknown_fact_in_device_file(capsys, tmp_path):
    path = device_file(tmp_path, {"os_version": "1809", "tpm_versoin": 2.0})
    code, out, err = run(capsys, "check", *SE, "--policy", POLICY, "--device", path)
    assert code == 2
    assert out == ""
    assert_clean_error(err)
    assert f"{path}: $.facts.tpm_versoin:" in err
    assert "unknown fact `device.tpm_versoin`" in err
    assert "did you mean `device.tpm_version`?" in err


def test_unknown_qualified_fact_in_device_file(capsys, tmp_path):
    path = device_file(tmp_path, {"device.firmware_mod": "UEFI"})
    code, _, err = run(capsys, "check", "--device", path)
    assert code == 2
    assert '$.facts["device.firmware_mod"]' in err
    assert "did you mean `device.firmware_mode`?" in err


def test_unknown_setting_in_policy_file(capsys, tmp_path):
    path = write(tmp_path, "policy.json", json.dumps({"settings": {"tpm_startup_pn": "Required"}}))
    code, _, err = run(capsys, "check", "--policy", path)
    assert code == 2
    assert "$.settings.tpm_startup_pn" in err
    assert "did you mean `policy.tpm_startup_pin`?" in err


def test_wrong_typed_value(capsys, tmp_path):
    path = device_file(tmp_path, {"tpm_present": "yes"})
    code, _, err = run(capsys, "check", "--device", path)
    assert code == 2
    assert_clean_error(err)
    assert f"{path}: $.facts.tpm_present:" in err
    assert '"yes" is not a valid value for device.tpm_present (TPM present)' in err
    assert "expected true or false" in err


def test_wrong_version_value(capsys, tmp_path):
    path = device_file(tmp_path, {"os_version": "Windows 7"})
    code, _, err = run(capsys, "check", "--device", path)
    assert code == 2
    assert "$.facts.os_version" in err
    assert "release name" in err


def test_unknown_enum_member_with_suggestion(capsys, tmp_path):
    path = device_file(tmp_path, {"firmware_mode": "UEFl"})
    code, _, err = run(capsys, "check", "--device", path)
    assert code == 2
    assert_clean_error(err)
    assert "$.facts.firmware_mode" in err
    assert "one of UEFI, LegacyBIOS" in err
    assert "did you mean `UEFI`?" in err


def test_unknown_enum_member_in_policy_with_suggestion(capsys, tmp_path):
    path = write(tmp_path, "policy.json", json.dumps({"settings": {"tpm_startup": "Requird"}}))
    code, _, err = run(capsys, "check", "--policy", path)
    assert code == 2
    assert "$.settings.tpm_startup" in err
    assert "(Compatible TPM startup)" in err
    assert "did you mean `Required`?" in err


def test_every_bad_entry_is_reported_at_once(capsys, tmp_path):
    path = device_file(tmp_path, {"tpm_versoin": 2.0, "tpm_present": "yes", "firmware_mode": "UEFl"})
    code, _, err = run(capsys, "check", "--device", path)
    assert code == 2
    for where in ("$.facts.tpm_versoin", "$.facts.tpm_present", "$.facts.firmware_mode"):
        assert where in err


def test_policy_fact_in_device_file_says_where_it_belongs(capsys, tmp_path):
    path = device_file(tmp_path, {"policy.tpm_startup_pin": "Required"})
    code, _, err = run(capsys, "check", "--device", path)
    assert code == 2
    assert '$.facts["policy.tpm_startup_pin"]' in err
    assert "help:" in err
    assert "--policy" in err or "settings" in err


# ---------------------------------------------------------------------------------------------
# check: rule files

TYPO_RULES = """ruleset custom "Custom rules"

rule C-01 "The TPM is new enough"
  severity error
  sources S4
  require device.tpm_versoin >= 1.2
"""


def test_rule_file_with_misspelled_fact(capsys, tmp_path):
    path = write(tmp_path, "custom.rules", TYPO_RULES)
    code, out, err = run(capsys, "check", "--rules", path, "--device", READY)
    assert code == 2
    assert out == ""
    assert_clean_error(err)
    assert f"{path}:6:11:" in err
    assert "unknown fact `device.tpm_versoin`" in err
    _, carets = caret_under(err, "device.tpm_versoin")
    assert carets.strip() == "^" * len("device.tpm_versoin")
    assert "did you mean `device.tpm_version`?" in err


def test_rule_file_with_misspelled_enum_member(capsys, tmp_path):
    path = write(
        tmp_path, "custom.rules", TYPO_RULES.replace("device.tpm_versoin >= 1.2", "device.join_type == AzureAdJoined")
    )
    code, _, err = run(capsys, "check", "--rules", path, "--device", READY)
    assert code == 2
    assert f"{path}:6:31:" in err
    caret_under(err, "AzureAdJoined")
    assert "did you mean `AzureADJoined`?" in err


SYNTAX_ERRORS = {
    "doubled operator": ("  require device.tpm_version >= >= 1.2\n", "6:33", ">= 1.2"),
    "unterminated text": ('  remediation "Fix it\n', "6:15", '"Fix it'),
    # An unclosed bracket is shown where it was opened, not where the file ends.
    "unclosed bracket": ("  require (device.tpm_version >= 1.2\n", "6:11", "("),
    "dangling and": ("  require device.tpm_present and\n", "6:32", None),
    "unknown clause": ("  sourcs S4\n", "6:3", "sourcs"),
}


@pytest.mark.parametrize("case", SYNTAX_ERRORS, ids=lambda c: c.replace(" ", "_"))
def test_rule_file_syntax_error(capsys, tmp_path, case):
    last_line, position, under = SYNTAX_ERRORS[case]
    text = TYPO_RULES.replace("  require device.tpm_versoin >= 1.2\n", last_line)
    path = write(tmp_path, "custom.rules", text)
    code, out, err = run(capsys, "check", "--rules", path, "--device", READY)
    assert code == 2
    assert out == ""
    assert_clean_error(err)
    assert re.search(r"\bE1\d\d\b", err), err
    assert err.startswith(f"{path}:{position}: "), err
    assert "^" in err
    if under:
        caret_under(err, under)


@pytest.mark.parametrize("clause", ["requires device.tpm_present", "requirement device.tpm_present", "requires_tpm"])
def test_rule_file_misspelled_keyword_is_located_at_the_keyword(capsys, tmp_path, clause):
    text = TYPO_RULES.replace("require device.tpm_versoin >= 1.2", clause)
    path = write(tmp_path, "custom.rules", text)
    code, _, err = run(capsys, "check", "--rules", path, "--device", READY)
    assert code == 2
    assert_clean_error(err)
    word = clause.split()[0]
    assert f"{path}:6:3:" in err
    assert f"`{word}`" in err
    caret_under(err, word)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("  require device.tpm_versoin", "  requiredevice.tpm_version"),
        ('rule C-01 "', 'ruleC-01 "'),
        ("  severity error", "  severityerror"),
    ],
    ids=["require", "rule", "severity"],
)
def test_rule_file_keyword_glued_to_a_word_is_an_error(capsys, tmp_path, old, new):
    text = TYPO_RULES.replace("tpm_versoin", "tpm_version").replace(old.replace("tpm_versoin", "tpm_version"), new)
    assert new in text
    path = write(tmp_path, "custom.rules", text)
    code, _, err = run(capsys, "check", "--rules", path, "--device", READY)
    assert code == 2
    assert_clean_error(err)


def test_rule_file_syntax_error_location(capsys, tmp_path):
    text = TYPO_RULES.replace("device.tpm_versoin >= 1.2", "device.tpm_version >= >= 1.2")
    path = write(tmp_path, "custom.rules", text)
    code, _, err = run(capsys, "check", "--rules", path, "--device", READY)
    assert code == 2
    assert f"{path}:6:33:" in err
    assert "unexpected `>=`" in err
    assert "help: expected" in err


def test_empty_rule_file(capsys, tmp_path):
    path = write(tmp_path, "empty.rules", "")
    code, _, err = run(capsys, "check", "--rules", path, "--device", READY)
    assert code == 2
    assert_clean_error(err)
    assert f"{path}:1:1:" in err


def test_unreadable_rule_file(capsys, tmp_path):
    path = tmp_path / "binary.rules"
    path.write_bytes(b"\xff\xfe\x00")
    code, _, err = run(capsys, "check", "--rules", str(path), "--device", READY)
    assert code == 2
    assert_clean_error(err)
    assert str(path) in err


def test_rule_file_with_byte_order_mark(capsys, tmp_path):
    path = tmp_path / "bom.rules"
    path.write_bytes("\ufeff".encode() + TYPO_RULES.replace("tpm_versoin", "tpm_version").encode())
    code, out, err = run(capsys, "check", "--rules", str(path), "--device", READY, "--format", "json")
    assert err == ""
    assert code == 0
    assert "C-01" in out


def test_rule_file_bool_compared_with_word_gets_help(capsys, tmp_path):
    path = write(tmp_path, "custom.rules", TYPO_RULES.replace("device.tpm_versoin >= 1.2", "device.tpm_present == Yes"))
    code, _, err = run(capsys, "check", "--rules", path, "--device", READY)
    assert code == 2
    assert "help:" in err
    assert "true" in err


def test_unknown_rules_name(capsys):
    code, out, err = run(capsys, "check", "--rules", "silent_enablment", "--policy", POLICY)
    assert code == 2
    assert out == ""
    assert_clean_error(err)
    assert "no shipped ruleset or rule file called `silent_enablment`" in err
    assert "did you mean `silent_enablement`?" in err


def test_unknown_rules_name_lists_shipped_rulesets(capsys):
    code, _, err = run(capsys, "rules", "--rules", "nothing-like-it")
    assert code == 2
    assert "silent_enablement" in err


# ---------------------------------------------------------------------------------------------
# Usage errors (argparse exits 2)


def test_no_command(capsys):
    usage_error(capsys)


def test_unknown_command(capsys):
    assert "invalid choice: 'frobnicate'" in usage_error(capsys, "frobnicate")


def test_bad_format_choice(capsys):
    assert "--format" in usage_error(capsys, "check", "--format", "xml", "--policy", POLICY)


def test_bad_fail_on_choice(capsys):
    assert "--fail-on" in usage_error(capsys, "check", "--fail-on", "critical", "--policy", POLICY)


def test_unknown_option(capsys):
    usage_error(capsys, "check", "--polcy", POLICY)


def test_explain_without_rule_id(capsys):
    usage_error(capsys, "explain")


def test_check_without_inputs(capsys):
    code, out, err = run(capsys, "check")
    assert code == 2
    assert out == ""
    assert "--policy" in err and "--device" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("bitlocker-rules ")


# ---------------------------------------------------------------------------------------------
# --format json, --output, --quiet, --fail-on


def test_json_report(capsys):
    code, out, err = run(capsys, "check", *SE, "--policy", POLICY, "--device", LEGACY, "--format", "json")
    assert code == 1
    assert err == ""
    doc = json.loads(out)
    assert doc["schema"] == "bitlocker-rules/report/1"
    assert doc["subject"] == "device 'CONTOSO-DT-0107' (2f4e6a8c-0b1d-4e3f-8a5b-7c9d1e2f3a4b)"
    assert doc["summary"] == {"pass": 8, "fail": 3, "unknown": 0, "not_applicable": 1}
    results = doc["results"]
    assert [r["rule"] for r in results] == RULE_IDS
    for result in results:
        for key in ("ruleset", "rule", "title", "severity", "sources", "status", "reasons"):
            assert key in result, (result["rule"], key)
        assert result["ruleset"] == "silent_enablement"
        assert result["severity"] == "error"
        assert isinstance(result["sources"], list) and result["sources"]
        assert result["status"] in ("pass", "fail", "unknown", "not_applicable")
        assert isinstance(result["reasons"], list)
    by_rule = {r["rule"]: r for r in results}
    assert {r for r, v in by_rule.items() if v["status"] == "fail"} == {"SE-02", "SE-03", "SE-05"}
    se05 = by_rule["SE-05"]
    assert se05["title"] == "The firmware runs in native UEFI mode"
    assert se05["sources"] == ["S5", "F4"]
    assert se05["events"] == [851]
    (reason,) = se05["reasons"]
    assert reason["fact"] == "device.firmware_mode"
    assert reason["label"] == "BIOS Mode"
    assert reason["actual"] == "Legacy"
    assert reason["required"] == "UEFI"
    assert reason["status"] == "fail"
    assert reason["text"] == "device.firmware_mode == UEFI"
    assert reason["location"] == "rulesets/silent_enablement.rules:68:11"
    assert reason["explanation"] == "BIOS Mode is Legacy; the rule needs UEFI"
    assert by_rule["SE-01"]["status"] == "not_applicable"
    assert [n["rule"] for n in doc["notes"]] == ["SE-12"]


def test_json_report_has_no_remediation_for_rules_that_do_not_apply(capsys):
    code, out, _ = run(capsys, "check", *SE, "--policy", POLICY, "--device", READY, "--format", "json")
    assert code == 0
    by_rule = {r["rule"]: r for r in json.loads(out)["results"]}
    assert by_rule["SE-01"]["status"] == "not_applicable"
    assert by_rule["SE-01"]["remediation"] == ""


def test_json_report_of_unknown_lists_missing_facts(capsys):
    code, out, _ = run(capsys, "check", *SE, "--policy", POLICY, "--format", "json")
    assert code == 0
    by_rule = {r["rule"]: r for r in json.loads(out)["results"]}
    assert by_rule["SE-04"]["status"] == "unknown"
    assert by_rule["SE-04"]["missing_facts"] == ["device.tpm_present", "device.tpm_version"]
    assert by_rule["SE-04"]["reasons"][0]["actual"] is None


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_output_file(capsys, tmp_path, fmt):
    code, expected, _ = run(capsys, "check", *SE, "--policy", POLICY, "--device", LEGACY, "--format", fmt)
    target = tmp_path / f"report.{fmt}"
    code_to_file, out, err = run(
        capsys, "check", *SE, "--policy", POLICY, "--device", LEGACY, "--format", fmt, "--output", str(target)
    )
    assert code == code_to_file == 1
    assert out == "" and err == ""
    assert target.read_text(encoding="utf-8") == expected
    assert "\x1b[" not in expected


def test_output_into_missing_folder_is_a_usage_error(capsys, tmp_path):
    target = tmp_path / "no-such-folder" / "report.txt"
    code, _, err = run(capsys, "check", *SE, "--policy", POLICY, "--device", READY, "--output", str(target))
    assert code == 2
    assert "no-such-folder" in err


@pytest.mark.parametrize(("device", "expected"), [(READY, 0), (LEGACY, 1)])
def test_quiet_prints_nothing(capsys, device, expected):
    code, out, err = run(capsys, "check", *SE, "--policy", POLICY, "--device", device, "--quiet")
    assert code == expected
    assert out == "" and err == ""


def test_quiet_still_reports_bad_input(capsys):
    code, out, err = run(capsys, "check", "--policy", "examples/nope.json", "--quiet")
    assert code == 2
    assert out == ""
    assert "nope.json" in err


SEVERITY_RULES = """ruleset custom "Custom severities"

rule W-01 "Secure Boot is on"
  severity warning
  sources S4
  require device.secure_boot == On

rule I-01 "WinRE is configured"
  severity info
  sources S4
  require device.winre_configured
"""


@pytest.mark.parametrize(
    ("facts", "fail_on", "expected"),
    [
        # only the warning rule fails
        ({"secure_boot": "Off", "winre_configured": True}, None, 1),
        ({"secure_boot": "Off", "winre_configured": True}, "info", 1),
        ({"secure_boot": "Off", "winre_configured": True}, "warning", 1),
        ({"secure_boot": "Off", "winre_configured": True}, "error", 0),
        # only the info rule fails
        ({"secure_boot": "On", "winre_configured": False}, None, 1),
        ({"secure_boot": "On", "winre_configured": False}, "info", 1),
        ({"secure_boot": "On", "winre_configured": False}, "warning", 0),
        ({"secure_boot": "On", "winre_configured": False}, "error", 0),
        # nothing fails
        ({"secure_boot": "On", "winre_configured": True}, "info", 0),
        # unknown never fails
        ({}, "info", 0),
    ],
)
def test_fail_on_severity(capsys, tmp_path, facts, fail_on, expected):
    rules = write(tmp_path, "severities.rules", SEVERITY_RULES)
    argv = ["check", "--rules", rules, "--device", device_file(tmp_path, facts), "--quiet"]
    if fail_on:
        argv += ["--fail-on", fail_on]
    code, _, _ = run(capsys, *argv)
    assert code == expected


@pytest.mark.parametrize("fail_on", ["error", "warning", "info"])
def test_fail_on_with_error_rules(capsys, fail_on):
    assert run(capsys, "check", *SE, "--policy", POLICY, "--device", LEGACY, "--fail-on", fail_on, "--quiet")[0] == 1
    assert run(capsys, "check", *SE, "--policy", POLICY, "--device", READY, "--fail-on", fail_on, "--quiet")[0] == 0


# ---------------------------------------------------------------------------------------------
# rules and explain


def test_rules_lists_every_rule(capsys):
    code, out, err = run(capsys, "rules")
    assert code == 0
    assert err == ""
    assert "ruleset" in out and "severity" in out and "title" in out
    for rule in [*RULE_IDS, "SE-12"]:
        assert re.search(rf"^silent_enablement\s+{rule}\s", out, re.M), rule
    assert re.search(r"SE-12\s+note\s", out)
    assert re.search(r"RK-04\s+advice\s+info", out) and re.search(r"PT-02\s+rule \(disputed\)\s+info", out)
    assert "The firmware runs in native UEFI mode" in out


def test_rules_of_a_rule_file(capsys, tmp_path):
    code, out, _ = run(capsys, "rules", "--rules", write(tmp_path, "s.rules", SEVERITY_RULES))
    assert code == 0
    assert re.search(r"^custom\s+W-01\s+rule\s+warning", out, re.M)
    assert "SE-09" not in out


def test_explain_prints_rule_and_facts_read(capsys):
    code, out, err = run(capsys, "explain", "SE-09")
    assert code == 0
    assert err == ""
    assert out.startswith("SE-09 (ruleset silent_enablement, rulesets/silent_enablement.rules)")
    assert 'rule SE-09 "A startup PIN is not required"' in out
    assert "severity error" in out
    assert "sources S9, F8, F19" in out
    assert "require policy.tpm_startup_pin != Required" in out
    assert "remediation" in out and "Do not allow startup" in out
    assert "facts it reads:" in out
    assert "  policy.tpm_startup_pin: Compatible TPM startup PIN" in out


def test_explain_is_case_insensitive_and_follows_definitions(capsys):
    code, out, _ = run(capsys, "explain", "pt-02")
    assert code == 0
    facts_part = out.split("facts it reads:")[1]
    for fact in ("policy.require_device_encryption", "policy.warning_for_other_disk_encryption", "policy.policy_type"):
        assert fact in facts_part


def test_explain_unknown_rule_suggests(capsys):
    code, out, err = run(capsys, "explain", "SE-9")
    assert code == 2
    assert out == ""
    assert "no rule `SE-9`" in err
    assert "did you mean `SE-09`?" in err


# ---------------------------------------------------------------------------------------------
# Recovery passwords never reach the output

SECRET_RULES = """ruleset custom "Custom"

rule C-01 "The device has a known Azure AD id"
  severity error
  sources S14
  require device.azure_ad_device_id == "00000000-0000-0000-0000-000000000000"
"""


def assert_masked(text: str) -> None:
    assert SECRET not in text
    assert SECRET_DIGITS not in text
    for group in ("234567-345678", "345678456789"):
        assert group not in text, text


@pytest.mark.parametrize("fmt", ["table", "json"])
@pytest.mark.parametrize(
    "secret", [SECRET, SECRET_DIGITS, SECRET.replace("-", " ")], ids=["dashes", "digits", "spaces"]
)
def test_recovery_password_in_device_fact_is_never_printed(capsys, tmp_path, fmt, secret):
    facts = {**json.loads((ROOT / READY).read_text())["facts"], "azure_ad_device_id": secret}
    path = device_file(tmp_path, facts)
    code, out, err = run(capsys, "check", *SE, "--policy", POLICY, "--device", path, "--format", fmt, "--verbose")
    assert code == 0
    assert_masked(out + err)


@pytest.mark.parametrize("fmt", ["table", "json"])
@pytest.mark.parametrize("secret", [SECRET, SECRET_DIGITS], ids=["dashes", "digits"])
def test_recovery_password_shown_by_a_rule_is_masked(capsys, tmp_path, fmt, secret):
    rules = write(tmp_path, "secret.rules", SECRET_RULES)
    path = device_file(tmp_path, {"azure_ad_device_id": secret})
    code, out, err = run(capsys, "check", "--rules", rules, "--device", path, "--format", fmt)
    assert code == 1
    assert_masked(out + err)
    assert MASK in out
    if fmt == "json":
        (result,) = json.loads(out)["results"]
        assert result["reasons"][0]["actual"] == MASK


def test_recovery_password_in_output_file_is_masked(capsys, tmp_path):
    rules = write(tmp_path, "secret.rules", SECRET_RULES)
    target = tmp_path / "report.json"
    run(
        capsys,
        "check",
        "--rules",
        rules,
        "--device",
        device_file(tmp_path, {"azure_ad_device_id": SECRET}),
        "--format",
        "json",
        "--output",
        str(target),
    )
    text = target.read_text(encoding="utf-8")
    assert_masked(text)
    assert MASK in text


def test_recovery_password_in_a_bad_value_is_masked(capsys, tmp_path):
    path = device_file(tmp_path, {"tpm_version": SECRET})
    code, out, err = run(capsys, "check", "--device", path)
    assert code == 2
    assert_masked(out + err)
    assert MASK in err


def test_recovery_password_in_malformed_json_snippet_is_masked(capsys, tmp_path):
    path = write(tmp_path, "bad.json", f'{{"facts": {{"azure_ad_device_id": "{SECRET}" , }}}}')
    code, out, err = run(capsys, "check", "--device", path)
    assert code == 2
    assert_masked(out + err)


def test_recovery_password_late_in_a_long_bad_value_is_masked(capsys, tmp_path):
    path = device_file(tmp_path, {"tpm_version": f"the recovery password for the OS drive is {SECRET}"})
    code, out, err = run(capsys, "check", "--device", path)
    assert code == 2
    assert_masked(out + err)


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_recovery_password_after_an_underscore_is_masked(capsys, tmp_path, fmt):
    rules = write(tmp_path, "secret.rules", SECRET_RULES)
    path = device_file(tmp_path, {"azure_ad_device_id": f"key_{SECRET}"})
    _, out, err = run(capsys, "check", "--rules", rules, "--device", path, "--format", fmt)
    assert_masked(out + err)


@pytest.mark.parametrize("command", [["rules"], ["explain", "C-01"]], ids=["rules", "explain"])
def test_recovery_password_in_rule_text_is_masked_by_rules_and_explain(capsys, tmp_path, command):
    text = SECRET_RULES.replace('"The device has a known Azure AD id"', f'"Not {SECRET}"').replace(
        "00000000-0000-0000-0000-000000000000", SECRET
    )
    rules = write(tmp_path, "secret.rules", text)
    code, out, err = run(capsys, *command, "--rules", rules)
    assert code == 0
    assert_masked(out + err)


# ---------------------------------------------------------------------------------------------
# lint, compare, repair


def test_lint_reports_the_pin_contradiction_with_both_rules(capsys):
    code, out, _ = run(capsys, "lint", "silent_enablement", "examples/baseline-startup-pin.rules")
    assert code == 1
    (line,) = [found for found in out.splitlines() if "[L107]" in found]
    assert "SE-09" in line and "CB-01" in line
    assert "anything but Require startup PIN with TPM" in line and "to be Require startup PIN with TPM" in line
    assert "examples/baseline-startup-pin.rules:" in out


def test_lint_of_the_shipped_rulesets_has_no_warnings_or_errors(capsys):
    code, out, _ = run(capsys, "lint")
    assert code == 0
    assert "0 error, 0 warning" in out


def test_lint_sarif_points_into_rule_files(capsys):
    _, out, _ = run(capsys, "lint", "--format", "sarif", "silent_enablement", "examples/baseline-startup-pin.rules")
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    result = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "L107")
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] >= 1


def test_lint_bad_file_reports_the_diagnostic_and_exits_2(capsys, tmp_path):
    path = tmp_path / "bad.rules"
    path.write_text('ruleset bad "B"\nrule B-1 "x" require device.tpm_presnt\n')
    code, out, _ = run(capsys, "lint", str(path))
    assert code == 2
    assert "E302" in out and "bad.rules:2:" in out


def test_compare_gives_a_witness_each_way(capsys):
    code, out, _ = run(capsys, "compare", "silent_enablement", "examples/baseline-startup-pin.rules")
    assert code == 1
    assert out.startswith("silent_enablement is incomparable with examples/baseline-startup-pin.rules")
    assert "(fails CB-01)" in out and "(fails SE-09)" in out


def test_compare_a_ruleset_with_itself_is_equivalent(capsys):
    code, out, _ = run(capsys, "compare", "silent_enablement", "silent_enablement")
    assert code == 0 and "equivalent" in out


# Repairs read rule text written here (the shipped rulesets change on their own schedule).
REPAIR_RULES = """ruleset se "Silent enablement, as the repair tests need it"
rule SE-05 "UEFI" require device.firmware_mode == UEFI
rule SE-06 "No warning" require policy.warning_for_other_disk_encryption == Block
rule SE-09 "No startup PIN required" require policy.tpm_startup_pin != Required
"""


def test_repair_names_settings_and_device_prerequisites(capsys, tmp_path):
    rules = write(tmp_path, "se.rules", REPAIR_RULES)
    code, out, _ = run(capsys, "repair", "--rules", rules, "--policy", PIN_POLICY, "--device", LEGACY)
    assert code == 1
    # SE-09 asks for a lower setting: the smallest lowering, the next one as an alternative.
    assert (
        "Compatible TPM startup PIN: Require startup PIN with TPM → Allow startup PIN with TPM"
        "  (or: Do not allow startup PIN with TPM)"
    ) in out
    assert "Device prerequisites" in out and "BIOS Mode: UEFI" in out
    assert "→ Not configured" not in out


def test_repair_json_on_a_device_that_can_pass(capsys, tmp_path):
    rules = write(tmp_path, "se.rules", REPAIR_RULES)
    code, out, _ = run(
        capsys, "repair", "--rules", rules, "--policy", PIN_POLICY, "--device", READY, "--format", "json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["complete"] is True and doc["turn_off"] == []
    assert {c["fact"] for c in doc["changes"]} == {"policy.tpm_startup_pin", "policy.warning_for_other_disk_encryption"}


def test_failing_check_names_the_smallest_policy_change_and_device_prerequisites(capsys, tmp_path):
    rules = write(tmp_path, "se.rules", REPAIR_RULES)
    code, out, _ = run(
        capsys, "check", "--rules", rules, "--policy", PIN_POLICY, "--device", LEGACY, "--format", "json"
    )
    doc = json.loads(out)
    assert code == 1
    changes = {c["fact"]: (c["current"], c["new"]) for c in doc["suggested_changes"]}
    assert changes["policy.tpm_startup_pin"] == ("Require startup PIN with TPM", "Allow startup PIN with TPM")
    assert any(p.startswith("SE-05 ") and "BIOS Mode is Legacy" in p for p in doc["device_prerequisites"])
    assert doc["turn_off_changes"] == []
    code, out, _ = run(capsys, "check", "--rules", rules, "--policy", PIN_POLICY, "--device", LEGACY)
    assert "Smallest policy change that makes the failing rules pass:" in out


PIN_LENGTH_RULE = """ruleset t "T"
rule T-1 "PIN length"
  when policy.tpm_startup_pin == Required
  require policy.configure_minimum_pin_length == Enabled and policy.minimum_pin_length >= 8
"""


def test_check_fixes_a_failing_rule_rather_than_turn_it_off(capsys, tmp_path):
    rules = write(tmp_path, "t.rules", PIN_LENGTH_RULE)
    code, out, _ = run(capsys, "check", "--rules", rules, "--policy", PIN_POLICY, "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert [(c["fact"], c["new"]) for c in doc["suggested_changes"]] == [
        ("policy.configure_minimum_pin_length", "Enable"),
        ("policy.minimum_pin_length", "8"),
    ]
    assert doc["turn_off_changes"] == []


def test_repair_never_weakens_a_setting_for_a_rule_that_does_not_fail(capsys, tmp_path):
    # T-20 is unknown on this device: before, the repair set the cipher to Not configured.
    rules = write(
        tmp_path,
        "t.rules",
        'ruleset t "T"\nrule T-5 "UEFI" require device.firmware_mode == UEFI\n'
        'rule T-20 "Cipher"\n  when device.encrypted and policy.os_encryption_method != NotConfigured\n'
        "  require device.os_volume_encryption_method == policy.os_encryption_method\n",
    )
    code, out, _ = run(capsys, "repair", "--rules", rules, "--policy", POLICY, "--device", LEGACY)
    assert code == 1
    assert "Change " not in out and "Not configured" not in out
    assert "T-5 UEFI" in out


def test_changes_that_only_turn_a_rule_off_are_shown_apart(capsys, tmp_path):
    rules = write(
        tmp_path,
        "t.rules",
        'ruleset t "T"\nrule T-2 "A PIN needs TPM 2.0"\n'
        "  when policy.tpm_startup_pin == Required\n  require device.tpm_version >= 2.0\n",
    )
    code, out, _ = run(capsys, "repair", "--rules", rules, "--policy", PIN_POLICY, "--device", LEGACY)
    assert code == 1 and "Change " not in out
    assert (
        "Not a fix: changes that would only turn a rule off (it would no longer apply):\n"
        "  - T-2 A PIN needs TPM 2.0: Compatible TPM startup PIN: Require startup PIN with TPM → "
        "Allow startup PIN with TPM\n"
    ) in out
    code, out, _ = run(
        capsys, "repair", "--rules", rules, "--policy", PIN_POLICY, "--device", LEGACY, "--format", "json"
    )
    assert [t["rule"] for t in json.loads(out)["turn_off"]] == ["T-2"]
    code, out, _ = run(
        capsys, "check", "--rules", rules, "--policy", PIN_POLICY, "--device", LEGACY, "--format", "json"
    )
    doc = json.loads(out)
    assert doc["suggested_changes"] == []
    (off,) = doc["turn_off_changes"]
    assert (off["rule"], [c["new"] for c in off["changes"]]) == ("T-2", ["Allow startup PIN with TPM"])
    code, out, _ = run(capsys, "check", "--rules", rules, "--policy", PIN_POLICY, "--device", LEGACY)
    assert "Not a fix: changes that would only turn a rule off" in out
    code, out, _ = run(
        capsys, "check", "--rules", rules, "--policy", PIN_POLICY, "--device", LEGACY, "--format", "markdown"
    )
    assert "Not a fix: these changes would only turn a rule off" in out and "**Compatible TPM startup PIN**" in out


def test_lint_reads_named_rulesets_in_their_scenarios(capsys):
    """Naming the rulesets declares their scenarios: the baseline contradicts both silent rules
    that forbid a required PIN; with nothing named, silent enablement may be out of scope."""
    code, out, _ = run(capsys, "lint", "rulesets/", "examples/baseline-startup-pin.rules")
    assert code == 1
    lines = [line for line in out.splitlines() if "[L107]" in line]
    assert sorted(line.split(":")[0] for line in lines) == [
        "rulesets/encryption_readiness.rules",
        "rulesets/silent_enablement.rules",
    ]
    assert all("CB-01" in line for line in lines)
    code, out, _ = run(
        capsys, "lint", "--scenario", "interactive_startup", "rulesets/", "examples/baseline-startup-pin.rules"
    )
    assert "[L107]" not in out  # declared interactive: silent enablement is out of scope


def test_lint_of_the_shipped_folder_is_clean_in_its_declared_scenarios(capsys):
    """Naming the folder declares its rulesets' scenarios; a rule implied by another only in one
    scenario is not redundant, so the shipped rules lint clean read either way."""
    code, out, _ = run(capsys, "lint", "rulesets/")
    assert code == 0 and "0 error, 0 warning" in out
