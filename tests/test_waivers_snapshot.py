"""Waivers on ``check --snapshot``: a group of the snapshot (its id) scopes a waiver; the
devices of the group are its transitive device members, as the snapshot's assignments read them."""

from __future__ import annotations

import json
from pathlib import Path

from test_tenant_check import tenant_pulled  # noqa: F401 - the module's pulled tenant, a fixture

from bitlocker_rules.cli import main


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _failing(lines: list[dict]) -> dict[str, set[str]]:
    return {line["device"]: {e["rule"] for e in line["results"] if e["status"] == "fail"} for line in lines}


def test_a_snapshot_group_scopes_a_waiver(tenant_pulled, tmp_path):  # noqa: F811 - the fixture imported above
    tenant, folder, _, _ = tenant_pulled
    plain = tmp_path / "plain.jsonl"
    assert main(["check", "--snapshot", str(folder), "--jsonl", str(plain), "--quiet"]) == 1
    before = _failing(_lines(plain))
    # A group some assignment targets (the snapshot knows the groups its assignments name).
    targeted = {a["target"].get("groupId") for targets in tenant.assignments.values() for a in targets}
    group = next(g["id"] for g in tenant.groups if tenant.members.get(g["id"]) and g["id"] in targeted)
    members = {d["deviceId"] for d in tenant.members[group]}
    in_group = {d["deviceName"] for d in tenant.managed_devices if d["azureADDeviceId"] in members}
    rule = max({r for rules in before.values() for r in rules}, key=lambda r: sum(r in f for f in before.values()))
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(
        f'[[waivers]]\nid = "W-1"\nrules = ["{rule}"]\nscope = {{ groups = ["{group}"] }}\n'
        'justification = "pilot"\napprover = "CISO"\nexpires = 2027-01-31\n',
        encoding="utf-8",
    )
    lines = tmp_path / "waived.jsonl"
    argv = ["check", "--snapshot", str(folder), "--jsonl", str(lines), "--quiet"]
    main([*argv, "--waivers", str(waivers), "--today", "2026-12-06"])
    waived = {line["device"] for line in _lines(lines) for e in line["results"] if e["status"] == "waived"}
    # A line names its device "device 'NAME' (id)".
    expected = {device for device, rules in before.items() if rule in rules and device.split("'")[1] in in_group}
    assert waived == expected and waived
    bad = tmp_path / "bad.toml"
    bad.write_text(waivers.read_text(encoding="utf-8").replace(group, group[:-1] + "x"), encoding="utf-8")
    assert main([*argv, "--waivers", str(bad)]) == 2
