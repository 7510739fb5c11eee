"""Assignment files: which --policy applies to which device of a fleet."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bitlocker_rules import Engine, InputError, load_policy_file
from bitlocker_rules.assignments import AssignedPolicies, AssignedPolicy, read_assignments
from bitlocker_rules.fleet import evaluate_fleet, evaluate_fleet_parallel, fleet_device, read_fleet
from bitlocker_rules.fleet.job import fleet_engine

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SILENT, PIN = "5b0e7c1a-3f2d-4b8e-9a61-0c2d4e6f8a10", "0d9f5e44-2c61-4f1e-a9a7-61b7f3c0e2d5"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load(["silent_enablement"])


@pytest.fixture(scope="module")
def policies(engine) -> list[AssignedPolicy]:
    silent = load_policy_file(EXAMPLES / "policy-silent.json", engine.vocabulary)
    pin = load_policy_file(EXAMPLES / "policy-startup-pin.json", engine.vocabulary)
    return [
        AssignedPolicy(SILENT, "WIN - EP - BitLocker silent", silent),
        AssignedPolicy(PIN, "WIN - EP - BitLocker with startup PIN", pin),
    ]


def write(tmp_path, data) -> Path:
    path = tmp_path / "assignments.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def test_all_devices_groups_direct_and_exclusions(tmp_path, policies):
    assignments = read_assignments(
        write(
            tmp_path,
            {
                "all_devices": [SILENT],
                "groups": {
                    "pilot": {
                        "members": ["PC-1", "pc-2"],
                        "policies": ["WIN - EP - BitLocker with startup PIN"],
                        "excluded_from": [SILENT],
                    }
                },
                "devices": {"pc-3": [PIN]},
            },
        ),
        policies,
    )
    assert assignments.policy_ids(["PC-0"]) == {SILENT}
    assert assignments.policy_ids(["pc-1"]) == assignments.policy_ids(["x", "PC-2"]) == {PIN}  # exclusion wins
    assert assignments.policy_ids(["PC-3"]) == {SILENT, PIN}
    assert assignments.unassigned == ()


def test_the_same_set_of_policies_is_merged_once(tmp_path, policies):
    chosen = AssignedPolicies(
        read_assignments(write(tmp_path, {"devices": {"a": [PIN, SILENT], "b": [SILENT, PIN]}}), policies), policies
    )
    both, names = chosen.for_row({"deviceName": "A"})
    assert both is chosen.for_row({"id": "b"})[0] and len(both.conflicts) == 3
    assert names == ("policy 'WIN - EP - BitLocker silent'", "policy 'WIN - EP - BitLocker with startup PIN'")
    assert chosen.for_row({"deviceName": "nobody"}) == (None, ())


def test_a_policy_nobody_gets_is_listed(tmp_path, policies):
    assert read_assignments(write(tmp_path, {"all_devices": [SILENT]}), policies).unassigned == (PIN,)


def test_every_problem_is_reported_with_its_json_path(tmp_path, policies):
    path = write(
        tmp_path,
        {
            "all_device": [SILENT],
            "groups": {"pilot": {"members": "PC-1", "polices": [], "policies": ["WIN - EP - BitLocker silnet"]}},
            "devices": {"PC-2": ["0d9f5e44-2c61-4f1e-a9a7-000000000000"], "PC-3": "x"},
        },
    )
    with pytest.raises(InputError) as info:
        read_assignments(path, policies)
    found = {(d.path, d.code): (d.message, d.help) for d in info.value.diagnostics}
    assert found[("$.all_device", "I501")] == ("unknown section `all_device`", "did you mean `all_devices`?")
    assert found[('$.groups["pilot"].members', "I501")][0] == "expected a list of strings"
    assert found[('$.groups["pilot"].polices', "I501")][1] == "did you mean `policies`?"
    message, hint = found[('$.groups["pilot"].policies[0]', "I501")]
    assert message == "no --policy has the id or display name `WIN - EP - BitLocker silnet`"
    assert hint == "did you mean `WIN - EP - BitLocker silent`?"
    assert found[('$.devices["PC-2"][0]', "I501")][1].startswith("did you mean `0d9f5e44-2c61-4f1e-a9a7-61b7f3c0e2d5`")
    assert found[('$.devices["PC-3"]', "I501")][0] == "expected a list of strings"
    assert all(d.file == str(path) for d in info.value.diagnostics)


def test_malformed_json_gives_line_and_column(tmp_path, policies):
    path = tmp_path / "assignments.json"
    path.write_text('{"all_devices": [\n  "a",,\n]}')
    with pytest.raises(InputError) as info:
        read_assignments(path, policies)
    assert "assignments.json:2:7" in info.value.render()


def test_the_cli_applies_the_shipped_example(tmp_path):
    out = tmp_path / "results.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bitlocker_rules",
            "check",
            "--rules",
            "silent_enablement",
            "--policy",
            str(EXAMPLES / "policy-silent.json"),
            "--policy",
            str(EXAMPLES / "policy-startup-pin.json"),
            "--fleet",
            str(EXAMPLES / "fleet.jsonl"),
            "--assignments",
            str(EXAMPLES / "assignments.json"),
            "--jsonl",
            str(out),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2, result.stderr  # the example fleet has one bad row
    records = {r["device"]: r for r in map(json.loads, out.read_text().splitlines())}
    pilot = {r["rule"]: r for r in records["device 'CONTOSO-LT-6232'"]["results"]}
    assert pilot["SE-09"]["status"] == "fail"  # the startup PIN policy only: the pilot is excluded from the other
    assert "Compatible TPM startup PIN is Require startup PIN with TPM" in pilot["SE-09"]["reasons"][0]
    kiosk = {r["rule"]: r for r in records["device 'CONTOSO-LT-6920'"]["results"]}
    assert kiosk["SE-00"]["status"] == "unknown"  # excluded from every policy
    both = {r["rule"]: r for r in records["device 'CONTOSO-SF-6116'"]["results"]}
    assert "is in conflict" in both["SE-09"]["reasons"][0]
    summary = json.loads(result.stdout)
    assert {c["devices"] for c in summary["conflicts"]} == {1}  # only CONTOSO-SF-6116 gets both policies


def test_workers_apply_the_same_assignments(tmp_path):
    make = functools.partial(
        fleet_engine,
        ("silent_enablement",),
        (str(EXAMPLES / "policy-silent.json"), str(EXAMPLES / "policy-startup-pin.json")),
        str(EXAMPLES / "assignments.json"),
    )
    engine, policy = make()
    one, two = [], []
    single = evaluate_fleet(read_fleet(EXAMPLES / "fleet.jsonl"), engine, policy, write=one.append, reader=fleet_device)
    parallel = evaluate_fleet_parallel(
        read_fleet(EXAMPLES / "fleet.jsonl"), 2, make, write=two.append, reader=fleet_device
    )
    assert one == two and single.rules == parallel.rules and set(single.conflicts) == set(parallel.conflicts)


def test_assignments_need_a_fleet():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bitlocker_rules",
            "check",
            "--policy",
            str(EXAMPLES / "policy-silent.json"),
            "--assignments",
            str(EXAMPLES / "assignments.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2 and "--assignments goes with --fleet" in result.stderr
