"""Fleets: streamed reading in every format, bad rows reported and skipped, processes agree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import bitlocker_rules.fleet as fleet
from bitlocker_rules import Engine, load_policy_file
from bitlocker_rules.fleet import BadRow, evaluate_fleet, evaluate_fleet_parallel, fleet_device, read_fleet
from bitlocker_rules.cli import fleet_engine

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "policy-silent.json"
KEY = "123456-234567-345678-456789-567890-678901-789012-890123"


def devices(count: int) -> list[dict]:
    return [
        {"id": f"id-{i}", "deviceName": f"PC-{i:03}", "facts": {
            "os_version": f"10.0.{17000 + 400 * (i % 8)}", "user_role": "StandardUser" if i % 2 else "Administrator",
            "join_type": "AzureADJoined", "tpm_present": i % 5 != 0, "tpm_version": 2.0, "firmware_mode": "UEFI"}}
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load(["silent_enablement"])


def test_json_array_is_read_across_chunk_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(fleet, "_CHUNK", 5)
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(devices(30), indent=2))
    rows = list(read_fleet(path))
    assert [r.number for r in rows] == list(range(1, 31))
    assert rows[-1].data["deviceName"] == "PC-029"


def test_jsonl_bad_line_is_reported_and_the_rest_is_read(tmp_path):
    lines = [json.dumps(d) for d in devices(3)]
    path = tmp_path / "fleet.jsonl"
    path.write_text("\n".join([lines[0], "{not json", "", lines[1], lines[2]]) + "\n")
    rows = list(read_fleet(path))
    assert isinstance(rows[1].data, BadRow) and rows[1].number == 2
    assert [r.data["deviceName"] for r in rows if not isinstance(r.data, BadRow)] == ["PC-000", "PC-001", "PC-002"]


def test_csv_columns_by_fact_name_with_empty_cells_missing(tmp_path, engine):
    path = tmp_path / "fleet.csv"
    path.write_text("deviceName,os_version,tpm_present,tpm_version,join_type\nA,1809,true,2.0,AzureADJoined\nB,,false,,\n")
    rows = list(read_fleet(path))
    facts = [fleet_device(r.data, engine, r.number) for r in rows]
    assert facts[0].get("device.tpm_present") is True and facts[0].get("device.os_version").build == 17763
    assert "device.os_version" not in facts[1].values and facts[1].get("device.tpm_present") is False


def test_graph_managed_device_rows_go_through_the_importers(engine):
    row = json.loads((ROOT / "examples" / "graph" / "managed-device.json").read_text())
    facts = fleet_device(row, engine, 1)
    assert facts.get("device.join_type") == "AzureADJoined"


def test_bad_rows_do_not_stop_the_fleet_and_set_exit_code_2(tmp_path, engine):
    rows = [*read_fleet_text(tmp_path, devices(4)), fleet.FleetRow(5, {"facts": {"tpm_versoin": 2}})]
    summary = evaluate_fleet(rows, engine, reader=fleet_device)
    assert summary.devices == 4 and [b.number for b in summary.bad_rows] == [5]
    assert "did you mean `device.tpm_version`" in summary.bad_rows[0].message
    assert summary.exit_code == 2


def read_fleet_text(tmp_path, items) -> list:
    path = tmp_path / "part.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in items) + "\n")
    return list(read_fleet(path))


def test_counts_and_reasons(tmp_path, engine):
    policy = load_policy_file(POLICY, engine.vocabulary)
    records = []
    summary = evaluate_fleet(read_fleet_text(tmp_path, devices(40)), engine, policy, write=records.append,
                             reader=fleet_device)
    by_rule = {t.rule: t.counts for t in summary.rules}
    assert sum(by_rule["SE-04"].values()) == 40
    assert by_rule["SE-04"]["fail"] == 8  # every fifth device has no TPM
    assert summary.top_reasons()[0][1] >= 8
    assert len(records) == 40 and records[0]["device"] == "device 'PC-000'"


def test_two_processes_give_the_same_summary_and_order(tmp_path):
    path = tmp_path / "fleet.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in devices(1200)) + "\n")
    make = lambda: fleet_engine(("silent_enablement",), (str(POLICY),))  # noqa: E731
    engine, policy = make()
    one, two = [], []
    single = evaluate_fleet(read_fleet(path), engine, policy, write=one.append, reader=fleet_device)
    import functools

    parallel = evaluate_fleet_parallel(read_fleet(path), 2, functools.partial(fleet_engine, ("silent_enablement",), (str(POLICY),)),
                                       write=two.append, reader=fleet_device)
    assert single.rules == parallel.rules and dict(single.reason_counts) == dict(parallel.reason_counts)
    assert one == two


def test_cli_fleet_jsonl_output_masks_secrets(tmp_path):
    rows = devices(3)
    rows[1]["facts"]["azure_ad_device_id"] = f"id {KEY}"
    rows.append({"facts": {"tpm_version": KEY}})
    path = tmp_path / "fleet.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in rows) + "\n")
    out = tmp_path / "out.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "bitlocker_rules", "check", "--rules", "silent_enablement", "--fleet", str(path),
         "--policy", str(POLICY), "--output", str(out), "--format", "json"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 2  # the fourth row is bad
    assert len(out.read_text().splitlines()) == 3
    for text in (result.stdout, result.stderr, out.read_text()):
        assert KEY not in text and "234567-345678" not in text
