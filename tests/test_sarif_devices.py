"""SARIF for findings on device facts (``check --fleet``, ``check --snapshot``): one result per
rule, status and fact, located at the records of the first ``DEVICE_LOCATIONS`` devices that
have it in file order (the first as the location, the others as related locations), at the
record each fact was read from (a snapshot's encryption report row or recovery key record, by
the join's byte offsets), with the column of the fact's key; the other devices counted. The
oracles read the input files themselves; the invariants are checked on every log.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from test_drift import _write_snapshot
from test_golden import compare
from test_report_formats import assert_valid_sarif

import bitlocker_rules.report as report_package
from bitlocker_rules.cli import main
from bitlocker_rules.engine import Engine
from bitlocker_rules.outcome import InputRecord
from bitlocker_rules.report.sarif import DEVICE_LOCATIONS
from bitlocker_rules.report.sarif_locations import RecordLines, SeenDevice
from bitlocker_rules.snapshot import ALL_DEVICES
from bitlocker_rules.snapshot.devices import DeviceJoin
from bitlocker_rules.source import RecordPlace

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
POLICY = str(ROOT / "examples" / "policy-silent.json")
EP_POLICY = ROOT / "examples" / "graph" / "endpoint-protection-beta.json"
MANAGED_DEVICE = ROOT / "examples" / "graph" / "managed-device.json"
OLD = "1803"  # an OS version silent enablement refuses (SE-02 fails on it)
PASSWORD = "123453-234564-345675-456786-567897-678908-789019-890120"


def _check(capsys, *argv: str) -> tuple[int, dict, str]:
    code = main(["check", *argv, "--format", "sarif"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def _device_results(log: dict, rule: str, fact: str, status: str | None = None) -> list[dict]:
    return [
        r
        for r in log["runs"][0]["results"]
        if r["ruleId"] == rule
        and r["properties"]["fact"] == fact
        and r["properties"]["source"] == "device records"
        and status in (None, r["properties"]["status"])
    ]


def _pointed_at(result: dict) -> list[dict]:
    """The device locations of a result, in order: its location, then the related ones (id 1 is the rule text)."""
    related = [r for r in result.get("relatedLocations", []) if r["id"] >= 2]
    return [*result["locations"], *sorted(related, key=lambda r: r["id"])]


def _row(name: str, os_version: str) -> dict:
    facts = {"os_version": os_version, "join_type": "AzureADJoined", "user_role": "StandardUser", "tpm_version": 2.0}
    return {"deviceName": name, "facts": facts}


def _write_lines(path: Path, records: list) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def assert_sarif_invariants(log: dict) -> None:
    """What a viewer needs of every location (SARIF 2.1.0 3.4, 3.28–3.30): its artifact among the
    run's artifacts, regions 1-based and not ending before they start, related locations with
    unique ids, no snippet (a record may hold a secret), at least one location per result."""
    assert_valid_sarif(log)
    run = log["runs"][0]
    uris = [a["location"]["uri"] for a in run["artifacts"]]
    assert len(uris) == len(set(uris)), "an artifact listed twice"
    for result in run["results"]:
        assert result["locations"], result["ruleId"]
        related = result.get("relatedLocations", [])
        assert len({r["id"] for r in related}) == len(related)
        for location in [*result["locations"], *related]:
            physical = location["physicalLocation"]
            uri = physical["artifactLocation"]["uri"]
            assert uri in uris or "uriBaseId" in physical["artifactLocation"] or uri.endswith(".rules"), uri
            region = physical.get("region")
            if region is None:
                continue
            assert "snippet" not in region
            assert region["startLine"] >= 1 and region.get("startColumn", 1) >= 1
            if "endLine" in region:
                assert (region["endLine"], region["endColumn"]) > (region["startLine"], region["startColumn"])


# --- a fleet ------------------------------------------------------------------------------------


def test_a_device_finding_points_at_the_first_failing_rows_in_file_order(tmp_path, capsys):
    rows = [_row(f"D{i:02d}", OLD if i % 3 == 1 or i > 30 else "22H2") for i in range(45)]
    fleet = tmp_path / "fleet.jsonl"
    _write_lines(fleet, rows)
    code, log, _ = _check(capsys, "--rules", "silent_enablement", "--policy", POLICY, "--fleet", str(fleet))
    assert code == 1
    assert_sarif_invariants(log)
    (result,) = _device_results(log, "SE-02", "device.os_version")
    failing = [n for n, row in enumerate(rows, 1) if row["facts"]["os_version"] == OLD]  # the oracle: the file
    assert result["properties"]["devices"] == len(failing)
    assert result["properties"]["devicesLocated"] == DEVICE_LOCATIONS
    assert result["properties"]["devicesWithoutLocation"] == len(failing) - DEVICE_LOCATIONS
    assert result["level"] == "error" and "on 24 devices" in result["message"]["text"]
    lines = fleet.read_text(encoding="utf-8").splitlines()
    located = _pointed_at(result)
    assert [loc["physicalLocation"]["region"]["startLine"] for loc in located] == failing[:DEVICE_LOCATIONS]
    for location in located:
        physical, region = location["physicalLocation"], location["physicalLocation"]["region"]
        assert physical["artifactLocation"]["uri"] == fleet.as_uri()
        line = lines[region["startLine"] - 1]
        assert line[region["startColumn"] - 1 : region["endColumn"] - 1] == '"os_version": "1803"'
        assert location["logicalLocations"][0]["fullyQualifiedName"] == "$.facts.os_version"
        name = json.loads(line)["deviceName"]
        assert location["message"]["text"].startswith(f"device '{name}', row {region['startLine']}: OS version is")


def test_more_processes_point_at_the_same_devices(tmp_path, capsys):
    """Workers gather their own first devices; merged in row order they are the first of the file
    (the first two failing rows here are in the second batch of 500, the others in the third)."""
    rows = [_row(f"D{i:04d}", OLD if i in (620, 640) or (i > 1100 and i % 7 == 0) else "22H2") for i in range(1400)]
    fleet = tmp_path / "fleet.jsonl"
    _write_lines(fleet, rows)
    argv = ("--rules", "silent_enablement", "--policy", POLICY, "--fleet", str(fleet))
    _, one, _ = _check(capsys, *argv, "--jobs", "1")
    _, two, _ = _check(capsys, *argv, "--jobs", "2")
    assert one == two
    (result,) = _device_results(two, "SE-02", "device.os_version")
    failing = [n for n, row in enumerate(rows, 1) if row["facts"]["os_version"] == OLD]
    assert [loc["physicalLocation"]["region"]["startLine"] for loc in _pointed_at(result)] == failing[:10]
    assert result["properties"]["devices"] == len(failing)


def test_a_csv_row_is_pointed_at_by_its_line_and_an_array_element_by_its_index(tmp_path, capsys):
    csv = tmp_path / "fleet.csv"
    csv.write_text(
        "deviceName,os_version,join_type,user_role\nA,22H2,AzureADJoined,StandardUser\nB,1803,AzureADJoined,StandardUser\n",
        encoding="utf-8",
    )
    _, log, _ = _check(capsys, "--rules", "silent_enablement", "--policy", POLICY, "--fleet", str(csv))
    assert_sarif_invariants(log)
    (result,) = _device_results(log, "SE-02", "device.os_version")
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}  # a CSV row: its line only
    assert "logicalLocations" not in result["locations"][0]

    array = tmp_path / "fleet.json"
    array.write_text(json.dumps([_row("A", "22H2"), _row("B", OLD)], indent=2), encoding="utf-8")
    _, log, _ = _check(capsys, "--rules", "silent_enablement", "--policy", POLICY, "--fleet", str(array))
    assert_sarif_invariants(log)
    (result,) = _device_results(log, "SE-02", "device.os_version")
    (location,) = result["locations"]
    lines = array.read_text(encoding="utf-8").splitlines()
    region = location["physicalLocation"]["region"]  # an element's number is no line: found in the text
    assert lines[region["startLine"] - 1][region["startColumn"] - 1 :].startswith('"os_version": "1803"')
    assert region["startLine"] > 10  # the second element's, not the first's
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "$[1].facts.os_version"


def test_a_fleet_from_standard_input_lists_its_device_findings_without_locations(tmp_path):
    rows = "".join(json.dumps(_row(name, OLD)) + "\n" for name in ("A", "B"))
    done = subprocess.run(
        [sys.executable, "-m", "bitlocker_rules", "check", "--rules", "silent_enablement", "--policy", POLICY]
        + ["--fleet", "-", "--format", "sarif"],
        input=rows.encode(),
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    log = json.loads(done.stdout)
    assert_sarif_invariants(log)
    unlocated = log["runs"][0]["properties"]["deviceFindingsWithoutLocation"]
    assert {"ruleId": "SE-02", "status": "fail", "fact": "device.os_version", "devices": 2} in unlocated
    assert not any(r["properties"]["source"] == "device records" for r in log["runs"][0]["results"])


def test_a_recovery_password_in_a_device_name_is_masked_in_its_location(tmp_path, capsys):
    fleet = tmp_path / "fleet.jsonl"
    _write_lines(fleet, [_row(f"PC {PASSWORD}", OLD)])
    main(["check", "--rules", "silent_enablement", "--policy", POLICY, "--fleet", str(fleet), "--format", "sarif"])
    out = capsys.readouterr().out
    (result,) = _device_results(json.loads(out), "SE-02", "device.os_version")
    assert "PC " in result["locations"][0]["message"]["text"]
    assert PASSWORD not in out and PASSWORD.replace("-", "") not in out


# --- a snapshot ---------------------------------------------------------------------------------


def _snapshot(folder: Path) -> None:
    """A small complete snapshot: one Endpoint protection profile for all devices, 12 managed
    devices (three on an old Windows), their encryption report rows in reverse order (every
    third not ready), and recovery keys: device 4 has 200 (the limit), listed after others'."""
    template = json.loads(MANAGED_DEVICE.read_text(encoding="utf-8"))
    devices = [
        {
            **template,
            "id": f"md-{i:02d}",
            "deviceName": f"CONTOSO-{i:02d}",
            "azureADDeviceId": f"e-{i:02d}",
            "azureActiveDirectoryDeviceId": f"e-{i:02d}",
            "osVersion": "10.0.17134.1" if i in (2, 5, 11) else "10.0.22631.3593",
        }
        for i in range(12)
    ]
    state = json.loads((ROOT / "examples" / "graph" / "encryption-state.json").read_text(encoding="utf-8"))["value"][0]
    states = [
        {
            **state,
            "id": d["id"],
            "deviceName": d["deviceName"],
            "encryptionReadinessState": "notReady" if i % 3 else "ready",
        }
        for i, d in reversed(list(enumerate(devices)))
    ]
    key = {"@odata.type": "#microsoft.graph.bitlockerRecoveryKey", "createdDateTime": "2024-09-02T07:48:13Z"}
    keys = [{**key, "id": f"k-{i}", "volumeType": "1", "deviceId": f"e-{i:02d}"} for i in (0, 1, 2, 3)]
    keys += [{**key, "id": f"k-4-{n}", "volumeType": "1", "deviceId": "e-04"} for n in range(200)]
    policy = json.loads(EP_POLICY.read_text(encoding="utf-8"))
    policy.pop("@odata.context", None)
    _write_snapshot(folder, {"device_configurations": [policy]}, {policy["id"]: [{"@odata.type": ALL_DEVICES}]}, [])
    for kind, records in {"managed_devices": devices, "encryption_states": states, "recovery_keys": keys}.items():
        _write_lines(folder / f"{kind}.jsonl", records)


SNAPSHOT_RULES = ("--rules", "silent_enablement", "--rules", "encryption_readiness", "--rules", "recovery_keys")


@pytest.fixture
def snapshot_log(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths: the golden file holds no temporary folder
    _snapshot(Path("snapshot"))
    code, log, _ = _check(capsys, *SNAPSHOT_RULES, "--snapshot", "snapshot")
    assert code == 1
    return tmp_path / "snapshot", log


def _line_of(path: Path, found) -> int:
    """The 1-based line of the first record of ``path`` that ``found`` accepts (the test's own reading)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if found(json.loads(line)):
            return number
    raise AssertionError(f"no such record in {path}")


def test_a_snapshot_finding_points_at_the_record_its_fact_was_read_from(snapshot_log):
    folder, log = snapshot_log
    assert_sarif_invariants(log)
    artifacts = {a["location"]["uri"] for a in log["runs"][0]["artifacts"]}
    assert {"snapshot/encryption_states.jsonl", "snapshot/recovery_keys.jsonl"} <= artifacts

    # A fact of the managed device: its row of managed_devices.jsonl, at osVersion.
    (result,) = _device_results(log, "SE-02", "device.os_version")
    rows = [_line_of(folder / "managed_devices.jsonl", lambda r, i=i: r["id"] == f"md-{i:02d}") for i in (2, 5, 11)]
    assert [loc["physicalLocation"]["region"]["startLine"] for loc in _pointed_at(result)] == rows
    assert {loc["physicalLocation"]["artifactLocation"]["uri"] for loc in _pointed_at(result)} == {
        "snapshot/managed_devices.jsonl"
    }

    # A fact joined from the encryption report: that row's line (the file is in reverse order), at its key.
    (result,) = _device_results(log, "ER-28", "device.encryption_readiness")
    not_ready = [i for i in range(12) if i % 3]
    expected = [
        _line_of(folder / "encryption_states.jsonl", lambda r, i=i: r["id"] == f"md-{i:02d}") for i in not_ready
    ]
    located = _pointed_at(result)
    assert [loc["physicalLocation"]["region"]["startLine"] for loc in located] == expected[:DEVICE_LOCATIONS]
    assert result["properties"]["devices"] == len(not_ready)
    lines = (folder / "encryption_states.jsonl").read_text(encoding="utf-8").splitlines()
    for loc in located:
        assert loc["physicalLocation"]["artifactLocation"]["uri"] == "snapshot/encryption_states.jsonl"
        region = loc["physicalLocation"]["region"]
        text = lines[region["startLine"] - 1][region["startColumn"] - 1 : region["endColumn"] - 1]
        assert text == '"encryptionReadinessState": "notReady"'
        assert "row" in loc["message"]["text"] and "Encryption readiness is" in loc["message"]["text"]

    # A fact of the recovery keys: the device's first key record.
    (result,) = _device_results(log, "RK-03", "device.recovery_keys", "fail")
    (location,) = _pointed_at(result)
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "snapshot/recovery_keys.jsonl"
    assert location["physicalLocation"]["region"]["startLine"] == _line_of(
        folder / "recovery_keys.jsonl", lambda r: r["deviceId"] == "e-04"
    )
    assert "CONTOSO-04" in location["message"]["text"]


def test_the_snapshot_sarif_golden(snapshot_log, capsys):
    """The whole log of the small snapshot checked against the recovery key rules, reviewed
    (``UPDATE_GOLDEN=1`` rewrites it): a failure at the keys' file, unknown rules at the rows of
    the devices without keys or with their two sources in conflict."""
    main(["check", "--rules", "recovery_keys", "--snapshot", "snapshot", "--format", "sarif"])
    compare(capsys.readouterr().out, GOLDEN / "snapshot.sarif")


def test_the_join_gives_each_joined_record_its_line_and_byte_offset(tmp_path):
    _snapshot(tmp_path / "s")
    folder = tmp_path / "s"
    vocabulary = Engine.load().vocabulary
    device = json.loads((folder / "managed_devices.jsonl").read_text(encoding="utf-8").splitlines()[4])
    places = DeviceJoin(folder).places(device, vocabulary, 5)
    for fact, file, found in [
        ("device.encryption_readiness", "encryption_states.jsonl", lambda r: r["id"] == "md-04"),
        ("device.recovery_keys", "recovery_keys.jsonl", lambda r: r["deviceId"] == "e-04"),
    ]:
        place = places[fact]
        data = (folder / file).read_bytes()
        line = _line_of(folder / file, found)
        assert place.file == str(folder / file) and place.line == line
        assert place.offset == len(b"".join(data.splitlines(keepends=True)[: line - 1]))
    assert places["device.os_version"].file == "" and places["device.os_version"].line == 5
    assert places["device.os_version"].path == ("osVersion",)


def test_every_shipped_golden_log_keeps_the_invariants():
    for golden in sorted(GOLDEN.glob("*.sarif")):
        assert_sarif_invariants(json.loads(golden.read_text(encoding="utf-8")))


def test_a_waived_device_failure_is_its_finding_suppressed(tmp_path, capsys):
    fleet = tmp_path / "fleet.jsonl"
    _write_lines(fleet, [_row("A", OLD), _row("B", OLD)])
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(
        '[[waivers]]\nid = "W1"\nrules = ["SE-02"]\nscope = { devices = ["A"] }\njustification = "replaced in May"\n'
        'approver = "ciso@contoso.example"\nexpires = 2099-01-01\n',
        encoding="utf-8",
    )
    argv = ("--rules", "silent_enablement", "--policy", POLICY, "--fleet", str(fleet), "--waivers", str(waivers))
    _, log, _ = _check(capsys, *argv)
    assert_sarif_invariants(log)
    waived, failed = sorted(_device_results(log, "SE-02", "device.os_version"), key=lambda r: "suppressions" in r)[::-1]
    assert waived["suppressions"][0]["properties"]["waiver"] == "W1" and waived["properties"]["devices"] == 1
    assert waived["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert "suppressions" not in failed and failed["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


def test_a_standard_input_stream_is_not_needed_for_an_in_process_run(monkeypatch, capsys):
    """``--fleet -`` in process reads the stream it is given (the subprocess test's twin, cheaper)."""
    rows = "".join(json.dumps(_row(name, OLD)) + "\n" for name in ("A", "B"))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(rows.encode())))
    code, log, _ = _check(capsys, "--rules", "silent_enablement", "--policy", POLICY, "--fleet", "-")
    assert code == 1 and "deviceFindingsWithoutLocation" in log["runs"][0]["properties"]


def test_the_lines_shown_are_read_ahead_once_in_one_pass(tmp_path):
    fleet = tmp_path / "fleet.jsonl"
    _write_lines(fleet, [_row(f"D{i}", OLD) for i in range(5)])
    records = RecordLines([InputRecord("fleet", str(fleet), "fleet")])
    seen = [SeenDevice(f"D{n}", n, RecordPlace("", n, path=("facts", "os_version")), "") for n in (4, 1, 4, 2)]
    with mock.patch("bitlocker_rules.report.sarif_locations.open", wraps=open, create=True) as opened:
        records.read(seen)
    assert opened.call_count == 2  # the fleet file: its first bytes (its format), then the 3 lines in one pass
    fleet.unlink()  # from now on only what was read ahead can be located
    regions = [records.location(s)["physicalLocation"]["region"] for s in seen]
    assert [(r["startLine"], r["startColumn"] > 1) for r in regions] == [(4, True), (1, True), (4, True), (2, True)]


def test_a_fleet_log_reads_the_fleet_file_back_in_one_pass(tmp_path, capsys):
    """However many devices and findings it points at, the fleet file is read back once (after
    its first bytes, which say its format), not once per line."""
    fleet = tmp_path / "fleet.jsonl"
    _write_lines(fleet, [_row(f"D{i}", OLD if i % 2 else "22H2") for i in range(30)])
    with mock.patch("bitlocker_rules.report.sarif_locations.open", wraps=open, create=True) as opened:
        _, log, _ = _check(capsys, "--rules", "silent_enablement", "--policy", POLICY, "--fleet", str(fleet))
    lines = {
        loc["physicalLocation"]["region"]["startLine"] for r in log["runs"][0]["results"] for loc in _pointed_at(r)
    }
    assert len(lines) >= 10
    assert [call.args[0] for call in opened.call_args_list] == [str(fleet), str(fleet)]


def test_every_name_the_report_package_offers_resolves():
    """``report.__all__`` named ``locate_json_path`` in the SARIF module, which never had it
    (it is ``jsonpath``'s): ``from bitlocker_rules.report import *`` raised AttributeError."""
    for name in report_package.__all__:
        assert getattr(report_package, name) is not None, name
