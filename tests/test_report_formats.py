"""The report formats: Markdown, SARIF, JUnit XML, HTML, and the JSON schemas.

Golden files for every format are in ``tests/test_golden.py``; this module checks what a
golden file cannot: the JSON-path locator behind SARIF locations (also as a property), the
structure SARIF and JUnit consumers rely on, escaping, self-containment of the HTML page,
masking of recovery passwords in every format, the JSON outputs against the schema files in
``docs/schema/``, and the command-line options that choose and write the formats.
"""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitlocker_rules.cli import main
from bitlocker_rules.engine import Engine
from bitlocker_rules.errors import SECRET_MASK, _may_hold_password, redact
from bitlocker_rules.facts import facts_from_mapping, merge_facts
from bitlocker_rules.fleet import device_record
from bitlocker_rules.importers import load_devices, load_policies
from bitlocker_rules.jsonpath import json_path_text, locate_json_offsets, locate_json_path, parse_json_path
from bitlocker_rules.outcome import (
    AppliedWaiver,
    Condition,
    ConflictRecord,
    InputRecord,
    Report,
    RuleOutcome,
    Status,
    ValueOrigin,
    origins_text,
)
from bitlocker_rules.report.fleet_detail import WorstDevices, worst_devices
from bitlocker_rules.report.html import render_fleet_html, render_html
from bitlocker_rules.report.json_report import fleet_to_dict, render_fleet_json, report_to_dict
from bitlocker_rules.report.junit import render_junit
from bitlocker_rules.report.markdown import code, render_fleet_markdown, render_markdown, text
from bitlocker_rules.report.sarif import FleetSarif, render_sarif
from bitlocker_rules.report.table import render_fleet_table, render_table
from bitlocker_rules.source import Location

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "docs" / "schema"
POLICY = "examples/policy-silent.json"
PIN_POLICY = "examples/policy-startup-pin.json"
LEGACY = "examples/device-legacy.json"
READY = "examples/device-ready.json"
BETA = "examples/graph/endpoint-protection-beta.json"
BETA_PIN = "examples/graph/endpoint-protection-startup-pin.json"
MANAGED = "examples/graph/managed-device.json"
FLEET = "examples/fleet.jsonl"
SE = ("--rules", "silent_enablement")
FORMATS = ("table", "json", "markdown", "sarif", "junit", "html")

SECRET = "123456-234567-345678-456789-567890-678901-789012-890123"
MASK = "******-******-******-******-******-******-******-******"


@pytest.fixture(autouse=True)
def in_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code_ = main(list(argv))
    out, err = capsys.readouterr()
    return code_, out, err


def evaluate(policies=(), devices=(), rules=("silent_enablement",), explain_all=False) -> Report:
    """A report as ``check`` makes it, with the inputs recorded."""
    engine = Engine.load(list(rules) if rules is not None else None)
    pols = [p for path in policies for p in load_policies(path, engine.vocabulary)]
    devs = [d for path in devices for d in load_devices(path, engine.vocabulary)]
    subject = devs[0].name if devs else " + ".join(p.name for p in pols)
    facts = merge_facts([*(p.facts for p in pols), *(d.facts for d in devs)], name=subject)
    report = engine.evaluate(facts, explain_all=explain_all)
    return attrs.evolve(report, inputs=tuple(InputRecord(i.name, i.origin, i.kind) for i in [*pols, *devs]))


# ---------------------------------------------------------------------------------------------
# The JSON-path locator


@pytest.mark.parametrize(
    ("path", "segments", "rest"),
    [
        ("$", (), ""),
        (
            "$.bitLockerSystemDrivePolicy.startupAuthenticationTpmPinUsage",
            ("bitLockerSystemDrivePolicy", "startupAuthenticationTpmPinUsage"),
            "",
        ),
        ("$.settings.tpm_startup_pin", ("settings", "tpm_startup_pin"), ""),
        ('$["settings"]["x"]', ("settings", "x"), ""),
        ("$['settings']['x y']", ("settings", "x y"), ""),
        ("$[0].settings[3].settingInstance", (0, "settings", 3, "settingInstance"), ""),
        ('$["@odata.type"]', ("@odata.type",), ""),
        ('$["a\\"b\\u00e9"]', ('a"bé',), ""),
        ("$.omaSettings[5].value <data id=X>", ("omaSettings", 5, "value"), " <data id=X>"),
        ("$.a; policy 'B' $.b", ("a",), "; policy 'B' $.b"),
    ],
)
def test_parse_json_path(path, segments, rest):
    found, end = parse_json_path(path)
    assert found == segments
    assert path[end:] == rest


@pytest.mark.parametrize("path", ["", "settings.x", "$.", "$[", "$[x]", '$["a"', "$[1"])
def test_parse_json_path_refuses_what_is_not_a_path(path):
    with pytest.raises(ValueError):
        parse_json_path(path)


TRICKY = """{
  "a": "text with } and ] and \\" and \\\\",
  "b": {"c": [1, {"d": "x"}, [2, 3]], "e": null},
  "b\\u0020c": true,
  "list": [
    {"name": "first"},
    {"name": "second", "value": "<enabled/><data id=\\"Pin\\" value=\\"1\\"/>"}
  ],
  "dup": 1,
  "dup": 2,
  "unicode": {"\\ud83d\\ude00": "smile", "é": "accent"}
}"""


@pytest.mark.parametrize(
    ("path", "line_has", "value"),
    [
        ("$.a", '"a":', 'text with } and ] and " and \\'),
        ("$.b.c[1].d", '"d": "x"', "x"),
        ("$.b.c[2][1]", "[2, 3]", 3),
        ("$.b.e", '"e": null', None),
        ('$["b c"]', '"b\\u0020c"', True),
        ("$.list[1].name", '"name": "second"', "second"),
        ("$.list[1]", '{"name": "second"', {"name": "second", "value": '<enabled/><data id="Pin" value="1"/>'}),
        ("$.dup", '"dup": 2', 2),
        ('$.unicode["\U0001f600"]', '"\\ud83d\\ude00"', "smile"),
        ("$.unicode.é", '"é"', "accent"),
        ("$", "{", json.loads(TRICKY)),
    ],
)
def test_locate_in_tricky_json(path, line_has, value):
    region = locate_json_path(TRICKY, path)
    assert region is not None
    lines = TRICKY.splitlines()
    assert line_has in lines[region.start_line - 1]
    segments = parse_json_path(path)[0]
    start, end, depth = locate_json_offsets(TRICKY, segments)
    assert depth == len(segments)
    fragment = TRICKY[start:end]
    if segments and isinstance(segments[-1], str):  # a member: its key, a colon, the value
        key, key_end = json.JSONDecoder().raw_decode(fragment)
        assert key == segments[-1]
        fragment = fragment[key_end:].lstrip().removeprefix(":")
    assert json.loads(fragment) == value


@pytest.mark.parametrize("path", ["$.missing", "$.b.c[9]", "$.a.b", "$.b[0]", "$.list[1].name.x"])
def test_locate_missing_path_is_none(path):
    assert locate_json_path(TRICKY, path) is None


def test_locate_region_columns_and_end():
    text_ = '{\n  "x": {\n    "y": [1,\n      2]\n  }\n}'
    assert locate_json_path(text_, "$.x.y") == Location("", 3, 5, 4, 9)
    assert locate_json_path(text_, "$.x.y[1]") == Location("", 4, 7, 4, 8)


def test_locate_skips_a_byte_order_mark_and_counts_code_points():
    text_ = '\ufeff{"é": {"k": 1}, "😀": 2}'
    assert locate_json_path(text_, '$["é"].k') == Location("", 1, 9, 1, 15)
    assert locate_json_path(text_, '$["😀"]') == Location("", 1, 18, 1, 24)


def test_locate_deepest_existing_prefix():
    start, end, depth = locate_json_offsets(TRICKY, ("b", "c", 7))
    assert depth == 2
    assert TRICKY[start:end].startswith('"c"')


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


def _paths(value, prefix=()):
    yield prefix, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@given(json_values, st.sampled_from([None, 0, 2, "\t"]), st.booleans(), st.data())
def test_locator_finds_every_value(value, indent, ascii_only, data):
    """Whatever the layout and escaping, the located text is the value at the path."""
    dumped = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    path, expected = data.draw(st.sampled_from(list(_paths(value))))
    start, end, depth = locate_json_offsets(dumped, path)
    assert depth == len(path)
    fragment = dumped[start:end]
    if path and isinstance(path[-1], str):  # a member: its key first
        key, key_end = json.JSONDecoder().raw_decode(fragment)
        assert key == path[-1]
        fragment = fragment[key_end:].lstrip().removeprefix(":")
    assert json.loads(fragment) == expected
    region = locate_json_path(dumped, path)
    assert region is not None and region.start_line >= 1 and region.start_column >= 1


def test_value_origins_are_written_as_reports_show_them():
    origins = (
        ValueOrigin("policy 'A; $odd' (1)", ("x", "y")),
        ValueOrigin("policy 'B' (2)", ("omaSettings", 4, "value"), "<data id=Pin>"),
        ValueOrigin(note="role R in actor.intune_roles (vocabulary grant)"),
        ValueOrigin("device 'X'", ()),
    )
    assert origins_text(origins) == (
        "policy 'A; $odd' (1) $.x.y; policy 'B' (2) $.omaSettings[4].value <data id=Pin>; "
        "role R in actor.intune_roles (vocabulary grant); device 'X' $"
    )
    assert origins[1].place() == "$.omaSettings[4].value <data id=Pin>"


@given(st.lists(st.integers(0, 99) | st.text(max_size=6), max_size=4))
def test_a_written_json_path_reads_back_as_its_segments(segments):
    for ascii_only in (True, False):
        assert parse_json_path(json_path_text(segments, ascii_only=ascii_only)) == (
            tuple(segments),
            len(json_path_text(segments, ascii_only=ascii_only)),
        )


# ---------------------------------------------------------------------------------------------
# SARIF


def assert_valid_sarif(log: dict) -> None:
    """The parts of SARIF 2.1.0 that code scanning needs."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    assert len(log["runs"]) == 1
    run_ = log["runs"][0]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "bitlocker-rules"
    ids = [rule["id"] for rule in driver["rules"]]
    assert len(ids) == len(set(ids))
    for rule in driver["rules"]:
        assert rule["name"] and rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["properties"]["severity"] in ("error", "warning", "info")
        assert isinstance(rule["properties"]["sources"], list)
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    for result in run_["results"]:
        assert result["ruleId"] in ids
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"].strip()
        assert result["locations"]
        for location in result["locations"]:
            physical = location["physicalLocation"]
            assert physical["artifactLocation"]["uri"]
            region = physical["region"]
            assert region["startLine"] >= 1
            assert region.get("startColumn", 1) >= 1
            assert region.get("endLine", region["startLine"]) >= region["startLine"]


def sarif_of(capsys, *argv: str) -> dict:
    code_, out, err = run(capsys, "check", *argv, "--format", "sarif")
    assert code_ in (0, 1), err
    log = json.loads(out)
    assert_valid_sarif(log)
    return log


def test_sarif_locations_point_at_the_setting_in_the_graph_export(capsys):
    """Two Graph profiles disagree on the startup PIN: a note located in both files."""
    log = sarif_of(capsys, *SE, "--policy", BETA, "--policy", BETA_PIN, "--device", MANAGED)
    (result,) = [r for r in log["runs"][0]["results"] if r["ruleId"] == "SE-09"]
    assert result["level"] == "note"
    files = {}
    for location in result["locations"]:
        physical = location["physicalLocation"]
        files[physical["artifactLocation"]["uri"]] = physical["region"]
    assert set(files) == {BETA, BETA_PIN}
    for uri, region in files.items():
        line = (ROOT / uri).read_text(encoding="utf-8").splitlines()[region["startLine"] - 1]
        assert '"startupAuthenticationTpmPinUsage"' in line
        assert line.index('"startupAuthenticationTpmPinUsage"') + 1 == region["startColumn"]


def test_sarif_failure_in_the_graph_export_is_an_error_on_its_line(capsys):
    log = sarif_of(capsys, *SE, "--policy", BETA_PIN, "--device", MANAGED)
    (result,) = [r for r in log["runs"][0]["results"] if r["ruleId"] == "SE-09"]
    assert result["level"] == "error"
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == BETA_PIN
    line = (ROOT / BETA_PIN).read_text().splitlines()[physical["region"]["startLine"] - 1]
    assert '"startupAuthenticationTpmPinUsage": "required"' in line
    assert (
        result["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "rulesets/silent_enablement.rules"
    )


@pytest.mark.parametrize(
    "policy",
    [
        BETA,
        BETA_PIN,
        "examples/graph/settings-catalog-bitlocker.json",
        "examples/graph/custom-oma-uri.json",
        POLICY,
    ],
)
def test_every_cited_source_resolves_to_its_line(policy):
    """Explain every rule on an export: each value's path points at a line naming it."""
    report = evaluate([policy], [MANAGED], rules=None, explain_all=True)
    texts = {i.name: (ROOT / i.file).read_text(encoding="utf-8") for i in report.inputs}
    checked = 0
    for outcome in report.outcomes:
        for condition in outcome.reasons:
            for ref in condition.origins:
                if ref.input not in texts or ref.path is None:
                    continue
                region = locate_json_path(texts[ref.input], ref.path)
                assert region is not None, (condition.origins, ref)
                line = texts[ref.input].splitlines()[region.start_line - 1]
                last = [s for s in ref.path if isinstance(s, str)][-1]
                assert json.dumps(last) in line, (ref, line)
                checked += 1
    assert checked > 5


def test_sarif_levels_follow_severity_and_unknown_is_a_note(tmp_path):
    outcomes = tuple(
        RuleOutcome(
            "custom",
            f"C-0{i}",
            f"Rule {i}",
            severity,
            ("S1",),
            status,
            (
                Condition(
                    "policy.tpm_startup_pin",
                    "Compatible TPM startup PIN",
                    None if status is Status.UNKNOWN else "Require",
                    "not Require",
                    status,
                    "policy.tpm_startup_pin != Required",
                    origins=(ValueOrigin("policy 'P' (1)", ("settings", "tpm_startup_pin")),),
                ),
            ),
            remediation="Change it.",
            events=(851,),
            location="custom.rules:3:1",
        )
        for i, (severity, status) in enumerate(
            [
                ("error", Status.FAIL),
                ("warning", Status.FAIL),
                ("info", Status.FAIL),
                ("error", Status.UNKNOWN),
                ("error", Status.PASS),
            ]
        )
    )
    policy = tmp_path / "p.json"
    policy.write_text('{\n  "settings": {\n    "tpm_startup_pin": "Required"\n  }\n}\n')
    report = Report("policy 'P' (1)", outcomes, inputs=(InputRecord("policy 'P' (1)", str(policy), "policy-json"),))
    log = json.loads(render_sarif(report))
    assert_valid_sarif(log)
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("C-00", "error"),
        ("C-01", "warning"),
        ("C-02", "note"),
        ("C-03", "note"),
    ]
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] == 3 for r in results)
    assert (
        log["runs"][0]["tool"]["driver"]["rules"][0]["help"]["text"]
        == "Change it. BitLocker event ids: 851. Encodes S1."
    )


def test_sarif_without_input_files_has_no_results_and_is_valid():
    report = evaluate([POLICY], [LEGACY])
    report = attrs.evolve(report, inputs=())
    log = json.loads(render_sarif(report))
    assert_valid_sarif(log)
    assert log["runs"][0]["results"] == []


def test_fleet_sarif_counts_devices_per_policy_finding(capsys, tmp_path):
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_text(
        "\n".join(json.dumps({"deviceName": f"D{i}", "facts": {"os_version": "22H2"}}) for i in range(3)) + "\n"
    )
    code_, out, _ = run(capsys, "check", *SE, "--policy", PIN_POLICY, "--fleet", str(fleet), "--format", "sarif")
    assert code_ == 1
    log = json.loads(out)
    assert_valid_sarif(log)
    (result,) = [r for r in log["runs"][0]["results"] if r["ruleId"] == "SE-09"]
    assert result["properties"]["devices"] == 3
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == PIN_POLICY


def test_fleet_sarif_keeps_one_entry_per_policy_finding_however_many_devices():
    """Device facts of a fleet come from rows: each device's own findings are not kept."""
    engine = Engine.load(["silent_enablement"])
    policy = load_policies(PIN_POLICY, engine.vocabulary)[0]
    sarif = FleetSarif([InputRecord(policy.name, PIN_POLICY, policy.kind)])
    for i in range(200):
        device = facts_from_mapping(
            {"os_version": "1803", "firmware_mode": "LegacyBIOS", "user_role": "StandardUser"},
            engine.vocabulary,
            origin="",
            name=f"device 'D{i}'",
        )
        sarif.add(engine.evaluate(merge_facts([policy.facts, device], name=device.name)))
    assert len(sarif._found) == 3  # SE-06, SE-07 and SE-09 fail on the policy's settings
    log = sarif.log()
    assert_valid_sarif(log)
    assert {r["properties"]["devices"] for r in log["runs"][0]["results"]} == {200}


# ---------------------------------------------------------------------------------------------
# JUnit XML


def test_junit_device_report_structure():
    report = evaluate([POLICY, PIN_POLICY], [LEGACY])
    root = ET.fromstring(render_junit(report))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "silent_enablement"
    cases = suite.findall("testcase")
    assert len(cases) == len(report.outcomes) == int(suite.get("tests"))
    by_name = {case.get("name"): case for case in cases}
    assert set(by_name) == {f"{o.rule} {o.title}" for o in report.outcomes}
    assert all(case.get("classname") == "silent_enablement" for case in cases)
    failures = [case for case in cases if case.find("failure") is not None]
    assert len(failures) == report.count(Status.FAIL) == int(suite.get("failures"))
    failure = by_name["SE-05 The firmware runs in native UEFI mode"].find("failure")
    assert failure.get("message") == "BIOS Mode is Legacy; the rule needs UEFI"
    assert "fix: Switch the firmware to UEFI mode" in failure.text
    assert "events: 851" in failure.text
    unknown = by_name["SE-09 A startup PIN is not required"].find("skipped")
    assert unknown.get("message").startswith("unknown: Compatible TPM startup PIN is in conflict")
    assert "fix:" in unknown.text
    not_applicable = by_name["SE-01 Windows supports silent enablement for an administrator"].find("skipped")
    assert not_applicable.get("message").startswith("The rule does not apply: Signed-in user role is Standard user")
    assert int(suite.get("skipped")) == report.count(Status.UNKNOWN) + report.count(Status.NOT_APPLICABLE)
    assert int(suite.get("errors")) == 0


def test_junit_fleet_has_a_suite_per_ruleset_and_device():
    reports = [
        evaluate([POLICY], [LEGACY], rules=("silent_enablement", "platform_support")),
        evaluate([POLICY], [READY], rules=("silent_enablement", "platform_support")),
    ]
    root = ET.fromstring(render_junit(iter(reports)))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        f"{ruleset} ({report.subject})" for report in reports for ruleset in ("silent_enablement", "platform_support")
    ]
    assert sum(len(s.findall("testcase")) for s in suites) == sum(len(r.outcomes) for r in reports)
    assert {s.get("hostname") for s in suites} == {r.subject for r in reports}


def test_junit_drops_characters_xml_cannot_hold():
    outcome = RuleOutcome(
        "rs",
        "R-1",
        "Title \x01 with control",
        "error",
        (),
        Status.FAIL,
        (Condition("device.x", "X", "bad \x0b value", "good", Status.FAIL),),
    )
    root = ET.fromstring(render_junit(Report("device 'A\x02'", (outcome,))))
    case = root.find("testsuite/testcase")
    assert case.get("name") == "R-1 Title  with control"
    assert case.find("failure").get("message") == "X is bad  value; the rule needs good"


# ---------------------------------------------------------------------------------------------
# Markdown


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("<data id=X>", "\\<data id=X\\>"),
        (
            "*not* _this_ [link](x) `code` ~~s~~ & co",
            "\\*not\\* \\_this\\_ \\[link\\](x) \\`code\\` \\~\\~s\\~\\~ \\& co",
        ),
        ("tpm_startup_pin", "tpm_startup_pin"),
        ("# not a heading", "\\# not a heading"),
        ("two\nlines", "two lines"),
    ],
)
def test_markdown_text_escaping(raw, escaped):
    assert text(raw) == escaped


@pytest.mark.parametrize(
    ("raw", "table", "expected"),
    [
        ("a == b", True, "`a == b`"),
        ("a | b", True, "`a \\| b`"),
        ("a | b", False, "`a | b`"),
        ("x`y", True, "``x`y``"),
        ("`x`", True, "`` `x` ``"),
    ],
)
def test_markdown_code_spans(raw, table, expected):
    assert code(raw, table=table) == expected


def _table_lines(markdown: str) -> list[list[str]]:
    """The tables of a Markdown page, each as its lines."""
    tables, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def test_markdown_tables_keep_their_columns_whatever_the_text(tmp_path):
    rules = tmp_path / "pipes.rules"
    rules.write_text(
        'ruleset pipes "Pipes | and <tags>"\n\nrule P-01 "A | title with `ticks`"\n  severity error\n'
        '  sources S14\n  require device.azure_ad_device_id == "a|b"\n'
        '  remediation "Set | it to `a|b`."\n'
    )
    device = tmp_path / "device.json"
    device.write_text(json.dumps({"deviceName": "PIPE|DEVICE", "facts": {"azure_ad_device_id": "x|y<z>"}}))
    engine = Engine.load([str(rules)])
    dev = load_devices(str(device), engine.vocabulary)[0]
    report = attrs.evolve(
        engine.evaluate(dev.facts, subject=dev.name), inputs=(InputRecord(dev.name, str(device), dev.kind),)
    )
    page = render_markdown(report)
    for table in _table_lines(page):
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table}
        assert len(widths) == 1, table
    assert "x\\|y\\<z\\>" in page


def test_markdown_device_report_names_settings_values_sources_and_fixes():
    page = re.sub(" +", " ", render_markdown(evaluate([POLICY, PIN_POLICY], [LEGACY])))
    assert "## Failing rules" in page and "## Rules that could not be decided" in page
    assert "### SE-05 The firmware runs in native UEFI mode" in page
    assert "| BIOS Mode<br>`device.firmware_mode` | fail | Legacy | UEFI |" in page
    assert "`$.facts.firmware_mode`" in page
    assert re.search(r"`device.firmware_mode == UEFI`<br>`rulesets/silent_enablement.rules:\d+:11`", page)
    assert "**Fix:** Switch the firmware to UEFI mode" in page
    assert "**BitLocker event ids:** 851" in page
    assert "is in conflict between policies" in page  # a setting in conflict is a cause, with each policy's value
    assert (
        "| policy 'WIN - EP - BitLocker with startup PIN' (0d9f5e44-2c61-4f1e-a9a7-61b7f3c0e2d5) | Require startup PIN with TPM |"
        in page
    )
    assert "## Inputs read" in page and "`examples/policy-startup-pin.json`" in page


# ---------------------------------------------------------------------------------------------
# HTML


def assert_self_contained(page: str) -> None:
    lowered = page.lower()
    for forbidden in (
        "<script",
        "<link",
        "<img",
        "<iframe",
        "<object",
        "src=",
        "url(",
        "@import",
        "http://",
        "https://",
        "//fonts",
        "href=",
    ):
        assert forbidden not in lowered, forbidden
    assert lowered.startswith("<!doctype html>")
    assert "<svg" in lowered


def fleet_summary_and_records(rows: int = 120):
    engine = Engine.load(["silent_enablement"])
    from bitlocker_rules.fleet import FleetRow, evaluate_fleet

    data = [
        FleetRow(
            i + 1,
            {
                "deviceName": f"D-{i:03d}",
                "facts": {
                    "os_version": "1803" if i % 3 else "22H2",
                    "join_type": "AzureADRegistered" if i % 5 else "AzureADJoined",
                    "firmware_mode": "LegacyBIOS" if i % 7 == 0 else "UEFI",
                    "user_role": "StandardUser",
                    "tpm_present": True,
                    "tpm_version": 2.0,
                },
            },
        )
        for i in range(rows)
    ]
    records = []
    policy = load_policies(POLICY, engine.vocabulary)[0].facts
    summary = evaluate_fleet(data, engine, policy, write=records.append)
    return summary, records


def test_html_fleet_report_is_self_contained_and_keeps_at_most_the_limit():
    summary, records = fleet_summary_and_records()
    page = render_fleet_html(summary, devices=records, limit=50)
    assert_self_contained(page)
    worst_rows = re.search(r"<h2>Devices with the most failed rules</h2>.*?</table>", page, re.S).group(0)
    assert worst_rows.count("<tr>") == 50 + 1  # the header row
    assert "50 shown (at most 50)" in page
    assert page.count('<svg class="chart"') == 2


def test_fleet_pages_take_their_examples_from_a_one_shot_iterator():
    from bitlocker_rules.fleet import FleetRow, evaluate_fleet
    from bitlocker_rules.report import RuleExamples

    engine = Engine.load(["silent_enablement"])
    rows = [FleetRow(1, {"deviceName": "A", "facts": {"os_version": "1803", "user_role": "StandardUser"}})]
    kept = RuleExamples()
    summary = evaluate_fleet(rows, engine, write=kept.add, record=lambda number, report: report)
    examples = kept.outcomes()
    assert {o.status for o in examples} == {Status.FAIL, Status.UNKNOWN}  # both sections read them
    for render in (render_fleet_html, render_fleet_markdown):
        assert render(summary, examples=iter(examples)) == render(summary, examples=examples)


def test_html_device_report_is_self_contained():
    page = render_html(evaluate([POLICY, PIN_POLICY], [LEGACY]), verbose=True)
    assert_self_contained(page)
    assert "is in conflict between policies" in page and "Rules that pass or do not apply" in page
    assert "Switch the firmware to UEFI mode" in page


def test_html_escapes_text_from_the_inputs():
    outcome = RuleOutcome(
        "rs",
        "R-1",
        "<b>bold</b> & co",
        "error",
        (),
        Status.FAIL,
        (
            Condition(
                "device.x",
                "X<script>",
                "\"'<>",
                "good",
                Status.FAIL,
                origins=(ValueOrigin("device '<i>'", ("facts", "x")),),
            ),
        ),
    )
    page = render_html(Report("device '<img src=x>'", (outcome,)))
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    assert "<script>" not in page and "<img" not in page and "<i>" not in page


def test_worst_devices_keeps_the_worst_in_bounded_memory():
    keep = WorstDevices(3)
    for row in range(1, 1001):
        keep.add({"row": row, "device": f"D{row}", "summary": {"fail": row % 10, "unknown": row % 4}, "results": []})
        assert len(keep._heap) <= 3
    assert [(d["summary"]["fail"], d["summary"]["unknown"], d["row"]) for d in keep.devices()] == [
        (9, 3, 19),
        (9, 3, 39),
        (9, 3, 59),
    ]
    assert worst_devices([{"row": 1, "summary": {"fail": 0, "unknown": 5}}]) == []


# ---------------------------------------------------------------------------------------------
# Recovery passwords are masked in every format

SECRET_RULES = """ruleset custom "Custom"

rule C-01 "The device has a known Azure AD id"
  severity error
  sources S14
  require device.azure_ad_device_id == "00000000-0000-0000-0000-000000000000"
  remediation "Re-register the device."
"""


def assert_masked(output: str) -> None:
    digits = SECRET.replace("-", "")
    assert SECRET not in output and digits not in output
    for group in ("234567-345678", "234567345678", "345678 456789"):
        assert group not in output


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "secret", [SECRET, SECRET.replace("-", ""), SECRET.replace("-", " ")], ids=["dashes", "digits", "spaces"]
)
def test_every_device_format_masks_a_recovery_password(capsys, tmp_path, fmt, secret):
    rules = tmp_path / "secret.rules"
    rules.write_text(SECRET_RULES.replace('"The device has a known Azure AD id"', f'"Not {secret}"'))
    device = tmp_path / "device.json"
    device.write_text(json.dumps({"deviceName": f"PC {secret}", "facts": {"azure_ad_device_id": secret}}, indent=2))
    code_, out, err = run(capsys, "check", "--rules", str(rules), "--device", str(device), "--format", fmt, "--verbose")
    assert code_ == 1
    assert_masked(out + err)
    assert MASK in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_fleet_format_masks_a_recovery_password(capsys, tmp_path, fmt):
    rules = tmp_path / "secret.rules"
    rules.write_text(SECRET_RULES)
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_text(
        json.dumps({"deviceName": f"PC {SECRET}", "facts": {"azure_ad_device_id": SECRET}})
        + "\n"
        + json.dumps({"deviceName": "BAD", "facts": {"tpm_version": SECRET}})
        + "\n"
    )
    output = tmp_path / "out"
    code_, out, err = run(
        capsys, "check", "--rules", str(rules), "--fleet", str(fleet), "--format", fmt, "--output", str(output)
    )
    assert code_ == 2  # the bad row
    written = output.read_text(encoding="utf-8")
    assert_masked(out + err + written)
    assert MASK in out + written


# The masking rule itself, its pre-check and every command's output: tests/test_secrets.py.


def test_redact_masks_a_password_in_arabic_indic_digits():
    secret = "-".join(["١٢٣٤٥٦", "٢٣٤٥٦٧", "٣٤٥٦٧٨", "٤٥٦٧٨٩", "٥٦٧٨٩٠", "٦٧٨٩٠١", "٧٨٩٠١٢", "٨٩٠١٢٣"])
    assert redact(f"key {secret}.") == f"key {SECRET_MASK}."
    assert redact(secret.replace("-", " ")) == redact(secret.replace("-", "")) == SECRET_MASK


def test_redact_leaves_a_long_line_without_passwords_alone():
    line = ("device PC-0042 build 10.0.19045.3693 id 12345-67890 tpm 2.0 ok; " * 100)[:5000]
    assert len(line.encode()) == 5000 and line.isascii()
    assert not _may_hold_password(line)
    assert redact(line) == line


# ---------------------------------------------------------------------------------------------
# JSON schemas (docs/schema/*.json) against real outputs, with a small validator

SUPPORTED = {
    "$schema",
    "$id",
    "$ref",
    "$defs",
    "title",
    "description",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "pattern",
}


def validate(instance, schema: dict, root: dict | None = None, where: str = "$") -> list[str]:
    """Problems of ``instance`` against a JSON Schema using only the SUPPORTED keywords."""
    root = root or schema
    unknown = set(schema) - SUPPORTED
    if unknown:
        return [f"{where}: schema keywords this validator does not know: {sorted(unknown)}"]
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return validate(instance, target, root, where)
    problems = []
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "null": lambda v: v is None,
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        }
        if not any(checks[t](instance) for t in allowed):
            return [f"{where}: {instance!r} is not of type {types}"]
    if "const" in schema and instance != schema["const"]:
        problems.append(f"{where}: {instance!r} is not {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{where}: {instance!r} is not one of {schema['enum']}")
    if "minimum" in schema and isinstance(instance, (int, float)) and instance < schema["minimum"]:
        problems.append(f"{where}: {instance} < {schema['minimum']}")
    if "pattern" in schema and isinstance(instance, str) and not re.search(schema["pattern"], instance):
        problems.append(f"{where}: {instance!r} does not match {schema['pattern']}")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in instance:
                problems.append(f"{where}: missing required field {name!r}")
        for name, item in instance.items():
            if name in properties:
                problems += validate(item, properties[name], root, f"{where}.{name}")
            elif schema.get("additionalProperties", True) is False:
                problems.append(f"{where}: field {name!r} is not in the schema")
    if isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            problems += validate(item, schema["items"], root, f"{where}[{i}]")
    return problems


def load_schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def _object_schemas(node):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for value in node.values():
            yield from _object_schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _object_schemas(value)


@pytest.mark.parametrize("name", ["report-1.json", "fleet-1.json"])
def test_schemas_close_every_object(name):
    """additionalProperties is false everywhere: a new output field fails until it is in the schema."""
    schema = load_schema(name)
    assert validate({}, {"type": "object"}) == []
    objects = list(_object_schemas(schema))
    assert objects
    for node in objects:
        assert node.get("additionalProperties") is False, node
        assert set(node["required"]) <= set(node["properties"]), node
        # Optional fields: a device line's rule reasons, its policies (with an assignment file only)
        # and what assignment filters decided for it (a snapshot's, when any did); with check --waivers
        # only: the waived counts, a waived result's waiver, the waivers' warnings.
        optional = {"reasons", "policies", "filters", "waived", "waiver", "waiver_notices"}
        assert set(node["properties"]) - set(node["required"]) <= optional, node


DEVICE_RUNS = [
    (SE, [POLICY], [READY], False),
    (SE, [POLICY], [LEGACY], True),
    (SE, [POLICY, PIN_POLICY], [LEGACY], False),
    ((), [PIN_POLICY], [], True),
    ((), [BETA, BETA_PIN], [MANAGED], False),
    ((), ["examples/graph/custom-oma-uri.json"], ["examples/graph/recovery-keys.json"], True),
]


@pytest.mark.parametrize(("rules", "policies", "devices", "verbose"), DEVICE_RUNS)
def test_device_json_matches_the_schema(capsys, rules, policies, devices, verbose):
    argv = [
        "check",
        *rules,
        *(a for p in policies for a in ("--policy", p)),
        *(a for d in devices for a in ("--device", d)),
        "--format",
        "json",
    ] + (["--verbose"] if verbose else [])
    code_, out, _ = run(capsys, *argv)
    assert code_ in (0, 1)
    document = json.loads(out)
    assert validate(document, load_schema("report-1.json")) == []


def test_fleet_json_and_device_lines_match_the_schema(capsys, tmp_path):
    lines = tmp_path / "results.jsonl"
    code_, out, _ = run(
        capsys, "check", "--policy", POLICY, "--fleet", FLEET, "--format", "json", "--jsonl", str(lines)
    )
    assert code_ == 2
    schema = load_schema("fleet-1.json")
    document = json.loads(out)
    assert validate(document, schema) == []
    assert document["bad_rows"] and document["top_failure_reasons"]
    device_schema = {"$ref": "#/$defs/device"}
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert records
    for record in records:
        assert validate(record, device_schema, schema) == []


def test_device_lines_with_an_assignment_file_name_their_policies_and_match_the_schema(capsys, tmp_path):
    lines = tmp_path / "results.jsonl"
    examples = Path(__file__).resolve().parent.parent / "examples"
    run(
        capsys,
        "check",
        "--rules",
        "silent_enablement",
        "--policy",
        str(examples / "policy-silent.json"),
        "--policy",
        str(examples / "policy-startup-pin.json"),
        "--fleet",
        FLEET,
        "--assignments",
        str(examples / "assignments.json"),
        "--jsonl",
        str(lines),
        "--quiet",
    )
    schema = load_schema("fleet-1.json")
    records = {r["device"]: r for r in map(json.loads, lines.read_text().splitlines())}
    for record in records.values():
        assert validate(record, {"$ref": "#/$defs/device"}, schema) == []
        assert list(record)[:3] == ["row", "device", "policies"]
    assert records["device 'CONTOSO-LT-6232'"]["policies"] == [
        "policy 'WIN - EP - BitLocker with startup PIN' (0d9f5e44-2c61-4f1e-a9a7-61b7f3c0e2d5)"
    ]
    assert records["device 'CONTOSO-LT-6920'"]["policies"] == []  # the kiosk group is excluded from every policy
    assert len(records["device 'CONTOSO-SF-6116'"]["policies"]) == 2


def test_a_field_added_to_the_output_fails_the_schema(capsys):
    _, out, _ = run(capsys, "check", *SE, "--policy", POLICY, "--device", LEGACY, "--format", "json")
    document = json.loads(out)
    document["results"][3]["reasons"][0]["new_field"] = 1
    document["extra"] = True
    problems = validate(document, load_schema("report-1.json"))
    assert "$.results[3].reasons[0]: field 'new_field' is not in the schema" in problems
    assert "$: field 'extra' is not in the schema" in problems


@pytest.mark.parametrize("name", ["report-1.json", "fleet-1.json"])
def test_schema_page_documents_every_field(name):
    page = (ROOT / "docs" / "json-schema.md").read_text(encoding="utf-8")
    fields = set()
    for node in _object_schemas(load_schema(name)):
        fields |= set(node["properties"])
    missing = sorted(f for f in fields if f"`{f}`" not in page)
    assert not missing, f"docs/json-schema.md does not document {missing}"


# ---------------------------------------------------------------------------------------------
# The command line


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_file_gets_the_same_report_in_every_format(capsys, tmp_path, fmt):
    code_, expected, _ = run(capsys, "check", *SE, "--policy", POLICY, "--device", LEGACY, "--format", fmt)
    target = tmp_path / f"report.{fmt}"
    code_to_file, out, err = run(
        capsys, "check", *SE, "--policy", POLICY, "--device", LEGACY, "--format", fmt, "--output", str(target)
    )
    assert code_ == code_to_file == 1
    assert out == err == ""
    assert target.read_text(encoding="utf-8") == expected


@pytest.mark.parametrize("fmt", ["markdown", "sarif", "junit", "html"])
def test_quiet_prints_nothing_in_any_format(capsys, fmt):
    assert run(capsys, "check", *SE, "--policy", POLICY, "--device", LEGACY, "--format", fmt, "--quiet") == (1, "", "")
    assert run(capsys, "check", *SE, "--policy", POLICY, "--fleet", FLEET, "--format", fmt, "--quiet") == (2, "", "")


@pytest.mark.parametrize("fmt", ["markdown", "sarif", "junit", "html"])
def test_fleet_report_goes_to_output_and_matches_standard_output(capsys, tmp_path, fmt):
    code_, expected, _ = run(capsys, "check", *SE, "--policy", POLICY, "--fleet", FLEET, "--format", fmt)
    target = tmp_path / "report"
    code_to_file, out, err = run(
        capsys, "check", *SE, "--policy", POLICY, "--fleet", FLEET, "--format", fmt, "--output", str(target), "--quiet"
    )
    assert code_ == code_to_file == 2
    assert out == err == ""
    assert target.read_text(encoding="utf-8") == expected


@pytest.mark.parametrize("fmt", ["junit", "html"])
def test_fleet_reports_are_the_same_with_several_processes(capsys, fmt):
    _, one, _ = run(capsys, "check", *SE, "--policy", POLICY, "--fleet", FLEET, "--format", fmt)
    _, two, _ = run(capsys, "check", *SE, "--policy", POLICY, "--fleet", FLEET, "--format", fmt, "--jobs", "2")
    assert one == two


def test_fleet_markdown_explains_the_failing_rules(capsys):
    code_, out, _ = run(capsys, "check", *SE, "--policy", POLICY, "--fleet", FLEET, "--format", "markdown")
    assert code_ == 2
    assert "## Most common failure reasons" in out
    assert "## Devices with the most failed rules (at most 50)" in out
    assert "### SE-03 The device is Microsoft Entra joined or hybrid joined" in out
    assert "**Fix:** Join the device to Microsoft Entra ID" in out
    assert "## Rows that could not be read" in out and "Windows 95" in out
    assert "`examples/fleet.jsonl`" in out


def test_fleet_fail_on_still_sets_the_exit_code(capsys, tmp_path):
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_text(json.dumps({"deviceName": "A", "facts": {"firmware_mode": "LegacyBIOS"}}) + "\n")
    for fmt in ("markdown", "html", "junit", "sarif"):
        code_, _, _ = run(capsys, "check", *SE, "--policy", POLICY, "--fleet", str(fleet), "--format", fmt)
        assert code_ == 1
    rules = tmp_path / "warn.rules"
    rules.write_text(
        'ruleset warn "W"\n\nrule W-01 "UEFI"\n  severity warning\n  sources S5\n'
        "  require device.firmware_mode == UEFI\n"
    )
    code_, _, _ = run(
        capsys, "check", "--rules", str(rules), "--fleet", str(fleet), "--format", "html", "--fail-on", "error"
    )
    assert code_ == 0


def test_fleet_report_that_cannot_be_written_is_an_input_error(capsys, tmp_path):
    code_, _, err = run(
        capsys,
        "check",
        *SE,
        "--policy",
        POLICY,
        "--fleet",
        FLEET,
        "--format",
        "junit",
        "--output",
        str(tmp_path / "missing" / "report.xml"),
    )
    assert code_ == 2
    assert "error[I006]: cannot write the report" in err


def test_device_record_of_a_report_is_what_the_worst_devices_read():
    report = evaluate([POLICY], [LEGACY])
    record = device_record(7, report)
    assert worst_devices([record]) == [record]


# ---------------------------------------------------------------------------------------------
# Policy conflicts in the fleet reports: `--policy a --policy b` that disagree on settings

TWO_POLICIES = ("--policy", POLICY, "--policy", PIN_POLICY)
CONFLICT_HEAD = "Policy conflicts (these settings are unknown on the devices that get them):"


def fleet_conflict(label: str, devices: int, *values: tuple[str, str]):
    from bitlocker_rules.fleet import FleetConflict

    fact = "policy." + "_".join(re.findall(r"[a-z]+", label.lower()))
    return FleetConflict(ConflictRecord(fact, label, tuple((src, shown, shown) for src, shown in values)), devices)


def summary_with_conflicts(*conflicts):
    summary, _ = fleet_summary_and_records(rows=12)
    return attrs.evolve(summary, conflicts=tuple(conflicts))


def test_every_fleet_format_shows_the_conflicts_of_two_policies(capsys, tmp_path):
    device_conflicts = report_to_dict(evaluate([POLICY, PIN_POLICY], [LEGACY]))["conflicts"]
    assert len(device_conflicts) == 3
    pin = next(c for c in device_conflicts if c["label"] == "Compatible TPM startup PIN")
    sentence = "; ".join(f"{v['source']} sets {v['shown']}" for v in pin["values"])

    _, table, _ = run(capsys, "check", *SE, *TWO_POLICIES, "--fleet", FLEET)
    assert f"\n\n{CONFLICT_HEAD}\n" in table
    assert f"\n       40  Compatible TPM startup PIN: {sentence}\n" in table
    assert table.index("SE-11") < table.index(CONFLICT_HEAD) < table.index("Most common failure reasons")

    _, out, _ = run(
        capsys,
        "check",
        *SE,
        *TWO_POLICIES,
        "--fleet",
        FLEET,
        "--format",
        "json",
        "--jsonl",
        str(tmp_path / "lines.jsonl"),
    )
    document = json.loads(out)
    assert validate(document, load_schema("fleet-1.json")) == []
    # The fields of a device report's conflict, plus devices; sorted by devices, then label.
    assert document["conflicts"] == [{**c, "devices": 40} for c in sorted(device_conflicts, key=lambda c: c["label"])]

    _, markdown, _ = run(capsys, "check", *SE, *TWO_POLICIES, "--fleet", FLEET, "--format", "markdown")
    assert "\n## Policy conflicts\n" in markdown
    assert markdown.index("## Rules") < markdown.index("## Policy conflicts") < markdown.index("## Most common")
    assert re.search(
        r"\| Compatible TPM startup PIN +\| `policy.tpm_startup_pin` +\| policy 'WIN - EP - "
        r"BitLocker silent' \(5b0e7c1a-3f2d-4b8e-9a61-0c2d4e6f8a10\) +\| Do not allow startup PIN "
        r"with TPM +\| +40 \|\n\| +\| +\| policy 'WIN - EP - BitLocker with startup PIN' \([0-9a-f-]+\) "
        r"+\| Require startup PIN with TPM +\| +\|",
        markdown,
    )

    _, page, _ = run(capsys, "check", *SE, *TWO_POLICIES, "--fleet", FLEET, "--format", "html")
    assert_self_contained(page)
    section = re.search(r"<h2>Policy conflicts</h2>.*?</section>", page, re.S).group(0)
    assert section.count("<tr>") == 1 + 3 * 2  # the header, then one row per policy and setting
    assert "<td>Require startup PIN with TPM</td>" in section
    assert section.count('<td class=num><span class="count">40</span></td>') == 3
    assert (
        page.index("<h2>Verdicts per rule</h2>")
        < page.index("<h2>Policy conflicts</h2>")
        < page.index("<h2>Failure causes</h2>")
    )


def test_fleet_conflicts_are_sorted_by_devices_then_by_label():
    summary = summary_with_conflicts(
        fleet_conflict("Beta", 3, ("policy 'A'", "On"), ("policy 'B'", "Off")),
        fleet_conflict("Alpha", 3, ("policy 'A'", "On"), ("policy 'C'", "Off")),
        fleet_conflict("Gamma", 9, ("policy 'B'", "1"), ("policy 'C'", "2")),
    )
    table = render_fleet_table(summary)
    assert [line.split()[:2] for line in table.split(CONFLICT_HEAD + "\n")[1].split("\n\n")[0].splitlines()] == [
        ["9", "Gamma:"],
        ["3", "Alpha:"],
        ["3", "Beta:"],
    ]
    assert "       9  Gamma: policy 'B' sets 1; policy 'C' sets 2" in table
    data = fleet_to_dict(summary)
    assert [(c["label"], c["devices"]) for c in data["conflicts"]] == [("Gamma", 9), ("Alpha", 3), ("Beta", 3)]
    assert validate(data, load_schema("fleet-1.json")) == []
    for page in (render_fleet_markdown(summary), render_fleet_html(summary)):
        assert page.index("Gamma") < page.index("Alpha") < page.index("Beta")


def test_fleet_conflicts_are_escaped_and_masked():
    summary = summary_with_conflicts(
        fleet_conflict(
            "<script>x</script> | *Pin*", 2, ("policy '<i>|A'", "<b>on</b>"), ("policy 'B'", f"key {SECRET}")
        )
    )
    page = render_fleet_html(summary)
    assert "<script>" not in page and "<i>" not in page and "<b>on" not in page
    assert "&lt;script&gt;x&lt;/script&gt; | *Pin*" in page and "&lt;b&gt;on&lt;/b&gt;" in page
    markdown = render_fleet_markdown(summary)
    assert r"\<script\>x\</script\> \| \*Pin\*" in markdown and r"policy '\<i\>\|A'" in markdown
    assert "<script>" not in markdown
    outputs = [page, markdown, render_fleet_table(summary), render_fleet_json(summary)]
    for output in outputs:
        assert_masked(output)
        assert MASK in output


def test_a_fleet_without_conflicts_renders_as_before():
    summary = summary_with_conflicts()
    with_one = attrs.evolve(
        summary, conflicts=(fleet_conflict("Alpha", 12, ("policy 'A'", "On"), ("policy 'B'", "Off")),)
    )
    table, table_with = render_fleet_table(summary), render_fleet_table(with_one)
    assert CONFLICT_HEAD not in table
    assert (
        table_with.replace(f"\n\n{CONFLICT_HEAD}\n       12  Alpha: policy 'A' sets On; policy 'B' sets Off", "")
        == table
    )
    data = fleet_to_dict(summary)
    assert data["conflicts"] == [] and validate(data, load_schema("fleet-1.json")) == []
    assert "Policy conflicts" not in render_fleet_markdown(summary)
    assert "Policy conflicts" not in render_fleet_html(summary)
    markdown = render_fleet_markdown(with_one)
    assert re.sub(r"\n\n## Policy conflicts\n.*?(?=\n\n## )", "", markdown, flags=re.S) == render_fleet_markdown(
        summary
    )
    page = render_fleet_html(with_one)
    assert re.sub(
        r'\n<section class="card">\n<h2>Policy conflicts</h2>.*?</section>', "", page, flags=re.S
    ) == render_fleet_html(summary)


def test_fleet_conflicts_are_the_same_with_several_processes(capsys):
    _, one, _ = run(capsys, "check", *SE, *TWO_POLICIES, "--fleet", FLEET, "--format", "json")
    _, two, _ = run(capsys, "check", *SE, *TWO_POLICIES, "--fleet", FLEET, "--format", "json", "--jobs", "2")
    assert json.loads(one)["conflicts"] and one == two


def test_fleet_sarif_and_junit_show_conflicts_through_the_conditions_as_for_a_device(capsys):
    """Neither format has a place for Report.conflicts; a conflict shows on each unknown rule's setting."""
    _, out, _ = run(capsys, "check", *SE, *TWO_POLICIES, "--fleet", FLEET, "--format", "sarif")
    results = [r for r in json.loads(out)["runs"][0]["results"] if r["properties"]["source"] != "device records"]
    assert sorted(r["ruleId"] for r in results if "conflict" in r["properties"]) == ["SE-06", "SE-07", "SE-09"]
    # SE-07 does not apply where the signed-in user is an administrator (16 of the 40 devices).
    assert {r["ruleId"]: r["properties"]["devices"] for r in results} == {"SE-06": 40, "SE-07": 24, "SE-09": 40}
    assert all(len(r["locations"]) == 2 for r in results)  # one in each policy file
    _, out, _ = run(capsys, "check", *SE, *TWO_POLICIES, "--fleet", FLEET, "--format", "junit")
    skipped = [s for s in ET.fromstring(out).iter("skipped") if s.get("type") == "unknown"]
    assert [s.get("message").split(":")[0] for s in skipped] == [  # one test case per rule, its devices counted
        "unknown on 40 of 40 devices",
        "unknown on 24 of 40 devices",
        "unknown on 40 of 40 devices",
    ]
    assert all(" is in conflict (" in s.get("message") for s in skipped)


@given(
    st.lists(st.sampled_from(["a", "bb", "c-d", " ", "\t", "\n", "é", "x" * 15, "."]), max_size=30).map("".join),
    st.integers(min_value=1, max_value=40),
)
def test_a_cells_height_is_textwraps_line_count(text, width):
    # The table chooses its column widths by these heights: they must be what textwrap (and so
    # tabulate) makes of the cell, computed once per cell instead of once per width tried.
    from bitlocker_rules.report.table import _Cell

    assert _Cell(text).height(width) == (max(1, len(textwrap.wrap(text, width))) if text else 1)


# ---------------------------------------------------------------------------------------------
# Claims the mutation run found unchecked: SARIF findings and artifacts, JUnit counts, terminal escaping


def _pin_outcome(status: Status, condition_status: Status, **extra) -> RuleOutcome:
    """One rule on the startup PIN of policy P, read at ``$.settings.tpm_startup_pin``."""
    condition = Condition(
        "policy.tpm_startup_pin",
        "Compatible TPM startup PIN",
        "Require",
        "not Require",
        condition_status,
        "policy.tpm_startup_pin != Required",
        origins=(ValueOrigin("policy 'P' (1)", ("settings", "tpm_startup_pin")),),
    )
    return RuleOutcome(
        "custom", "C-01", "Rule", "error", ("S1",), status, (condition,), remediation="Change it.", **extra
    )


def _pin_report(tmp_path, *outcomes: RuleOutcome, **extra) -> Report:
    policy = tmp_path / "p.json"
    policy.write_text('{\n  "settings": {\n    "tpm_startup_pin": "Required"\n  }\n}\n')
    inputs = (InputRecord("policy 'P' (1)", str(policy), "policy-json"),)
    return Report("policy 'P' (1)", outcomes, inputs=inputs, **extra)


WAIVER = AppliedWaiver("W-1", "kiosks are replaced in Q1", "J. Doe", "2027-01-31")


def test_sarif_an_unknown_the_sources_disagree_on_reports_its_failing_condition(tmp_path):
    """A failure the sources disagree on is unknown (``caveat``): its failing condition is the
    finding, a note located at the setting; without it SARIF would say nothing about the rule."""
    outcome = _pin_outcome(Status.UNKNOWN, Status.FAIL, caveat="the policies disagree")
    log = json.loads(render_sarif(_pin_report(tmp_path, outcome)))
    assert_valid_sarif(log)
    (result,) = log["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("C-01", "note")
    assert "unknown because the policies disagree" in result["message"]["text"]


def test_sarif_a_waived_failure_still_says_its_fix(tmp_path):
    """A waived failure is still a failure (suppressed, not fixed): its message keeps the fix."""
    outcome = _pin_outcome(Status.WAIVED, Status.FAIL, waiver=WAIVER)
    (result,) = json.loads(render_sarif(_pin_report(tmp_path, outcome)))["runs"][0]["results"]
    assert ". Fix: Change it." in result["message"]["text"]
    assert result["suppressions"][0]["status"] == "accepted"


def test_sarif_a_finding_in_a_file_that_cannot_be_read_is_on_line_1(tmp_path):
    """When the input file cannot be read the finding still names it, on line 1: SARIF 2.1.0
    (3.30.5) requires ``startLine`` to be at least 1."""
    report = _pin_report(tmp_path, _pin_outcome(Status.FAIL, Status.FAIL))
    log = json.loads(render_sarif(report, read_text=lambda file: None))
    assert_valid_sarif(log)
    (result,) = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}


def test_junit_skipped_counts_every_case_with_a_skipped_element(tmp_path):
    """A suite's ``skipped`` attribute is the number of its test cases that are skipped, a waived
    failure's included (JUnit XML: testsuite@skipped counts the skipped test cases)."""
    outcomes = (
        _pin_outcome(Status.WAIVED, Status.FAIL, waiver=WAIVER),
        attrs.evolve(_pin_outcome(Status.UNKNOWN, Status.UNKNOWN), rule="C-02"),
        attrs.evolve(_pin_outcome(Status.FAIL, Status.FAIL), rule="C-03"),
    )
    (suite,) = ET.fromstring(render_junit(_pin_report(tmp_path, *outcomes, waivers_given=True))).findall("testsuite")
    skipped = [case for case in suite.findall("testcase") if case.find("skipped") is not None]
    assert int(suite.get("skipped")) == len(skipped) == 2
    assert int(suite.get("failures")) == 1


@pytest.mark.parametrize("rules", ["silent_enablement", "platform_support"])
def test_junit_fleet_suite_counts_are_the_cases_it_holds(capsys, rules):
    """Each fleet suite's ``failures`` and ``skipped`` are the numbers of its test cases with a
    ``<failure>`` and a ``<skipped>`` (JUnit XML), a rule that applies to no device included."""
    _, out, _ = run(capsys, "check", "--rules", rules, "--policy", POLICY, "--fleet", FLEET, "--format", "junit")
    suites = [s for s in ET.fromstring(out).findall("testsuite") if s.get("name") != "fleet input"]
    assert suites
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(case.find("failure") is not None for case in cases)
        assert int(suite.get("skipped")) == sum(case.find("skipped") is not None for case in cases)


def test_junit_fleet_case_names_the_first_devices_and_counts_the_rest(capsys, tmp_path):
    """22 devices fail SE-09 (the policy requires a startup PIN): the case names the first 20
    (``DEVICES_PER_CASE``) and says there are 22 - 20 = 2 more."""
    fleet = tmp_path / "fleet.jsonl"
    rows = [json.dumps({"deviceName": f"D{i}", "facts": {"os_version": "22H2"}}) for i in range(22)]
    fleet.write_text("\n".join(rows) + "\n")
    _, out, _ = run(capsys, "check", *SE, "--policy", PIN_POLICY, "--fleet", str(fleet), "--format", "junit")
    (case,) = [c for c in ET.fromstring(out).iter("testcase") if c.get("name", "").startswith("SE-09 ")]
    failure = case.find("failure")
    assert failure.get("message").startswith("fails on 22 of 22 devices")
    named = ", ".join(f"device 'D{i}'" for i in range(20))
    assert f"Devices where it fails: {named}, and 2 more (--jsonl lists every device)" in failure.text


def test_junit_failure_message_is_the_decisive_reason():
    """Of two failing conditions the failure message names the decisive one (the one that alone
    decides the verdict), not merely the first listed."""
    side = Condition("policy.a", "Setting A", "Off", "On", Status.FAIL, decisive=False)
    decisive = Condition("policy.b", "Setting B", "Off", "On", Status.FAIL, decisive=True)
    outcome = RuleOutcome("custom", "C-01", "Rule", "error", (), Status.FAIL, (side, decisive))
    failure = ET.fromstring(render_junit(Report("device 'D'", (outcome,)))).find(".//failure")
    assert failure.get("message") == "Setting B is Off; the rule needs On"


def test_the_terminal_report_escapes_control_characters_from_the_inputs():
    """A device name from an input may hold an escape sequence (ESC [2J clears the screen): the
    terminal report shows it escaped, so the input cannot drive the reader's terminal."""
    report = Report("device 'PC\x1b[2J'", (_pin_outcome(Status.FAIL, Status.FAIL),))
    out = render_table(report)
    assert "\x1b" not in out
    assert "PC\\u001b[2J" in out


def test_sarif_names_three_inputs_of_one_file_and_counts_the_others():
    """One file holding five policies (a snapshot's JSON Lines) is one artifact naming the first
    three and counting 5 - 3 = 2 more."""
    inputs = tuple(InputRecord(f"policy 'P{i}'", "policies.jsonl#" + str(i + 1), "policy-json") for i in range(5))
    log = json.loads(render_sarif(Report("d", (), inputs=inputs)))
    (artifact,) = log["runs"][0]["artifacts"]
    assert artifact["location"]["uri"] == "policies.jsonl"
    assert artifact["description"]["text"] == (
        "policy 'P0' (policy-json); policy 'P1' (policy-json); policy 'P2' (policy-json); and 2 more"
    )


def test_the_terminal_report_says_two_missing_facts_are_not_known():
    """A rule left unknown by two missing facts is listed under both, "are not known" (plural)."""
    missing = [Condition(f"policy.{x}", f"Setting {x.upper()}", None, "On", Status.UNKNOWN) for x in "ab"]
    outcome = RuleOutcome("custom", "C-01", "Rule", "error", (), Status.UNKNOWN, tuple(missing))
    out = render_table(Report("device 'D'", (outcome,)))
    assert "  - Setting A (policy.a), Setting B (policy.b) are not known:" in out
