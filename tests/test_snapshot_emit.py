"""``repair --snapshot DIR --emit OUT`` end to end against the local Graph: a pulled tenant whose
startup-PIN setting is in conflict between Endpoint protection profiles and endpoint-security
intents (one holding its drive policy as a complex setting, one as the nested-path setting) is
repaired; the emitted files name each policy by its Graph id and are ``plan --snapshot --patch``
inputs; ``apply --yes`` sends them (PATCH for the profiles, POST updateSettings for the intents);
a second pull then checks, device by device, exactly as the plan said it would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graph_fake import DISK_ENCRYPTION_TEMPLATE, LocalGraph, Tenant
from test_report_formats import load_schema, validate
from test_tenant_pull import TOKENS, quick

from bitlocker_rules import shipped_vocabulary
from bitlocker_rules.cli import main
from bitlocker_rules.emit import read_emitted
from bitlocker_rules.importers import import_policy
from bitlocker_rules.snapshot import intent_as_profile
from bitlocker_rules.tenant import PullOptions, pull

PREFIX = "deviceConfiguration--windows10EndpointProtectionConfiguration_"
ALL_DEVICES = {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}
EXCLUSION = "#microsoft.graph.exclusionGroupAssignmentTarget"
RULES = """ruleset emit_e2e "What the snapshot's repair is for"
rule E-1 "A startup PIN is required"
  require policy.tpm_startup_pin == Required
"""
EXCLUDED = 5  # the first devices, in a group every PIN policy excludes


def _shaped(tenant: Tenant) -> None:
    """The disk encryption intents set the startup PIN (as a complex drive policy, and as a
    nested-path setting); every Endpoint protection profile and intent is assigned to all
    devices but one group, so the devices outside it get the setting in conflict and those in
    it get no value."""
    for number, intent in enumerate(i for i in tenant.intents if i["templateId"] == DISK_ENCRYPTION_TEMPLATE):
        if number % 2 == 0:
            value = {"encryptionMethod": "xtsAes256", "startupAuthenticationTpmPinUsage": "blocked"}
            kind, name = "Complex", "bitLockerSystemDrivePolicy"
        else:
            value, kind, name = "allowed", "String", "bitLockerSystemDrivePolicy_startupAuthenticationTpmPinUsage"
        intent["settings"].append(
            {
                "@odata.type": f"#microsoft.graph.deviceManagement{kind}SettingInstance",
                "id": f"pin-{number}",
                "definitionId": PREFIX + name,
                "valueJson": json.dumps(value),
            }
        )
    group = tenant.groups[0]["id"]
    tenant.members[group] = tenant.entra_devices[:EXCLUDED]
    for policy in tenant.device_configurations + tenant.intents:
        tenant.assignments[policy["id"]] = [
            {"id": f"{policy['id']}_all", "target": ALL_DEVICES},
            {"id": f"{policy['id']}_ex", "target": {"@odata.type": EXCLUSION, "groupId": group}},
        ]


@pytest.fixture(scope="module")
def tenant_graph():
    tenant = Tenant(seed=3, policies=4, groups=10, devices=30)
    _shaped(tenant)
    local = LocalGraph(tenant, page_size=50)
    yield local
    local.stop()


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_pull_repair_plan_apply_pull_checks_as_planned(tenant_graph, tmp_path, monkeypatch, capsys):
    rules = tmp_path / "e2e.rules"
    rules.write_text(RULES)
    before, out, after = tmp_path / "before", tmp_path / "emitted", tmp_path / "after"
    pull(PullOptions(before, tenant_graph.url, concurrency=2), TOKENS, pacing=quick())

    code, text = run(capsys, "repair", "--rules", str(rules), "--snapshot", str(before), "--emit", str(out))
    assert (
        "POST /beta/deviceManagement/intents/" in text and "PATCH /beta/deviceManagement/deviceConfigurations/" in text
    )
    code, report = run(
        capsys, "repair", "--rules", str(rules), "--snapshot", str(before), "--emit", str(out), "--format", "json"
    )
    assert code == 0
    report = json.loads(report)
    assert report["best"]["change"]["fact"] == "policy.tpm_startup_pin"
    assert report["best"]["change"]["new_value"] == "Required"
    # The repair sets the value on every device; the emitted policies reach all but the excluded group.
    assert (report["before"], report["best"]["devices_satisfied"]) == (0, 30)
    emitted = {entry["file"]: read_emitted(entry["file"]) for entry in report["emitted"]}
    schema = load_schema("emit-1.json")
    assert all(validate(json.loads(Path(f).read_text()), schema) == [] for f in emitted)
    intents = {e.policy.id: e for e in emitted.values() if e.method == "POST"}
    profiles = {e.policy.id: e for e in emitted.values() if e.method == "PATCH"}
    stored = {r["id"]: r for r in lines(before / "intents.jsonl")}
    assert set(intents) == {i for i, r in stored.items() if r["templateId"] == DISK_ENCRYPTION_TEMPLATE}
    for policy_id, item in intents.items():  # named by its Graph id, the setting the intent holds updated
        assert item.url == f"/beta/deviceManagement/intents/{policy_id}/updateSettings"
        assert item.policy.kind == "endpoint-security-intent"
        (sent,) = item.body["settings"]
        assert sent["id"].startswith("pin-") and "required" in sent["valueJson"]
    # Every profile that disagrees is changed; one that already requires the PIN is not.
    configurations = {r["id"]: r for r in lines(before / "device_configurations.jsonl")}
    pins = {
        i: r["bitLockerSystemDrivePolicy"]["startupAuthenticationTpmPinUsage"]
        for i, r in configurations.items()
        if "bitLockerSystemDrivePolicy" in r
    }
    assert set(profiles) == {i for i, pin in pins.items() if pin != "required"}
    assert all(e.url.endswith(f"/deviceConfigurations/{i}") for i, e in profiles.items())

    plan_lines = tmp_path / "plan.jsonl"
    patches = [arg for path in sorted(emitted) for arg in ("--patch", path)]
    code, _ = run(
        capsys, "plan", "--rules", str(rules), "--snapshot", str(before), *patches, "--jsonl", str(plan_lines)
    )
    assert code == 0
    planned = {line["row"]: line["verdicts"]["E-1"] for line in lines(plan_lines)}
    assert sorted(planned.values()) == sorted([["unknown", "unknown"]] * EXCLUDED + [["unknown", "pass"]] * 25)

    monkeypatch.setenv("GRAPH_TOKEN", "good-token")
    auth = ["--auth", "token-env", "GRAPH_TOKEN", "--graph-url", tenant_graph.url]
    code, text = run(capsys, "apply", str(out), "--yes", *auth)
    assert code == 0 and text.startswith(f"Sent {len(emitted)} requests to Graph.")
    assert sorted(m for m, _, _ in tenant_graph.fake.writes) == ["PATCH"] * len(profiles) + ["POST"] * len(intents)

    pull(PullOptions(after, tenant_graph.url, concurrency=2), TOKENS, pacing=quick())
    checked_lines = tmp_path / "check.jsonl"
    code, _ = run(capsys, "check", "--rules", str(rules), "--snapshot", str(after), "--jsonl", str(checked_lines))
    checked = {line["row"]: line["results"][0]["status"] for line in lines(checked_lines)}
    assert checked == {row: verdicts[1] for row, verdicts in planned.items()}  # as the plan said, device by device
    vocabulary = shipped_vocabulary()
    for record in lines(after / "intents.jsonl"):
        if record["id"] in intents:
            facts = import_policy(intent_as_profile(record, []), vocabulary, origin="after").facts.values
            assert facts["policy.tpm_startup_pin"] == "Required"


def test_emit_from_standard_input_is_refused_with_why(tmp_path, capsys, monkeypatch):
    device = Path(__file__).resolve().parent.parent / "examples" / "device-legacy.json"
    code = main(["repair", "--policy", "-", "--device", str(device), "--emit", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "standard input (-) has neither" in err and "save it to a file" in err
