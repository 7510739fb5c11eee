"""``pull`` end to end against a local Graph on 127.0.0.1: a generated tenant (tens of policies
of every kind, hundreds of groups, thousands of devices) pulled to a snapshot that the
importers read back to the same policies and devices; resume after a failure; secrets kept out
of every request, file and output; the command line's exit codes and messages."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest
from graph_fake import CUSTOM_TYPE, LocalGraph, Tenant, once, throttled
from werkzeug import Response

from bitlocker_rules.cli import main
from bitlocker_rules.importers import import_devices, import_policies
from bitlocker_rules.tenant import Pacing, PullOptions, TenantError, pull, read_manifest
from bitlocker_rules.tenant.endpoints import path_segment
from bitlocker_rules.tenant.pull import Puller
from bitlocker_rules.tenant.signin import EnvironmentToken

TOKENS = EnvironmentToken("GRAPH_TOKEN", {"GRAPH_TOKEN": "good-token"})


def quick() -> Pacing:
    return Pacing(sleep=lambda seconds: None)


def records(folder: Path, kind: str) -> list[dict]:
    return [json.loads(line) for line in (folder / f"{kind}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def big():
    """A generated tenant, served and pulled once for the tests that read the result."""
    tenant = Tenant(seed=7, policies=24, groups=200, devices=2000)
    local = LocalGraph(tenant, page_size=200)
    yield local
    local.stop()


@pytest.fixture(scope="module")
def pulled(big, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pull") / "snapshot"
    result = pull(PullOptions(folder, big.url, concurrency=4), TOKENS, pacing=quick())
    return folder, result


# ---------------------------------------------------------------------------------------------
# What a pull writes


def _bitlocker_policies(tenant: Tenant) -> dict[str, dict]:
    """The policies the generator made that a pull must keep, by id."""
    kept = {}
    for p in tenant.device_configurations:
        if p["@odata.type"] == CUSTOM_TYPE:
            if any(s["omaUri"].startswith("./Device/Vendor/MSFT/BitLocker/") for s in p["omaSettings"]):
                kept[p["id"]] = p
        elif p["@odata.type"].endswith("EndpointProtectionConfiguration"):
            kept[p["id"]] = p
    for p in tenant.configuration_policies:
        bitlocker = p["settings"][0]["settingInstance"]["settingDefinitionId"].startswith(
            "device_vendor_msft_bitlocker_"
        )
        if p["platforms"] == "windows10" and bitlocker:
            kept[p["id"]] = p
    for p in tenant.intents:
        if p["templateId"] == tenant.templates[0]["id"]:
            kept[p["id"]] = p
    return kept


def test_the_snapshot_is_complete_and_counted(pulled, big):
    folder, result = pulled
    manifest = read_manifest(folder)
    assert manifest["complete"] is True and manifest["error"] is None
    assert manifest["graph_url"] == big.url and manifest["schema_version"] == 1
    for kind, entry in manifest["kinds"].items():
        assert len(records(folder, kind)) == entry["count"] == result.counts[kind], kind
    tenant = big.fake.tenant
    assert manifest["kinds"]["managed_devices"]["count"] == len(tenant.managed_devices) == 2000
    assert manifest["kinds"]["encryption_states"]["count"] == 2000
    assert manifest["kinds"]["recovery_keys"]["count"] == len(tenant.recovery_keys)
    assert manifest["kinds"]["managed_devices"]["api_version"] == "beta"
    assert manifest["kinds"]["recovery_keys"]["api_version"] == "v1.0"
    assert not list(folder.glob("*.partial")) and not list(folder.glob(".*.tmp"))


def test_only_bitlocker_policies_are_kept_with_their_assignments(pulled, big):
    folder, _ = pulled
    tenant = big.fake.tenant
    expected = _bitlocker_policies(tenant)
    got = {
        r["id"]
        for kind in ("device_configurations", "configuration_policies", "intents")
        for r in records(folder, kind)
    }
    assert got == set(expected)
    assignments = {
        (a["@bitlockerRules.policy"]["id"], json.dumps(a["target"], sort_keys=True))
        for kind in ("device_configuration_assignments", "configuration_policy_assignments", "intent_assignments")
        for a in records(folder, kind)
    }
    assert assignments == {
        (pid, json.dumps(a["target"], sort_keys=True)) for pid in expected for a in tenant.assignments[pid]
    }
    for intent in records(folder, "intents"):  # settings read from /intents/{id}/settings
        assert intent["settings"] == expected[intent["id"]]["settings"]
    skipped = {entry["why"] for entry in read_manifest(folder)["skipped"]}
    assert "no BitLocker setting" in skipped  # what was left out is said


def test_groups_filters_and_members_are_those_the_assignments_name(pulled, big):
    folder, _ = pulled
    tenant = big.fake.tenant
    targets = [a["target"] for pid in _bitlocker_policies(tenant) for a in tenant.assignments[pid]]
    groups = {t["groupId"] for t in targets if "groupId" in t}
    assert {g["id"] for g in records(folder, "groups")} == groups
    assert {f["id"] for f in records(folder, "assignment_filters")} == {
        t["deviceAndAppManagementAssignmentFilterId"]
        for t in targets
        if "deviceAndAppManagementAssignmentFilterId" in t
    }
    assert all("rule" in f for f in records(folder, "assignment_filters"))  # the filter's rule is recorded
    members = defaultdict(set)
    for m in records(folder, "group_members"):
        members[m["@bitlockerRules.groupId"]].add(m["deviceId"])
    assert {g: members[g] for g in groups} == {g: {d["deviceId"] for d in tenant.members[g]} for g in groups}
    asked = [r[1] for r in big.fake.requests if r[0].endswith("/transitiveMembers/microsoft.graph.device")]
    assert asked and all(a.get("$top") == "999" for a in asked)


def _values(imported) -> list:
    return [(item.facts.values, getattr(item, "policy_type", None)) for item in imported]


def test_the_importers_read_the_snapshot_as_the_generated_tenant(pulled, big):
    folder, _ = pulled
    tenant = big.fake.tenant
    expected = _bitlocker_policies(tenant)
    for kind in ("device_configurations", "configuration_policies"):
        for record in records(folder, kind):
            assert _values(import_policies(record)) == _values(import_policies(expected[record["id"]])), record["id"]
    devices = {d["id"]: d for d in tenant.managed_devices}
    for record in records(folder, "managed_devices"):
        assert _values(import_devices(record)) == _values(import_devices(devices[record["id"]]))
        assert "hardwareInformation" in record and "deviceHealthAttestationState" in record
    states = {s["id"]: s for s in tenant.encryption_states}
    for record in records(folder, "encryption_states"):
        assert _values(import_devices(record)) == _values(import_devices(states[record["id"]]))
    by_device = defaultdict(list)
    for key in records(folder, "recovery_keys"):
        by_device[key["deviceId"]].append(key)
    generated = defaultdict(list)
    for key in tenant.recovery_keys:
        generated[key["deviceId"]].append(key)
    assert by_device.keys() == generated.keys()
    for device_id, keys in by_device.items():
        assert _values(import_devices(keys)) == _values(import_devices(generated[device_id]))
        assert _values(import_devices(keys))[0][0]["device.recovery_keys"]


def test_only_the_properties_the_importers_read_are_asked_for(pulled, big):
    folder, _ = pulled
    profile = next(r for r in records(folder, "device_configurations") if "bitLockerEncryptDevice" in r)
    assert "firewallBlockStatefulFTP" not in profile  # $select left it out
    device = records(folder, "managed_devices")[0]
    assert "notes" not in device
    selects = {
        r[1].get("$select", "") for r in big.fake.requests if r[0].startswith("/beta/deviceManagement/managedDevices/")
    }
    assert len(selects) == 1 and "hardwareInformation" in next(iter(selects))


def test_no_request_asks_for_a_recovery_key_value(pulled, big):
    asked = [r for r in big.fake.requests if "recoveryKeys" in r[0]]
    assert asked and all(r[0] == "/v1.0/informationProtection/bitlocker/recoveryKeys" for r in asked)
    for path, args, _headers in big.fake.requests:
        selected = [s.strip().lower() for s in args.get("$select", "").split(",")]
        assert "key" not in selected, (path, args)
    assert all(r[2].get("Ocp-Client-Name") for r in asked)  # the headers the API requires


# ---------------------------------------------------------------------------------------------
# Failures and resume


@pytest.fixture
def small():
    local = LocalGraph(Tenant(seed=3, policies=4, groups=20, devices=120), page_size=50)
    yield local
    local.stop()


def _changed_tenant() -> Tenant:
    return Tenant(seed=3, policies=4, groups=6, devices=20)


def _pull_of(tenant: Tenant, folder: Path) -> list[str]:
    """``tenant`` served by a local Graph and pulled into ``folder``: the paths it was asked for."""
    local = LocalGraph(tenant, page_size=10)
    try:
        pull(PullOptions(folder, local.url, concurrency=1), TOKENS, pacing=quick())
        return [path for path, _, _ in local.fake.requests]
    finally:
        local.stop()


def test_an_id_that_is_no_url_segment_is_asked_for_percent_encoded(tmp_path):
    # An id from an answer was put into the next request's path as it was: a character that is
    # not ASCII ended the pull in "internal error (UnicodeEncodeError ...)", and `?` or `#`
    # would have sent the request elsewhere. The request now reaches that object.
    tenant = _changed_tenant()
    policy = next(p for p in tenant.device_configurations if p["id"] in _bitlocker_policies(tenant))
    old, new = policy["id"], "pol?x=1#frag \u00e9\u2067"
    policy["id"] = new
    tenant.assignments[new] = tenant.assignments.pop(old)
    asked = _pull_of(tenant, tmp_path / "snapshot")
    assert f"/beta/deviceManagement/deviceConfigurations/{new}" in asked
    assert new in {p["id"] for p in records(tmp_path / "snapshot", "device_configurations")}
    assigned = records(tmp_path / "snapshot", "device_configuration_assignments")
    assert {a["@bitlockerRules.policy"]["id"] for a in assigned} >= {new}


@pytest.mark.parametrize(
    "item_id, segment",
    [
        ("0b4f1a3e-7c2d-4e59-9a61-3f2b8c0d7e15_2", "0b4f1a3e-7c2d-4e59-9a61-3f2b8c0d7e15_2"),
        ("../../me", "..%2F..%2Fme"),
        ("a?b#c d", "a%3Fb%23c%20d"),
        ("\u2067", "%E2%81%A7"),
        ("\ud800x", "%ED%A0%80x"),  # half a surrogate pair: quoted, never an encoding error
    ],
)
def test_an_id_is_one_path_segment_whatever_it_holds(item_id, segment):
    assert path_segment(item_id) == segment


def test_a_lone_surrogate_in_an_answer_is_kept_as_its_escape(tmp_path, capsys):
    # JSON may escape half a surrogate pair ("\ud800"), which no UTF-8 file can hold: writing the
    # snapshot ended in "internal error (UnicodeEncodeError ...)". The line keeps the escape, and
    # the snapshot is checked with the name shown escaped.
    tenant = _changed_tenant()
    tenant.managed_devices[0]["deviceName"] = "PC-\ud800-1"
    folder = tmp_path / "snapshot"
    _pull_of(tenant, folder)
    assert '"PC-\\ud800-1"' in (folder / "managed_devices.jsonl").read_text(encoding="utf-8")
    assert records(folder, "managed_devices")[0]["deviceName"] == "PC-\ud800-1"
    code = main(["check", "--snapshot", str(folder), "--rules", "silent_enablement", "--verbose"])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2) and "Traceback" not in err
    assert "\ud800" not in out + err  # a lone surrogate is never printed raw


def test_control_characters_graph_sends_raw_are_written_as_their_escapes(tmp_path):
    # Graph writes text that is not ASCII as UTF-8, not as escapes. A bidi override (U+202E) or a
    # C1 code (U+009B) in a name reached the snapshot file raw, in the lines kept as Graph wrote
    # them (the encryption states here) and in the lines encoded again (the managed devices,
    # whose pages the scrub reads): opened in a terminal or an editor, the file reordered or drove
    # what showed. Each is now its JSON escape, which reads back as the same value.
    tenant = _changed_tenant()
    names = ["PC-\u202eexe.1", "PC-\u009b31m-15", "PC-\u007f-5"]  # DEL: the one raw control ASCII JSON holds
    tenant.managed_devices[0]["deviceName"] = names[0]
    tenant.encryption_states[15]["deviceName"] = names[1]
    tenant.encryption_states[5]["deviceName"] = names[2]
    local = LocalGraph(tenant, page_size=10)

    def raw_utf8(request):
        found = local.fake.route(request) if request.method == "GET" else None
        if found is None or "value" not in found:
            return None
        return Response(json.dumps(found, ensure_ascii=False, separators=(",", ":")), content_type="application/json")

    local.fake.faults.append(raw_utf8)
    folder = tmp_path / "snapshot"
    try:
        pull(PullOptions(folder, local.url, concurrency=1), TOKENS, pacing=quick())
    finally:
        local.stop()
    for kind, name in zip(("managed_devices", "encryption_states", "encryption_states"), names):
        text = (folder / f"{kind}.jsonl").read_text(encoding="utf-8")
        assert name not in text and json.dumps(name) in text, kind
        assert name in {r["deviceName"] for r in records(folder, kind)}


def test_a_failure_quoting_half_a_surrogate_pair_is_kept_in_the_manifest(tmp_path):
    # The reason a pull stopped can quote what Graph sent; the manifest could not be written.
    from bitlocker_rules.tenant.snapshot import Snapshot

    snapshot = Snapshot.create(tmp_path / "snapshot", "https://graph.microsoft.com", None, "0")
    snapshot.fail("Graph refused device \ud800x", {})
    assert read_manifest(tmp_path / "snapshot")["error"] == "Graph refused device \ud800x"


def test_a_filter_id_that_is_no_string_is_not_asked_for_and_the_check_says_so(tmp_path, capsys):
    # Sorting the filter ids to ask for ended in "internal error (TypeError ...)" with a number
    # among string ids. It is not asked for; the check of the snapshot names the filter it lacks.
    tenant = _changed_tenant()
    kept = _bitlocker_policies(tenant)
    targets = sorted(
        (
            a["target"]
            for policy_id, assignments in tenant.assignments.items()
            if policy_id in kept
            for a in assignments
        ),
        key=lambda target: not target.get("deviceAndAppManagementAssignmentFilterId"),
    )
    targets[0]["deviceAndAppManagementAssignmentFilterId"] = 7  # the others keep their string ids
    folder = tmp_path / "snapshot"
    _pull_of(tenant, folder)
    assert read_manifest(folder)["complete"] is True
    code = main(["check", "--snapshot", str(folder), "--rules", "silent_enablement"])
    _, err = capsys.readouterr()
    assert code in (0, 1) and "assignment filter `7` is not evaluated" in err
    assert "the snapshot does not hold this filter" in err


def test_a_failed_pull_is_marked_incomplete_and_resume_finishes_it(small, tmp_path):
    folder = tmp_path / "snapshot"
    small.fake.denied = {"DeviceManagementManagedDevices.Read.All"}
    with pytest.raises(TenantError) as caught:
        pull(PullOptions(folder, small.url), TOKENS, pacing=quick())
    assert "DeviceManagementManagedDevices.Read.All" in caught.value.render()
    manifest = read_manifest(folder)
    assert manifest["complete"] is False and "DeviceManagementManagedDevices.Read.All" in manifest["error"]
    assert [u for u, e in manifest["units"].items() if e["complete"]] == [
        "device_configurations",
        "configuration_policies",
        "intents",
        "assignment_filters",
        "groups",
    ]
    assert not (folder / "managed_devices.jsonl").exists() and not list(folder.glob("*.partial"))

    small.fake.denied = set()
    small.fake.requests.clear()
    result = pull(PullOptions(folder, small.url, resume=True), TOKENS, pacing=quick())
    manifest = read_manifest(folder)
    assert manifest["complete"] is True and manifest["error"] is None
    assert result.counts["managed_devices"] == 120
    assert not any("deviceConfigurations" in r[0] or "/groups/" in r[0] for r in small.fake.requests)
    fresh = tmp_path / "fresh"
    pull(PullOptions(fresh, small.url), TOKENS, pacing=quick())
    for kind in manifest["kinds"]:
        assert records(folder, kind) == records(fresh, kind), kind


def test_a_snapshot_never_says_complete_while_it_is_written(small, tmp_path):
    folder = tmp_path / "snapshot"
    seen = []

    def look(line: str) -> None:
        seen.append(json.loads((folder / "manifest.json").read_text())["complete"])

    pull(PullOptions(folder, small.url), TOKENS, pacing=quick(), progress=look, progress_interval=0)
    assert seen and not any(seen)
    assert read_manifest(folder)["complete"] is True


def test_an_interrupted_pull_says_so(small, tmp_path):
    folder = tmp_path / "snapshot"

    def stop(line: str) -> None:
        if "managed_devices 10" in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pull(PullOptions(folder, small.url), TOKENS, pacing=quick(), progress=stop, progress_interval=0)
    manifest = read_manifest(folder)
    assert manifest["complete"] is False and manifest["error"] == "interrupted"
    assert "managed_devices" not in manifest["kinds"]


def test_a_group_deleted_during_the_pull_has_no_members_and_a_note(small, tmp_path):
    gone = next(
        t["groupId"] for a in small.fake.tenant.assignments.values() for t in (x["target"] for x in a) if "groupId" in t
    )
    members = f"/v1.0/groups/{gone}/transitiveMembers/microsoft.graph.device"
    small.fake.faults.append(once(lambda r: r.path == members, lambda r: Response(status=404), times=99))
    pull(PullOptions(tmp_path / "s", small.url), TOKENS, pacing=quick())
    manifest = read_manifest(tmp_path / "s")
    assert manifest["complete"] is True
    assert gone in {g["id"] for g in records(tmp_path / "s", "groups")}
    assert gone not in {m["@bitlockerRules.groupId"] for m in records(tmp_path / "s", "group_members")}
    assert any(e["what"] == gone and "deleted during the pull" in e["why"] for e in manifest["skipped"])


def test_a_group_deleted_since_its_assignment_is_skipped_with_the_reason(small, tmp_path):
    gone = next(
        t["groupId"] for a in small.fake.tenant.assignments.values() for t in (x["target"] for x in a) if "groupId" in t
    )
    small.fake.faults.append(once(lambda r: r.path == f"/v1.0/groups/{gone}", lambda r: Response(status=404), times=99))
    pull(PullOptions(tmp_path / "s", small.url), TOKENS, pacing=quick())
    manifest = read_manifest(tmp_path / "s")
    assert manifest["complete"] is True
    assert {
        "unit": "groups",
        "kind": "groups",
        "what": gone,
        "why": "named by an assignment but not found (404): deleted?",
    } in manifest["skipped"]


def test_resume_refuses_what_it_cannot_continue(small, tmp_path):
    folder = tmp_path / "snapshot"
    pull(PullOptions(folder, small.url), TOKENS, pacing=quick())
    with pytest.raises(TenantError, match="nothing to resume"):
        pull(PullOptions(folder, small.url, resume=True), TOKENS, pacing=quick())
    with pytest.raises(TenantError, match="not empty"):
        pull(PullOptions(folder, small.url), TOKENS, pacing=quick())
    with pytest.raises(TenantError, match="no snapshot"):
        pull(PullOptions(tmp_path, small.url, resume=True), TOKENS, pacing=quick())


# ---------------------------------------------------------------------------------------------
# The command line


def test_pull_on_the_command_line(small, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRAPH_TOKEN", "good-token")
    out = tmp_path / "snapshot"
    code = main(["pull", "--out", str(out), "--auth", "token-env", "GRAPH_TOKEN", "--graph-url", small.url])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert lines[0] == f"Snapshot complete: {out}"
    assert "  managed_devices                       120" in lines
    code = main(
        [
            "pull",
            "--out",
            str(tmp_path / "q"),
            "--auth",
            "token-env",
            "GRAPH_TOKEN",
            "--graph-url",
            small.url,
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0 and captured.out == "" and captured.err == ""


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda f: f.denied.add("BitLockerKey.ReadBasic.All"), [], "this call needs BitLockerKey.ReadBasic.All"),
        (lambda f: f.tokens.clear(), [], "refused the access token"),
        (lambda f: None, ["--graph-url", "graph.microsoft.com"], "is not a Graph service root"),
        (lambda f: None, ["--auth", "token-env", "UNSET_VARIABLE"], "UNSET_VARIABLE holds no token"),
        (lambda f: f.faults.append(lambda r: Response("<html>", status=502)), [], "Graph kept failing: HTTP 502"),
    ],
)
def test_pull_failures_are_one_clear_message_and_exit_2(small, tmp_path, monkeypatch, capsys, setup, args, message):
    monkeypatch.setenv("GRAPH_TOKEN", "good-token")
    monkeypatch.setattr("bitlocker_rules.cli.pull.Pacing", lambda timeout: quick())
    setup(small.fake)
    base = ["pull", "--out", str(tmp_path / "s"), "--auth", "token-env", "GRAPH_TOKEN", "--graph-url", small.url]
    code = main(base + args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err and "good-token" not in err


# ---------------------------------------------------------------------------------------------
# Concurrency, expanded collections, progress


def test_requests_in_flight_never_exceed_the_concurrency(small, tmp_path):
    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def slow(request):
        if request.path.startswith("/beta/deviceManagement/managedDevices/"):
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            time.sleep(0.01)
            with lock:
                state["now"] -= 1

    small.fake.faults.append(slow)
    pull(PullOptions(tmp_path / "s", small.url, concurrency=3), TOKENS, pacing=quick())
    assert state["most"] == 3  # in parallel, and never more than asked


def test_an_expanded_collection_is_paged_to_its_end(small, tmp_path):
    small.fake.expand_page_size = 1
    pull(PullOptions(tmp_path / "s", small.url), TOKENS, pacing=quick())
    tenant = small.fake.tenant
    kept = _bitlocker_policies(tenant)
    assert sum(len(tenant.assignments[p]) > 1 for p in kept)  # the test has something to page
    got = defaultdict(list)
    for kind in ("device_configuration_assignments", "configuration_policy_assignments", "intent_assignments"):
        for a in records(tmp_path / "s", kind):
            got[a["@bitlockerRules.policy"]["id"]].append(a["id"])
    assert dict(got) == {p: [a["id"] for a in tenant.assignments[p]] for p in kept if tenant.assignments[p]}
    assert not any("@odata.nextLink" in json.dumps(r) for r in records(tmp_path / "s", "device_configurations"))


def test_progress_tells_requests_records_and_throttling_waits(small, tmp_path):
    small.fake.faults.append(once(lambda r: r.path.endswith("/managedDevices"), lambda r: throttled(429, "9")))
    lines: list[str] = []
    pull(PullOptions(tmp_path / "s", small.url), TOKENS, pacing=quick(), progress=lines.append, progress_interval=3600)
    waits = [line for line in lines if "waiting 9 s (throttled)" in line]
    assert len(waits) == 1 and re.match(
        r"\d+ requests, throttled 1×; device_configuration_assignments \d+, device_configurations \d+", waits[0]
    )
    assert len(lines) == 2  # the first line, then only the wait: the interval holds the others back


def test_an_object_without_an_id_is_a_clear_error(small, tmp_path, monkeypatch, capsys):
    page = '{"value": [{"displayName": "no id"}]}'
    small.fake.faults.append(
        lambda r: Response(page, content_type="application/json") if r.path.endswith("/managedDevices") else None
    )
    monkeypatch.setenv("GRAPH_TOKEN", "good-token")
    code = main(["pull", "--out", str(tmp_path / "s"), "--auth", "token-env", "GRAPH_TOKEN", "--graph-url", small.url])
    err = capsys.readouterr().err
    assert code == 2 and "an object without an id" in err and "Traceback" not in err


def test_a_snapshot_changed_by_hand_is_refused_clearly(small, tmp_path):
    folder = tmp_path / "snapshot"
    small.fake.denied = {"GroupMember.Read.All"}
    with pytest.raises(TenantError):
        pull(PullOptions(folder, small.url), TOKENS, pacing=quick())
    small.fake.denied = set()
    (folder / "intent_assignments.jsonl").unlink()  # a unit the groups are read from
    with pytest.raises(TenantError, match=r"intent_assignments\.jsonl cannot be read back"):
        pull(PullOptions(folder, small.url, resume=True), TOKENS, pacing=quick())
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "units": []}))
    with pytest.raises(TenantError, match=r"manifest.json is damaged \(units\)"):
        pull(PullOptions(folder, small.url, resume=True), TOKENS, pacing=quick())


def test_the_snapshot_devices_are_a_fleet_check_fleet_reads(small, tmp_path):
    folder = tmp_path / "snapshot"
    pull(PullOptions(folder, small.url), TOKENS, pacing=quick())
    report = tmp_path / "fleet.json"
    policy = str(Path(__file__).resolve().parents[1] / "examples" / "policy-silent.json")
    fleet = str(folder / "managed_devices.jsonl")
    code = main(["check", "--fleet", fleet, "--policy", policy, "--format", "json", "--output", str(report), "--quiet"])
    assert code in (0, 1)
    summary = json.loads(report.read_text())
    assert summary["devices"] == 120, summary.keys()


def test_a_refused_select_reads_the_whole_object_and_says_so(small, tmp_path):
    def strict(request):  # a Graph that will not select a derived type's properties from the base set
        if "bitLockerEncryptDevice" in request.args.get("$select", ""):
            return Response('{"error": {"code": "BadRequest", "message": "Could not find a property"}}', status=400)
        return None

    small.fake.faults.append(strict)
    pull(PullOptions(tmp_path / "s", small.url), TOKENS, pacing=quick())
    profiles = [r for r in records(tmp_path / "s", "device_configurations") if "bitLockerEncryptDevice" in r]
    assert len(profiles) == 4 and all("firewallBlockStatefulFTP" in p for p in profiles)  # whole
    notes = [s for s in read_manifest(tmp_path / "s")["skipped"] if s["why"].startswith("read whole")]
    assert {n["what"] for n in notes} == {p["id"] for p in profiles}
    assert "Could not find a property" in notes[0]["why"]


def test_a_device_batch_graph_refuses_as_asked_is_read_a_device_at_a_time(small, tmp_path):
    refused = {d["id"] for d in small.fake.tenant.managed_devices[:3]}

    def strict(request):  # a Graph that will not select some property of these devices
        if request.path.rsplit("/", 1)[-1] in refused and "$select" in request.args:
            return Response('{"error": {"code": "BadRequest", "message": "Could not find a property"}}', status=400)
        return None

    small.fake.faults.append(strict)
    pull(PullOptions(tmp_path / "s", small.url), TOKENS, pacing=quick())
    devices = {r["id"]: r for r in records(tmp_path / "s", "managed_devices")}
    assert len(devices) == len(small.fake.tenant.managed_devices)  # none lost, none doubled
    assert all("hardwareInformation" in devices[i] for i in refused)  # read whole, alone
    notes = [s for s in read_manifest(tmp_path / "s")["skipped"] if s["why"].startswith("read whole")]
    assert {n["what"] for n in notes} == refused


def test_a_device_read_in_a_batch_asks_what_its_call_asks():
    # item_target is item(...).target() without the Call: the query of a batched read is the call's
    from bitlocker_rules import shipped_vocabulary
    from bitlocker_rules.importers.origins import index_for
    from bitlocker_rules.tenant.endpoints import calls_for

    calls = calls_for(index_for(shipped_vocabulary()))
    for call in (calls.managed_device, calls.managed_devices, calls.recovery_keys):
        assert call.item_target("0000-id") == call.item("0000-id").target()
        assert "%24select=" in call.item_target("0000-id")


def test_concurrent_reads_come_back_in_order_and_the_first_failure_stops_the_rest():
    puller = SimpleNamespace(concurrency=3)
    assert Puller.concurrently(puller, lambda n: n * n, range(40)) == [n * n for n in range(40)]
    started: list[int] = []
    gate = threading.Event()

    def read(n: int) -> int:
        started.append(n)
        if n == 1:
            raise ValueError("item 1")
        gate.wait(5)  # the others hold their worker until the failure is seen
        return n

    threading.Timer(0.5, gate.set).start()
    with pytest.raises(ValueError, match="item 1"):
        Puller.concurrently(puller, read, range(40))
    assert len(started) < 40  # what had not started was cancelled
