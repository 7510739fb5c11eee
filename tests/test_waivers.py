"""Waivers: the file read and checked, applied after evaluation, shown apart in every format."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bitlocker_rules.cli import main
from bitlocker_rules.errors import InputError
from bitlocker_rules.waivers import KnownNames, read_waivers, today

ROOT = Path(__file__).resolve().parent.parent
POLICY = str(ROOT / "examples" / "policy-silent.json")
PIN_POLICY = str(ROOT / "examples" / "policy-startup-pin.json")
LEGACY = str(ROOT / "examples" / "device-legacy.json")
READY = str(ROOT / "examples" / "device-ready.json")
ASSIGNMENTS = str(ROOT / "examples" / "assignments.json")
DAY = "2026-12-06"
# The legacy device fails these two for its legacy BIOS (and others besides).
BIOS_RULES = ("ER-08", "SE-05")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def waiver(
    wid: str = "W-1",
    rules: tuple[str, ...] = BIOS_RULES,
    scope: str = '"all"',
    expires: str = "2027-01-31",
) -> str:
    listed = ", ".join(f'"{r}"' for r in rules)
    return (
        f'[[waivers]]\nid = "{wid}"\nrules = [{listed}]\nscope = {scope}\n'
        f'justification = "Replaced in Q1"\napprover = "J. Doe"\nexpires = {expires}\n\n'
    )


def write(tmp_path: Path, *waivers: str) -> str:
    path = tmp_path / "waivers.toml"
    path.write_text("".join(waivers), encoding="utf-8")
    return str(path)


def device_json(capsys, waivers: str, *extra: str, day: str = DAY) -> tuple[int, dict]:
    code, out, _ = run(
        capsys, "check", "--policy", POLICY, "--device", LEGACY, "--waivers", waivers, "--today", day,
        "--format", "json", *extra,
    )  # fmt: skip
    return code, json.loads(out)


def statuses(report: dict) -> dict[str, str]:
    return {r["rule"]: r["status"] for r in report["results"]}


# --- the file ---------------------------------------------------------------------------------


KNOWN = KnownNames({"SE-05", "ER-08", "KR-01"}, {"PC-001", "PC-002"}, {"Kiosks"}, {"WIN - silent", "pol-1"})


def test_a_valid_file_is_read_with_dates_as_toml_dates_or_strings(tmp_path):
    path = write(tmp_path, waiver(expires="2027-01-31"), waiver("W-2", expires='"2027-02-01"'))
    read = read_waivers(path, KNOWN, dt.date(2026, 12, 6))
    assert [w.expires for w in read.waivers] == [dt.date(2027, 1, 31), dt.date(2027, 2, 1)]
    assert read.waivers[0].scope.everything and read.waivers[0].rules == BIOS_RULES
    assert len(read.sha256) == 64


def diagnostics(tmp_path, text: str) -> list:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_waivers(path, KNOWN, dt.date(2026, 12, 6))
    return list(caught.value.diagnostics)


def test_an_unknown_rule_is_named_at_its_line_and_key_path_with_did_you_mean(tmp_path):
    [found] = diagnostics(tmp_path, waiver(rules=("SE-05", "SE-50")))
    assert found.path == "waivers[0].rules[1]"
    assert found.file.endswith("waivers.toml:3")  # the line of `rules = …`
    assert "unknown rule `SE-50`" in found.message
    assert found.help == "did you mean `SE-05`?"


def test_unknown_device_group_and_policy_have_did_you_mean(tmp_path):
    scope = '{ devices = ["PC-0001"], groups = ["Kiosk"], policies = ["WIN - silnet"] }'
    found = diagnostics(tmp_path, waiver(scope=scope))
    assert {d.path: d.help for d in found} == {
        "waivers[0].scope.devices[0]": "did you mean `PC-001`?",
        "waivers[0].scope.groups[0]": "did you mean `Kiosks`?",
        "waivers[0].scope.policies[0]": "did you mean `WIN - silent`?",
    }
    assert all(d.file.endswith(":4") for d in found)


def test_every_problem_is_reported_at_once(tmp_path):
    text = (
        '[[waivers]]\nid = "W-1"\nrules = ["SE-05"]\nscope = { device = ["PC-001"] }\n'
        'justification = ""\nexpires = "31.01.2027"\n\n' + waiver("W-1")
    )
    found = {(d.path, d.message) for d in diagnostics(tmp_path, text)}
    assert ("waivers[0].approver", "a waiver needs `approver`") in found
    assert ("waivers[0].scope.device", "unknown scope `device`") in found
    assert ("waivers[0].justification", "`justification` must be a non-empty string") in found
    assert any(path == "waivers[0].expires" for path, _ in found)
    assert ("waivers[1].id", "the id `W-1` is given to two waivers") not in found  # the first was not read
    twice = diagnostics(tmp_path, waiver("W-1") + waiver("W-1"))
    assert [(d.path, d.message) for d in twice] == [("waivers[1].id", "the id `W-1` is given to two waivers")]


def test_a_toml_syntax_error_has_its_line_and_column(tmp_path):
    [found] = diagnostics(tmp_path, '[[waivers]]\nid = "W-1"\nrules = ["SE-05" "ER-08"]\n')
    assert found.code == "W010"
    assert found.file.endswith("waivers.toml:3:18")


def test_a_waiver_of_thousands_of_unknown_keys_lists_a_hundred_promptly(tmp_path):
    # 50,000 unknown keys ran past 20 s: each problem searched the waiver's lines for its key
    # and for a "did you mean". The hundred listed keep their lines; I010 counts the rest.
    import time

    keys = "".join(f"k{i} = {i}\n" for i in range(50_000))
    started = time.monotonic()
    found = diagnostics(tmp_path, waiver("W-1") + keys)
    assert time.monotonic() - started < 5
    assert [d.code for d in found] == ["W002"] * 100 + ["I010"]
    assert found[0].file.endswith("waivers.toml:9") and found[0].path == "waivers[0].k0"
    assert found[99].file.endswith("waivers.toml:108") and found[99].path == "waivers[0].k99"
    assert found[-1].message == "49900 more problems in this input are not listed (the first 100 are)"


def test_a_number_too_long_to_convert_is_a_toml_error_at_its_place(tmp_path):
    [found] = diagnostics(tmp_path, waiver("W-1") + "huge = " + "9" * 5000 + "\n")
    assert found.code == "W010" and found.file.endswith("waivers.toml:9:8")
    assert found.message == "not valid TOML: a number longer than 4300 digits"


def test_the_day_is_given_or_from_the_environment_or_utc():
    assert today("2026-11-30", {}) == dt.date(2026, 11, 30)
    assert today(None, {"BITLOCKER_RULES_TODAY": "2025-01-02"}) == dt.date(2025, 1, 2)
    assert today(None, {}) == dt.datetime.now(dt.UTC).date()
    with pytest.raises(InputError, match="not a date"):
        today("30.11.2026", {})


# --- one device -------------------------------------------------------------------------------


def test_a_waived_failure_is_its_own_outcome_with_its_reasons_and_waiver(tmp_path, capsys):
    _plain_code, plain = device_json(capsys, write(tmp_path, waiver(rules=("KR-01",))))
    _code, report = device_json(capsys, write(tmp_path, waiver()))
    for rule in BIOS_RULES:
        assert statuses(plain)[rule] == "fail"
        entry = next(r for r in report["results"] if r["rule"] == rule)
        assert entry["status"] == "waived"
        assert entry["reasons"] and entry["reasons"][0]["actual"] == "Legacy"
        assert entry["waiver"] == {
            "id": "W-1",
            "justification": "Replaced in Q1",
            "approver": "J. Doe",
            "expires": "2027-01-31",
        }
    assert report["summary"]["waived"] == 2
    assert report["summary"]["fail"] == plain["summary"]["fail"] - 2
    assert report["causes"] != plain["causes"]  # the BIOS cause is no longer a cause of failure


def test_a_waiver_with_a_past_expiry_stops_applying(tmp_path, capsys):
    path = write(tmp_path, waiver(expires="2026-11-30"))
    _, on_its_day = device_json(capsys, path, day="2026-11-30")
    assert [statuses(on_its_day)[r] for r in BIOS_RULES] == ["waived", "waived"]
    _, after = device_json(capsys, path, day="2026-12-01")
    assert [statuses(after)[r] for r in BIOS_RULES] == ["fail", "fail"]
    assert after["summary"]["waived"] == 0
    assert after["waiver_notices"] == [
        {
            "waiver": "W-1",
            "kind": "expired",
            "date": "2026-11-30",
            "explanation": "waiver W-1 expired on 2026-11-30; it no longer applies",
        }
    ]


def test_the_environment_pins_the_day(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, waiver(expires="2026-11-30"))
    monkeypatch.setenv("BITLOCKER_RULES_TODAY", "2026-12-01")
    _code, out, err = run(
        capsys, "check", "--policy", POLICY, "--device", LEGACY, "--waivers", path, "--format", "json"
    )
    assert statuses(json.loads(out))["SE-05"] == "fail"
    assert "waiver W-1 expired on 2026-11-30" in err


def test_an_unknown_stays_unknown_and_a_waiver_that_matched_nothing_is_reported(tmp_path, capsys):
    _, plain = device_json(capsys, write(tmp_path, waiver(rules=("KR-01",))))
    unknown = next(rule for rule, status in statuses(plain).items() if status == "unknown")
    _, report = device_json(capsys, write(tmp_path, waiver(rules=(unknown,))))
    assert statuses(report)[unknown] == "unknown"
    assert [n["kind"] for n in report["waiver_notices"]] == ["unmatched"]


@pytest.mark.parametrize(
    ("scope", "waived"),
    [
        ('"all"', True),
        ('{ devices = ["CONTOSO-DT-0107"] }', True),
        ('{ devices = ["2f4e6a8c-0b1d-4e3f-8a5b-7c9d1e2f3a4b"] }', True),  # by id
        ('{ policies = ["WIN - EP - BitLocker silent"] }', True),
        ('{ policies = ["5b0e7c1a-3f2d-4b8e-9a61-0c2d4e6f8a10"] }', True),
    ],
)
def test_scope_by_device_policy_or_all_on_one_device(tmp_path, capsys, scope, waived):
    _, report = device_json(capsys, write(tmp_path, waiver(scope=scope)))
    assert (statuses(report)["SE-05"] == "waived") is waived


def test_another_device_out_of_scope_is_not_waived(tmp_path, capsys):
    scope = '{ devices = ["CONTOSO-DT-0107"] }'
    path = write(tmp_path, waiver(scope=scope))
    # device-ready is another device: the waiver names a device this run does not have
    code, _out, err = run(capsys, "check", "--policy", POLICY, "--device", READY, "--waivers", path, "--today", DAY)
    assert code == 2 and "unknown device `CONTOSO-DT-0107`" in err


def test_exit_code_is_0_when_every_failure_is_waived(tmp_path, capsys):
    code, plain = device_json(capsys, write(tmp_path, waiver(rules=("KR-01",))))
    failing = tuple(rule for rule, status in statuses(plain).items() if status == "fail")
    assert code == 1 and failing
    path = write(tmp_path, waiver(rules=failing))
    code, report = device_json(capsys, path)
    assert code == 0 and report["summary"]["fail"] == 0
    code, out, _ = run(capsys, "check", "--policy", POLICY, "--device", LEGACY, "--waivers", path, "--today", DAY)
    assert code == 0 and out.splitlines()[2].startswith("PASS — no rule fails")


def test_a_bad_waivers_file_is_exit_2_before_anything_is_evaluated(tmp_path, capsys):
    code, out, err = run(
        capsys, "check", "--policy", POLICY, "--device", LEGACY, "--waivers", write(tmp_path, waiver(rules=("SE-50",)))
    )
    assert code == 2 and out == ""
    assert "waivers.toml:3: waivers[0].rules[0]: error[W002]: unknown rule `SE-50`" in err


def test_today_goes_with_waivers(tmp_path, capsys):
    code, _, err = run(capsys, "check", "--policy", POLICY, "--device", LEGACY, "--today", DAY)
    assert code == 2 and "--today goes with --waivers" in err


# --- every format -----------------------------------------------------------------------------


def device_output(capsys, tmp_path, fmt: str) -> str:
    path = write(tmp_path, waiver())
    code, out, _ = run(
        capsys, "check", "--policy", POLICY, "--device", LEGACY, "--waivers", path, "--today", DAY, "--format", fmt
    )
    assert code == 1  # other rules still fail
    return out


def test_sarif_a_waived_failure_is_an_accepted_external_suppression(tmp_path, capsys):
    log = json.loads(device_output(capsys, tmp_path, "sarif"))
    results = log["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert {r["ruleId"] for r in suppressed} == set(BIOS_RULES)
    for result in suppressed:
        assert result["suppressions"] == [
            {
                "kind": "external",
                "status": "accepted",
                "justification": "Replaced in Q1",
                "properties": {"waiver": "W-1", "approver": "J. Doe", "expires": "2027-01-31"},
            }
        ]
        assert result["level"] == "error" and result["properties"]["status"] == "waived"
    assert all(r["properties"]["status"] == "fail" for r in results if not r.get("suppressions"))


def test_junit_a_waived_failure_is_skipped_with_the_waiver_as_reason(tmp_path, capsys):
    root = ET.fromstring(device_output(capsys, tmp_path, "junit"))
    cases = {c.get("name").split()[0]: c for c in root.iter("testcase")}
    for rule in BIOS_RULES:
        skipped = cases[rule].find("skipped")
        assert cases[rule].find("failure") is None and skipped is not None
        assert skipped.get("type") == "waived"
        assert skipped.get("message").startswith("waived by W-1 (approved by J. Doe, until 2027-01-31): Replaced in Q1")
        assert "BIOS Mode is Legacy" in skipped.text
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "silent_enablement")
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["waived"] == "1"


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_the_reports_for_people_show_the_waiver_and_the_reasons(tmp_path, capsys, fmt):
    out = device_output(capsys, tmp_path, fmt)
    assert "waived by W-1 (approved by J. Doe, until 2027-01-31): Replaced in Q1" in out
    assert "BIOS Mode is Legacy" in out
    assert "2 waived" in out


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html", "sarif", "junit"])
def test_without_waivers_no_output_changes(tmp_path, capsys, fmt):
    argv = ["check", "--policy", POLICY, "--device", LEGACY, "--format", fmt]
    _, without, _ = run(capsys, *argv)
    _, given, _ = run(capsys, *argv, "--waivers", write(tmp_path, waiver(rules=("KR-01",))), "--today", DAY)
    assert "waived" not in without
    if fmt in ("sarif", "junit"):  # nothing waived: the same findings and test cases
        assert "suppressions" not in given and 'type="waived"' not in given


KEY = "123456-234567-345678-456789-567890-678901-789012-890123"


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html", "sarif", "junit"])
def test_a_recovery_password_in_a_waiver_is_masked_everywhere(tmp_path, capsys, fmt):
    text = waiver(f"W {KEY}").replace("Replaced in Q1", f"key {KEY}").replace("J. Doe", KEY)
    path = write(tmp_path, text, waiver("W-2", expires="2026-01-01").replace('"W-2"', f'"{KEY}"'))
    code, out, err = run(
        capsys, "check", "--policy", POLICY, "--device", LEGACY, "--waivers", path, "--today", DAY, "--format", fmt
    )
    assert code == 1 and "waived" in out.lower()
    assert KEY not in out and KEY not in err


def test_a_scope_covers_a_device_by_its_names_and_groups_whatever_their_case():
    # The scope keeps its names case-folded and folds what it is given: an Intune device name,
    # a group or a policy named as an export spells it is the same name.
    from bitlocker_rules.waivers import WaiverScope

    scope = WaiverScope(devices=frozenset({"pc-0001"}), groups=frozenset({"kiosks"}))
    assert scope.covers(["PC-0001"], [], [])
    assert scope.covers(["other"], ["KIOSKS"], [])
    assert not scope.covers(["PC-0002"], ["Labs"], ["Kiosks"])  # a policy of that name is not the group
