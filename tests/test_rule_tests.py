"""``bitlocker-rules test``: the case file format and its errors, the runner's outputs and exit
codes, JUnit XML, and coverage on a small ruleset counted by hand.

The ruleset ``demo.rules`` has two rules; its coverage below is worked out by hand from what
each case decides (the oracle does not call the coverage code), then compared with what the
command computes.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_report_formats import validate

from bitlocker_rules.cli import main
from bitlocker_rules.errors import SECRET_MASK, InputError, MaskedText
from bitlocker_rules.report import render_test_run
from bitlocker_rules.ruletests import load_case_file, run_tests
from bitlocker_rules.vocabulary import shipped_vocabulary

ROOT = Path(__file__).resolve().parents[1]
VOCABULARY = shipped_vocabulary()

DEMO_RULES = """ruleset demo "A demo ruleset"

define admin = device.user_role == Administrator

rule D-01 "An administrator's device has a TPM 1.2 or later"
  severity error
  when admin
  require device.tpm_present and device.tpm_version >= 1.2
  remediation "Turn the TPM on in the firmware settings."

rule D-02 "The firmware runs in UEFI mode"
  severity warning
  require device.firmware_mode == UEFI
  remediation "Switch the firmware to UEFI."

note D-03 "Administrators can enable BitLocker themselves"
  when admin
"""

DEMO_CASES = """[[case]]
name = "an administrator's ready device"
device.user_role = "Administrator"
device.tpm_present = true
device.tpm_version = 2.0
device.firmware_mode = "UEFI"
expect = { D-01 = "pass", D-02 = "pass", D-03 = "applies" }

[[case]]
name = "a standard user on legacy BIOS"
device.user_role = "StandardUser"
device.firmware_mode = "LegacyBIOS"
expect = { D-01 = "not_applicable", D-02 = { verdict = "fail", reason = "device.firmware_mode", fix = "UEFI" } }

[[case]]
name = "an administrator without a TPM"
extends = "an administrator's ready device"
device.tpm_present = false
unset = ["device.firmware_mode"]
expect = { D-01 = "fail", D-02 = "unknown" }
"""


def demo(folder: Path, cases: str = DEMO_CASES, rules: str = DEMO_RULES) -> Path:
    """``demo.rules`` and ``demo.tests.toml`` in ``folder``; the case file's path."""
    (folder / "demo.rules").write_text(rules, encoding="utf-8")
    path = folder / "demo.tests.toml"
    path.write_text(cases, encoding="utf-8")
    return path


def test(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(["test", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


test.__test__ = False  # a helper, not a test


# --- running cases


def test_every_case_passes_and_extends_inherits(tmp_path, capsys):
    path = demo(tmp_path)
    run = run_tests([path], VOCABULARY)
    assert [r.passed for r in run.results] == [True, True, True]
    assert [r.checked for r in run.results] == [3, 2, 3]  # the third inherits D-03 from the first
    third = run.results[2].case
    assert third.facts["device.tpm_version"] == 2.0 and "device.firmware_mode" not in third.facts
    code, out, _ = test([str(path)], capsys)
    assert code == 0
    assert out.endswith("PASS: 3 cases, 3 passed, 0 failed\n")


def test_a_failing_case_shows_expected_actual_and_the_explanation(tmp_path, capsys):
    cases = DEMO_CASES.replace('D-01 = "fail", D-02 = "unknown"', 'D-01 = "pass", D-02 = "unknown"')
    path = demo(tmp_path, cases)
    code, out, _ = test([str(path)], capsys)
    assert code == 1
    lines = out.splitlines()
    start = lines.index(f"FAIL {path} case 'an administrator without a TPM'")
    assert lines[start + 1 : start + 6] == [
        "  D-01: verdict",
        "    expected: pass",
        "    actual:   fail",
        "    D-01 An administrator's device has a TPM 1.2 or later [fail, error]",
        f"      rule: {tmp_path / 'demo.rules'}:5:1",
    ]
    assert "      - TPM present is No; the rule needs Yes" in lines
    assert "      - The rule applies: Signed-in user role is Administrator" in lines
    assert "      fix: Turn the TPM on in the firmware settings." in lines
    assert out.endswith("FAIL: 3 cases, 2 passed, 1 failed\n")


@pytest.mark.parametrize(
    ("old", "new", "what", "expected", "actual"),
    [
        (
            'reason = "device.firmware_mode"',
            'reason = "device.user_role"',
            "reason",
            "device.user_role",
            "device.firmware_mode",
        ),
        ('fix = "UEFI"', 'fix = "BIOS"', "fix", "BIOS", "Switch the firmware to UEFI."),
        ('D-03 = "applies"', 'D-03 = "not_applicable"', "verdict", "not_applicable", "applies"),
        ('D-02 = "unknown"', 'D-02 = ["pass", "fail"]', "verdict", "pass or fail", "unknown"),
    ],
)
def test_each_expectation_is_checked(tmp_path, old, new, what, expected, actual):
    run = run_tests([demo(tmp_path, DEMO_CASES.replace(old, new))], VOCABULARY)
    found = {(m.what, m.expected, m.actual) for r in run.results for m in r.mismatches}
    assert found == {(what, expected, actual)}


def test_others_checks_the_rules_a_case_does_not_name(tmp_path):
    cases = DEMO_CASES.replace(
        'expect = { D-01 = "not_applicable"', 'others = ["pass"]\nexpect = { D-01 = "not_applicable"'
    )
    run = run_tests([demo(tmp_path, cases)], VOCABULARY)
    assert all(r.passed for r in run.results)
    cases = cases.replace('D-01 = "not_applicable", ', "")
    (result,) = run_tests([demo(tmp_path, cases)], VOCABULARY).failed
    ((rule, expected, actual),) = [(m.rule, m.expected, m.actual) for m in result.mismatches]
    assert (rule, expected, actual) == ("D-01", "pass", "not_applicable")


def test_the_compiled_and_the_explained_verdicts_must_agree(tmp_path, monkeypatch):
    from bitlocker_rules.engine import Engine

    def all_pass(self, loaded, values, views):
        return (0,) * len(loaded.rules), {}

    monkeypatch.setattr(Engine, "verdicts_per_policy", all_pass)  # a compiler that passes everything
    run = run_tests([demo(tmp_path)], VOCABULARY)
    found = {(r.case.name, m.rule, m.expected, m.actual) for r in run.results for m in r.mismatches}
    assert ("an administrator without a TPM", "D-01", "compiled pass", "interpreted fail") in found
    assert ("a standard user on legacy BIOS", "D-02", "compiled pass", "interpreted fail") in found


def test_facts_from_an_intune_export_and_a_device_file(tmp_path):
    shutil.copy(ROOT / "examples" / "policy-silent.json", tmp_path / "policy.json")
    shutil.copy(ROOT / "examples" / "device-legacy.json", tmp_path / "device.json")
    cases = """rules = ["silent_enablement"]

[[case]]
name = "the legacy example device"
policy_files = ["policy.json"]
device_files = ["device.json"]
expect = { SE-02 = "fail", SE-03 = "fail", SE-05 = { verdict = "fail", reason = "device.firmware_mode" } }

[[case]]
name = "the same device, upgraded to UEFI"
extends = "the legacy example device"
device.firmware_mode = "UEFI"
expect = { SE-05 = "pass" }
others = ["pass", "not_applicable", "fail"]
"""
    path = tmp_path / "legacy.tests.toml"
    path.write_text(cases, encoding="utf-8")
    run = run_tests([path], VOCABULARY)
    assert not run.failed, [r.mismatches for r in run.failed]
    (first, second) = run.results
    origins = [c.origins for o in first.report.outcomes if o.rule == "SE-05" for c in o.reasons]
    assert [(o.input, o.path) for found in origins for o in found] == [
        ("device 'CONTOSO-DT-0107' (2f4e6a8c-0b1d-4e3f-8a5b-7c9d1e2f3a4b)", ("facts", "firmware_mode"))
    ]
    assert second.checked == len(second.report.outcomes)


def test_the_results_are_never_written_over_a_case_file(tmp_path, capsys):
    path = demo(tmp_path)
    before = path.read_text(encoding="utf-8")
    code, _, err = test([str(path), "--output", str(path)], capsys)
    assert code == 2 and "input" in err
    assert path.read_text(encoding="utf-8") == before
    code, _, _ = test([str(path), "--output", str(tmp_path / "results.txt")], capsys)
    assert code == 0 and (tmp_path / "results.txt").read_text(encoding="utf-8").startswith(f"{path}: 3 cases")


# --- the format's errors: every problem at once, each with its TOML path and a suggestion


@pytest.mark.parametrize(
    ("old", "new", "code", "where", "hint"),
    [
        (
            "device.tpm_present = true",
            "device.tpm_presnt = true",
            "I202",
            "$.case[0].device.tpm_presnt",
            "did you mean `device.tpm_present`?",
        ),
        (
            'device.firmware_mode = "UEFI"',
            'device.firmware_mode = "UEFl"',
            "I201",
            "$.case[0].device.firmware_mode",
            "expected",
        ),
        ("device.tpm_version = 2.0", 'device.tpm_version = "new"', "I201", "$.case[0].device.tpm_version", "expected"),
        ('D-02 = "pass", D-03', 'D-2 = "pass", D-03', "K118", '$.case[0].expect["D-2"]', "did you mean `D-02`?"),
        ('D-01 = "pass"', 'D-01 = "pas"', "K116", '$.case[0].expect["D-01"]', "did you mean `pass`?"),
        (
            'D-03 = "applies"',
            'D-03 = "pass"',
            "K116",
            '$.case[0].expect["D-03"]',
            "expected one of: applies, not_applicable, unknown",
        ),
        (
            'expect = { D-01 = "pass", D-02',
            'expext = { D-01 = "pass", D-02',
            "K105",
            "$.case[0].expext",
            "did you mean `expect`?",
        ),
        (
            'device.user_role = "StandardUser"',
            'devise.user_role = "StandardUser"',
            "K105",
            "$.case[1].devise",
            "did you mean `device`?",
        ),
        (
            'extends = "an administrator\'s ready device"',
            'extends = "an administrators ready device"',
            "K112",
            "$.case[2].extends",
            "did you mean",
        ),
        (
            'name = "a standard user on legacy BIOS"',
            'name = "an administrator\'s ready device"',
            "K111",
            "$.case[1].name",
            "its own name",
        ),
        (
            'reason = "device.firmware_mode"',
            'reason = "device.firmware"',
            "K120",
            '$.case[1].expect["D-02"].reason',
            "did you mean `device.firmware_mode`?",
        ),
        (
            'unset = ["device.firmware_mode"]',
            'unset = ["device.firmwaremode"]',
            "K114",
            "$.case[2].unset[0]",
            "did you mean `device.firmware_mode`?",
        ),
        ('fix = "UEFI"', "fix = 3", "K121", '$.case[1].expect["D-02"].fix', None),
    ],
)
def test_a_bad_case_file_is_a_clear_error(tmp_path, capsys, old, new, code, where, hint):
    assert old in DEMO_CASES
    path = demo(tmp_path, DEMO_CASES.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_case_file(path, VOCABULARY)
    (diagnostic,) = info.value.diagnostics
    assert (diagnostic.code, diagnostic.file, diagnostic.path) == (code, str(path), where)
    assert hint is None or hint in (diagnostic.help or "")
    exit_code, out, err = test([str(path)], capsys)
    assert exit_code == 2 and out == ""
    assert err.startswith(f"{path}: {where}: error[{code}]: ")
    assert "Traceback" not in err


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    cases = DEMO_CASES.replace('D-01 = "pass"', 'D-01 = "pas"').replace(
        "device.tpm_present = false", "device.tpm_presen = false"
    )
    with pytest.raises(InputError) as info:
        load_case_file(demo(tmp_path, cases), VOCABULARY)
    assert [d.code for d in info.value.diagnostics] == ["K116", "I202"]


def test_a_rule_file_that_does_not_load_is_its_only_problem(tmp_path, capsys):
    """A typo in the rule file is one error at its line, not also one "no rule D-01" per case
    that names the rules the file would have held; a rule id the file really lacks is still one."""
    path = demo(tmp_path, rules=DEMO_RULES.replace("device.tpm_version >= 1.2", "device.tpm_version >= 1x2"))
    code, out, err = test([str(path)], capsys)
    assert code == 2 and out == ""
    assert "error[E103]" in err and "K118" not in err, err
    with pytest.raises(InputError) as info:
        load_case_file(demo(tmp_path, DEMO_CASES.replace('D-02 = "pass"', 'D-09 = "pass"')), VOCABULARY)
    assert [d.code for d in info.value.diagnostics] == ["K118"]


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ('[[case]]\nname = "x"\nexpect = { D-01 = "pass" \n', "K102", "line 3"),
        ('rules = "demo.rules"\n', "K104", "no [[case]] table"),
        ('[[case]]\nexpect = { D-01 = "pass" }\n', "K110", "needs a name"),
        (
            'rules = ["demo2.rules"]\n[[case]]\nname = "x"\n',
            "K107",
            "$.rules[0]: error[K107]: cannot load `demo2.rules`",
        ),
        ('[[case]]\nname = "x"\npolicy_files = ["missing.json"]\n', "K115", "no file missing.json"),
        ('scenarios = ["silent_enablment"]\n[[case]]\nname = "x"\n', "K108", "unknown scenario `silent_enablment`"),
        ("case = 3\n", "K103", "`case` must be [[case]] tables"),
        ('[[case]]\nname = "x"\nunset = 3\n', "K106", "expected a string or a list of strings"),
        ('[[case]]\nname = "x"\ndevice = 3\n', "K113", "`device` must be a table of device facts"),
        ('[[case]]\nname = "x"\nexpect = 3\n', "K117", "`expect` must be a table"),
        ('[[case]]\nname = "x"\nexpect = { D-01 = 3 }\n', "K119", "expected a verdict, or a table"),
        ('[[case]]\nname = "x"\nothers = ["pas"]\n', "K116", "did you mean `pass`?"),
    ],
)
def test_file_level_errors(tmp_path, text, code, words):
    with pytest.raises(InputError) as info:
        load_case_file(demo(tmp_path, text), VOCABULARY)
    found = {d.code: d for d in info.value.diagnostics}
    assert code in found, info.value.render()
    assert words in found[code].render()


def test_the_problems_of_every_case_file_and_a_missing_path_are_reported(tmp_path, capsys):
    first = tmp_path / "one"
    second = tmp_path / "two"
    first.mkdir()
    second.mkdir()
    demo(first, DEMO_CASES.replace('D-01 = "pass"', 'D-01 = "pas"'))
    demo(second, DEMO_CASES.replace("device.tpm_present = true", "device.tpm_presnt = true"))
    with pytest.raises(InputError) as info:
        run_tests([first, second], VOCABULARY)
    assert [d.code for d in info.value.diagnostics] == ["K116", "I202"]
    code, out, err = test([str(tmp_path / "nothere"), str(first / "none.rules")], capsys)
    assert code == 2 and out == ""
    assert err.splitlines()[0] == f"{tmp_path / 'nothere'}: error[K100]: no such file or folder"
    assert f"{first / 'none.rules'}: error[K100]: no such file or folder" in err


def test_a_case_file_without_its_rule_file_says_so(tmp_path):
    path = tmp_path / "lonely.tests.toml"
    path.write_text('[[case]]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_case_file(path, VOCABULARY)
    assert "no rule file lonely.rules beside the case file" in info.value.render()


# --- coverage, counted by hand

# For each condition of demo.rules, the outcomes the three cases saw it decide (by hand):
# case 1 (admin, TPM 2.0, UEFI): D-01 passes on both requirements; D-02 passes on the firmware.
# case 2 (standard user, legacy BIOS): D-01 does not apply (the `when`); D-02 fails on the firmware.
# case 3 (admin, no TPM, firmware unknown): D-01 fails on tpm_present, applying because of the
#   `when`; D-02 is unknown on the firmware.
HAND_COUNT = {
    ("D-01", "when", "device.user_role == Administrator"): {"not_applicable", "fail"},
    ("D-01", "require", "device.tpm_present"): {"pass", "fail"},
    ("D-01", "require", "device.tpm_version >= 1.2"): {"pass"},
    ("D-02", "require", "device.firmware_mode == UEFI"): {"pass", "fail", "unknown"},
}
# A `when` condition can decide fail, unknown and not applicable; a `require` one pass, fail and
# unknown: 3 outcomes for each of the 4 conditions.
HAND_TOTAL = 12


def test_coverage_is_what_the_hand_count_says(tmp_path):
    run = run_tests([demo(tmp_path)], VOCABULARY, with_coverage=True)
    assert run.coverage is not None
    found = {
        (rule.rule, c.clause, c.text): {s.value for s in c.decided}
        for file in run.coverage.files
        for rule in file.rules
        for c in rule.conditions
    }
    assert found == HAND_COUNT
    covered = sum(len(outcomes) for outcomes in HAND_COUNT.values())
    assert (run.coverage.covered, run.coverage.total) == (covered, HAND_TOTAL) == (8, 12)
    assert run.coverage.percent == 66.7
    (file,) = run.coverage.files
    assert [(r.rule, r.covered, r.total) for r in file.rules] == [("D-01", 5, 9), ("D-02", 3, 3)]


def test_coverage_text_and_fail_under(tmp_path, capsys):
    path = demo(tmp_path)
    code, out, err = test([str(path), "--coverage"], capsys)
    assert code == 0
    assert f"{tmp_path / 'demo.rules'}: 8 of 12 condition outcomes (66.7%)" in out
    assert "  D-01: 5 of 9 condition outcomes (55.6%)" in out
    assert f"    require device.tpm_version >= 1.2  ({tmp_path / 'demo.rules'}:8:34): never fail, unknown" in out
    assert "Total: 8 of 12 condition outcomes (66.7%)" in out
    assert test([str(path), "--fail-under", "66"], capsys)[0] == 0
    code, _, err = test([str(path), "--fail-under", "70"], capsys)
    assert code == 1
    assert err == "coverage 66.7% is below --fail-under 70%\n"
    with pytest.raises(SystemExit) as info:
        test([str(path), "--fail-under", "101"], capsys)
    assert info.value.code == 2
    assert "a percentage is from 0 to 100, not 101" in capsys.readouterr().err


def test_rules_no_case_names_are_listed(tmp_path, capsys):
    only_d02 = '[[case]]\nname = "UEFI"\ndevice.firmware_mode = "UEFI"\nexpect = { D-02 = "pass" }\n'
    path = demo(tmp_path, only_d02)
    (tmp_path / "other.rules").write_text(DEMO_RULES.replace("ruleset demo", "ruleset other"), encoding="utf-8")
    run = run_tests([tmp_path], VOCABULARY, with_coverage=True)
    assert run.without_cases == (str(tmp_path / "other.rules"),)
    assert run.coverage is not None
    assert [(r.ruleset, r.rule) for r in run.coverage.untested] == [
        ("demo", "D-01"),
        ("other", "D-01"),
        ("other", "D-02"),
    ]
    # D-01 was evaluated but no case checked it: it counts for nothing.
    assert [r.covered for r in run.coverage.files[0].rules] == [0, 1]
    code, out, _ = test([str(tmp_path), "--coverage"], capsys)
    assert code == 0
    assert "Rules no case names (3): D-01, D-01, D-02" in out
    assert "  D-01: 0 of 9 condition outcomes (0.0%)  (no case names it)" in out
    code, out, _ = test([str(path)], capsys)
    assert "No case file" not in out
    code, out, _ = test([str(tmp_path)], capsys)
    assert f"No case file: {tmp_path / 'other.rules'}" in out


# --- JSON and JUnit


def test_json_follows_its_schema(tmp_path, capsys):
    schema = json.loads((ROOT / "docs" / "schema" / "test-1.json").read_text(encoding="utf-8"))
    failing = DEMO_CASES.replace('D-01 = "fail", D-02 = "unknown"', 'D-01 = "pass", D-02 = "unknown"')
    for args in ([], ["--coverage"]):
        code, out, _ = test([str(demo(tmp_path, failing)), "--format", "json", *args], capsys)
        assert code == 1
        data = json.loads(out)
        assert validate(data, schema) == []
        assert data["summary"] == {"cases": 3, "passed": 2, "failed": 1}
        (bad,) = [c for c in data["cases"] if not c["passed"]]
        (mismatch,) = bad["mismatches"]
        assert (mismatch["rule"], mismatch["expected"], mismatch["actual"]) == ("D-01", "pass", "fail")
        assert mismatch["explanation"][0] == "D-01 An administrator's device has a TPM 1.2 or later [fail, error]"
        assert (data["coverage"] is None) is (not args)


def test_junit_is_valid_and_names_each_case(tmp_path, capsys):
    failing = DEMO_CASES.replace('D-01 = "fail", D-02 = "unknown"', 'D-01 = "pass", D-02 = "unknown"')
    path = demo(tmp_path, failing.replace('name = "a standard user', 'name = "a \\u0007standard user'))
    code, out, _ = test([str(path), "--format", "junit"], capsys)
    assert code == 1
    root = ET.fromstring(out.encode("utf-8"))  # well-formed: the bell is escaped, not written
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "3", "1")
    (suite,) = root
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors")) == (
        str(path),
        "3",
        "1",
        "0",
    )
    cases = list(suite)
    assert [c.get("name") for c in cases] == [
        "an administrator's ready device",
        "a \\u0007standard user on legacy BIOS",
        "an administrator without a TPM",
    ]
    assert all(c.get("classname") == str(path) for c in cases)
    (failure,) = cases[2]
    assert failure.tag == "failure" and failure.get("message") == "D-01: expected pass, got fail"
    assert "TPM present is No; the rule needs Yes" in (failure.text or "")
    assert [len(c) for c in cases[:2]] == [0, 0]
    # The renderer itself writes well-formed XML too (an API caller has no command line to escape for it).
    rendered = render_test_run(run_tests([path], VOCABULARY), "junit")
    assert ET.fromstring(rendered.encode("utf-8"))[0][1].get("name") == "a \\u0007standard user on legacy BIOS"


PASSWORD = "123453-234564-345675-456786-567897-678908-789019-890120"


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
def test_the_renderer_returns_what_the_door_masked(tmp_path, fmt):
    """A recovery password in a case's name (and so in the failure shown) never leaves unmasked."""
    failing = DEMO_CASES.replace('D-01 = "fail", D-02 = "unknown"', 'D-01 = "pass", D-02 = "unknown"')
    path = demo(tmp_path, failing.replace("an administrator without a TPM", f"key {PASSWORD}"))
    out = render_test_run(run_tests([path], VOCABULARY, with_coverage=True), fmt)
    assert type(out) is MaskedText
    assert SECRET_MASK in out and PASSWORD.replace("-", "") not in out.replace("-", "")


PRESENCE_RULES = """ruleset odd "Rules whose conditions cannot decide every outcome"

rule O-01 "WinRE is reported"
  severity info
  require device.winre_configured is present
  remediation "Report WinRE."

rule O-02 "Disputed: the firmware is UEFI"
  severity error
  disputed "the sources disagree about TPM 1.2 devices"
  require device.firmware_mode == UEFI
  remediation "Switch to UEFI."

rule O-03 "Unconfirmed: a TPM is present"
  severity error
  unconfirmed "no source says a TPM alone suffices"
  require device.tpm_present
  remediation "Turn the TPM on."
rule O-04 "No event 846"
  severity error
  require all e in device.bitlocker_events: e.event_id != 846
  remediation "Look at the event log."

rule O-05 "With an OS key, no fixed-drive key"
  severity error
  when any k in device.recovery_keys: k.volume_type == OperatingSystem
  require not (any k in device.recovery_keys: k.volume_type == FixedData)
  remediation "Look at the keys."
"""


def test_the_outcomes_a_condition_can_decide(tmp_path):
    """A disputed rule never fails, an unconfirmed one never passes; a presence test can decide all
    three (unknown when whether the rule applies is not known)."""
    (tmp_path / "odd.rules").write_text(PRESENCE_RULES, encoding="utf-8")
    path = tmp_path / "odd.tests.toml"
    path.write_text('[[case]]\nname = "x"\nexpect = { O-01 = "fail" }\n', encoding="utf-8")
    run = run_tests([path], VOCABULARY, with_coverage=True)
    assert run.coverage is not None
    possible = {r.rule: [s.value for c in r.conditions for s in c.possible] for r in run.coverage.files[0].rules}
    # A quantifier is cited only over a missing collection (unknown) or an empty one: an empty
    # `all` holds (O-04 passes), an empty `any` does not (O-05 does not apply), and negated, an
    # empty `any` makes the requirement hold (O-05 passes). Its body's tests decide all three.
    assert possible == {
        "O-01": ["pass", "fail", "unknown"],
        "O-02": ["pass", "unknown"],
        "O-03": ["fail", "unknown"],
        "O-04": ["pass", "unknown", "pass", "fail", "unknown"],
        "O-05": [
            "unknown",
            "not_applicable",
            "fail",
            "unknown",
            "not_applicable",
            "pass",
            "unknown",
            "pass",
            "fail",
            "unknown",
        ],
    }


def test_a_case_of_thousands_of_unknown_keys_lists_a_hundred_promptly(tmp_path):
    # 50,000 unknown keys printed 50,000 problems, each after a "did you mean" search (5.5 s);
    # a hundred are listed and I010 counts the rest.
    import time

    shutil.copy(ROOT / "rulesets" / "permissions.rules", tmp_path / "p.rules")
    keys = "".join(f"k{i} = {i}\n" for i in range(50_000))
    (tmp_path / "p.tests.toml").write_text(f'[[case]]\nname = "x"\n{keys}', encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        load_case_file(tmp_path / "p.tests.toml", shipped_vocabulary())
    assert time.monotonic() - started < 3
    found = caught.value.diagnostics
    assert [d.code for d in found] == ["K105"] * 100 + ["I010"]
    assert found[-1].message == "49900 more problems in this input are not listed (the first 100 are)"
