"""``apply DIR`` against the local Graph: a repair emitted for pulled policies of every kind is
shown (dry run, nothing written), then sent with --yes, and a second pull finds the tenant with
exactly the repaired settings; the permission and the targets are checked before any write."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from graph_fake import PLANTED_KEY, WRITE_PERMISSION, LocalGraph, Tenant, once
from werkzeug import Response

from bitlocker_rules import shipped_vocabulary
from bitlocker_rules.cli import main
from bitlocker_rules.emit import emit_repair, write_emitted
from bitlocker_rules.importers import import_policy
from bitlocker_rules.snapshot import intent_as_profile
from bitlocker_rules.tenant import Pacing, PullOptions, pull
from bitlocker_rules.tenant.signin import EnvironmentToken

VOCABULARY = shipped_vocabulary()
TOKENS = EnvironmentToken("GRAPH_TOKEN", {"GRAPH_TOKEN": "good-token"})
ROOT = Path(__file__).resolve().parent.parent


def records(folder: Path, kind: str) -> list[dict]:
    return [json.loads(line) for line in (folder / f"{kind}.jsonl").read_text(encoding="utf-8").splitlines()]


def pulled(local: LocalGraph, folder: Path) -> dict[str, dict]:
    """The tenant's BitLocker policies as a pull writes them, by id."""
    pull(PullOptions(folder, local.url, concurrency=2), TOKENS, pacing=Pacing(sleep=lambda s: None))
    found = records(folder, "device_configurations") + records(folder, "configuration_policies")
    return {p["id"]: p for p in found}


def jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.c2ln"


def other(fact_name: str, value) -> object:
    """A different value of the fact that each shape can write."""
    members = VOCABULARY.facts[fact_name].type.enum.member_names
    return sorted((m for m in members if m != value), key=lambda m: m == "NotConfigured")[0]


@pytest.fixture
def graph():
    local = LocalGraph(Tenant(seed=3, policies=6, groups=10, devices=30), page_size=50)
    yield local
    local.stop()


@pytest.fixture
def emitted(graph, tmp_path):
    """A repair of one pulled policy of each kind, emitted into a folder: (folder, expected settings by id)."""
    before = pulled(graph, tmp_path / "before")
    chosen: dict[str, dict] = {}
    for record in before.values():
        policy = import_policy(record, VOCABULARY, origin="snapshot")
        if policy.kind in chosen or "policy.require_device_encryption" not in policy.facts.values:
            continue
        fact = (
            "policy.tpm_startup_pin"
            if policy.kind == "graph-endpoint-protection"
            else "policy.require_device_encryption"
        )
        if fact not in policy.facts.values:
            continue
        change = {fact: other(fact, policy.facts.values[fact])}
        chosen[policy.kind] = {"record": record, "policy": policy, "change": change}
    assert set(chosen) == {"graph-endpoint-protection", "settings-catalog", "custom-oma-uri"}
    requests = [e for c in chosen.values() for e in emit_repair([(c["record"], c["policy"])], c["change"], VOCABULARY)]
    folder = tmp_path / "emitted"
    write_emitted(folder, requests)
    expected = {c["policy"].policy_id: {**c["policy"].facts.values, **c["change"]} for c in chosen.values()}
    return folder, expected


def run_apply(graph, folder: Path, monkeypatch, *extra: str, token: str = "good-token") -> int:
    monkeypatch.setenv("GRAPH_TOKEN", token)
    return main(["apply", str(folder), "--auth", "token-env", "GRAPH_TOKEN", "--graph-url", graph.url, *extra])


def test_dry_run_shows_each_request_and_writes_nothing(graph, emitted, monkeypatch, capsys):
    folder, expected = emitted
    assert run_apply(graph, folder, monkeypatch) == 0
    out = capsys.readouterr().out
    assert out.startswith("Dry run: nothing was sent (--yes sends these requests).")
    assert "Permission: not checked: the token is not a JWT" in out
    for policy_id in expected:
        assert f"{graph.url}/beta/deviceManagement/" in out and policy_id in out
    assert out.count("PATCH ") == 2 and out.count("PUT ") == 1
    assert out.count('"@odata.type": "#microsoft.graph.windows10') == 2  # each body shown
    assert "  done" not in out
    assert graph.fake.writes == []


def test_apply_yes_then_pull_finds_the_repaired_settings(graph, emitted, monkeypatch, capsys, tmp_path):
    folder, expected = emitted
    assert run_apply(graph, folder, monkeypatch, "--yes") == 0
    out = capsys.readouterr().out
    assert out.startswith("Sent 3 requests to Graph.")
    assert sorted(m for m, _, _ in graph.fake.writes) == ["PATCH", "PATCH", "PUT"]
    after = pulled(graph, tmp_path / "after")
    for policy_id, settings in expected.items():
        assert dict(import_policy(after[policy_id], VOCABULARY, origin="after").facts.values) == settings


def test_a_token_without_the_write_permission_sends_nothing(graph, emitted, monkeypatch, capsys):
    folder, _ = emitted
    token = jwt({"roles": ["DeviceManagementConfiguration.Read.All"], "tid": "t"})
    graph.fake.tokens.add(token)
    assert run_apply(graph, folder, monkeypatch, "--yes", token=token) == 2
    err = capsys.readouterr().err
    assert f"apply needs {WRITE_PERMISSION}" in err and "it has DeviceManagementConfiguration.Read.All" in err
    assert graph.fake.writes == []


def test_a_token_with_the_write_permission_is_said_so(graph, emitted, monkeypatch, capsys):
    folder, _ = emitted
    token = jwt({"scp": f"openid {WRITE_PERMISSION}", "tid": "t"})
    graph.fake.tokens.add(token)
    assert run_apply(graph, folder, monkeypatch, "--yes", token=token) == 0
    assert f"Permission: the token carries {WRITE_PERMISSION}." in capsys.readouterr().out
    assert len(graph.fake.writes) == 3


def test_graph_refusing_the_write_names_the_permission(graph, emitted, monkeypatch, capsys):
    folder, _ = emitted
    graph.fake.denied = {WRITE_PERMISSION}
    assert run_apply(graph, folder, monkeypatch, "--yes") == 2
    err = capsys.readouterr().err
    assert "403" in err and f"this call needs {WRITE_PERMISSION}" in err


def test_a_write_refused_midway_says_what_the_tenant_now_holds(graph, emitted, monkeypatch, capsys):
    # A refusal stopped the run with Graph's words alone: the requests already sent (the tenant
    # has their changes) and those never sent went unsaid. The adversarial tenant family's
    # apply cases showed it.
    folder, _ = emitted
    files = sorted(folder.glob("*.json"))
    refused = json.loads(files[1].read_text())["url"]
    graph.fake.faults.append(
        once(lambda r: r.method != "GET" and r.path == refused, lambda r: Response("{}", status=409), times=99)
    )
    assert run_apply(graph, folder, monkeypatch, "--yes") == 2
    err = capsys.readouterr().err
    assert len(graph.fake.writes) == 1  # the first file's request, then the refusal
    assert "1 request(s) before this one were sent, and the tenant has their changes: " in err
    assert str(files[0].relative_to(folder.parent)) in err or files[0].name in err
    assert "1 request(s) after it were not sent" in err
    assert "apply sends the same requests again, in the same order" in err


def test_every_target_is_read_before_anything_is_written(graph, emitted, monkeypatch, capsys):
    folder, _ = emitted
    last = sorted(folder.glob("*.json"))[-1]
    data = json.loads(last.read_text())
    data["url"] = data["url"].rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    last.write_text(json.dumps(data))
    assert run_apply(graph, folder, monkeypatch, "--yes") == 2
    assert "not found" in capsys.readouterr().err
    assert graph.fake.writes == []


def test_a_file_for_another_kind_of_policy_is_refused(graph, emitted, monkeypatch, capsys):
    folder, _ = emitted
    path = next(p for p in folder.glob("*.json") if "graph-endpoint-protection" in p.name)
    data = json.loads(path.read_text())
    data["body"]["@odata.type"] = "#microsoft.graph.windows10CustomConfiguration"
    path.write_text(json.dumps(data))
    assert run_apply(graph, folder, monkeypatch, "--yes") == 2
    assert "is for a windows10CustomConfiguration" in capsys.readouterr().err
    assert graph.fake.writes == []


def test_a_bad_file_is_a_clear_error_before_signing_in(graph, tmp_path, monkeypatch, capsys):
    (tmp_path / "x.json").write_text('{"schema": "bitlocker-rules/emit/1", "policy": {}}')
    assert run_apply(graph, tmp_path, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "x.json: $.policy.id: error[I420]" in err
    assert graph.fake.requests == []


def test_the_project_json_is_named_not_sent(graph, monkeypatch, capsys, tmp_path):
    document = json.loads((ROOT / "examples" / "policy-silent.json").read_text())
    policy = import_policy(document, VOCABULARY, origin="policy-silent.json")
    write_emitted(tmp_path, emit_repair([(document, policy)], {"policy.tpm_startup_pin": "Required"}, VOCABULARY))
    assert run_apply(graph, tmp_path, monkeypatch, "--yes") == 0
    assert "the repaired policy JSON for policy-silent.json, not a Graph request; nothing to send" in (
        capsys.readouterr().out
    )
    assert graph.fake.writes == []


def test_an_encrypted_oma_value_is_kept_by_graph_and_never_in_a_file_or_output(graph, monkeypatch, capsys, tmp_path):
    secret = {
        "@odata.type": "#microsoft.graph.omaSettingString",
        "displayName": "Secret",
        "omaUri": "./Device/Vendor/MSFT/BitLocker/IdentificationField",
        "isEncrypted": True,
        "secretReferenceValueId": "ref-1",
        "value": f"cipher {PLANTED_KEY}",
    }
    profile = next(p for p in graph.fake.tenant.device_configurations if "omaSettings" in p)
    profile["omaSettings"].append(secret)
    record = json.loads(json.dumps(profile))
    policy = import_policy(record, VOCABULARY, origin="snapshot")
    fact = "policy.require_device_encryption"
    change = {fact: other(fact, policy.facts.values.get(fact, "NotConfigured"))}
    write_emitted(tmp_path, emit_repair([(record, policy)], change, VOCABULARY))
    assert PLANTED_KEY[:13] not in next(tmp_path.iterdir()).read_text()
    assert run_apply(graph, tmp_path, monkeypatch) == 0
    assert PLANTED_KEY[:13] not in capsys.readouterr().out
    assert run_apply(graph, tmp_path, monkeypatch, "--yes") == 0
    assert profile["omaSettings"][-1]["value"] == f"cipher {PLANTED_KEY}"


def test_an_intent_is_updated_by_its_update_settings_action_and_pulled_back(graph, monkeypatch, capsys, tmp_path):
    """A pulled disk encryption intent's repair goes as POST …/intents/{id}/updateSettings; the
    setting of the same definitionId is replaced (not added twice) and a new one added, and the
    next pull reads the intent to exactly the repaired settings."""
    pull(PullOptions(tmp_path / "before", graph.url, concurrency=2), TOKENS, pacing=Pacing(sleep=lambda s: None))
    record = records(tmp_path / "before", "intents")[0]
    policy = import_policy(intent_as_profile(record, []), VOCABULARY, origin="snapshot")
    change = {"policy.require_device_encryption": "NotConfigured", "policy.tpm_startup_pin": "Required"}
    (request,) = emit_repair([(record, policy)], change, VOCABULARY)
    write_emitted(tmp_path / "emitted", [request])
    assert run_apply(graph, tmp_path / "emitted", monkeypatch) == 0
    out = capsys.readouterr().out
    assert f"POST {graph.url}/beta/deviceManagement/intents/{record['id']}/updateSettings" in out
    assert graph.fake.writes == []
    assert run_apply(graph, tmp_path / "emitted", monkeypatch, "--yes") == 0
    assert [(m, p) for m, p, _ in graph.fake.writes] == [
        ("POST", f"/beta/deviceManagement/intents/{record['id']}/updateSettings")
    ]
    pull(PullOptions(tmp_path / "after", graph.url, concurrency=2), TOKENS, pacing=Pacing(sleep=lambda s: None))
    (after,) = [r for r in records(tmp_path / "after", "intents") if r["id"] == record["id"]]
    definitions = [s["definitionId"] for s in after["settings"]]
    assert len(definitions) == len(set(definitions)) == len(record["settings"]) + 1
    back = import_policy(intent_as_profile(after, []), VOCABULARY, origin="after").facts.values
    assert dict(back) == {**policy.facts.values, **change}
