"""``diff`` of two snapshots: both checked, their device results compared, and the policies' drift.

A generated tenant is pulled from the local Graph (real HTTP on 127.0.0.1) twice, the second
time read as Graph sends an unchanged tenant again (every list in another order, other pages,
instance ids renumbered, ``version`` and ``lastModifiedDateTime`` moved on): no drift, no device
change. Then one setting of one policy and one of its assignments change: the drift names that
setting (label, before, after) and that assignment, and the device diff exactly the devices the
policy reaches. Hypothesis holds ``policy_drift`` to an oracle written here (a plain comparison
of normalised JSON): drift(A, A) is empty, drift(A, B) names the policies that differ, and
drift(B, A) mirrors it.
"""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path

import pytest
from graph_fake import CUSTOM_TYPE, EP_TYPE, LocalGraph, Tenant
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report_formats import load_schema, validate
from test_tenant_pull import TOKENS, _bitlocker_policies, quick

from bitlocker_rules.cli import main
from bitlocker_rules.history import RunResults, diff_runs, policy_drift, with_drift
from bitlocker_rules.history.drift import IGNORED, SECRET_SHOWN
from bitlocker_rules.report import render_diff
from bitlocker_rules.snapshot import POLICY_ANNOTATION
from bitlocker_rules.tenant import PullOptions, pull
from bitlocker_rules.vocabulary import shipped_vocabulary

GROUP = "#microsoft.graph.groupAssignmentTarget"
ALL_DEVICES = "#microsoft.graph.allDevicesAssignmentTarget"


def _pulled(tenant: Tenant, folder: Path, page_size: int) -> Path:
    local = LocalGraph(tenant, page_size=page_size)
    try:
        pull(PullOptions(folder, local.url, concurrency=3), TOKENS, pacing=quick())
    finally:
        local.stop()
    return folder


def _shaped(tenant: Tenant) -> tuple[dict, str, str]:
    """One Endpoint protection profile (setting ``bitLockerEncryptDevice`` true) that alone
    reaches the members of group A, and group B whose members no policy reaches yet (the
    assignment the test adds). No policy is assigned to all devices."""
    kept = _bitlocker_policies(tenant)
    chosen = next(p for p in tenant.device_configurations if p["@odata.type"] == EP_TYPE and p["id"] in kept)
    chosen["bitLockerEncryptDevice"] = True
    group_a, group_b = tenant.groups[0]["id"], tenant.groups[1]["id"]
    for assignments in tenant.assignments.values():
        assignments[:] = [
            a
            for a in assignments
            if a["target"]["@odata.type"] != ALL_DEVICES and a["target"].get("groupId") not in (group_a, group_b)
        ]
    tenant.assignments[chosen["id"]] = [{"id": "a", "target": {"@odata.type": GROUP, "groupId": group_a}}]
    reached = {d["deviceId"] for d in tenant.members[group_a]}
    for group, members in tenant.members.items():
        if group != group_a:
            members[:] = [d for d in members if d["deviceId"] not in reached]
    grouped = {d["deviceId"] for members in tenant.members.values() for d in members}
    tenant.members[group_b] = [d for d in tenant.entra_devices if d["deviceId"] not in grouped][:6]
    return chosen, group_a, group_b


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    """Three pulls: the tenant, the same tenant read again, and the tenant with one setting and one assignment changed."""
    tenant = Tenant(seed=29, policies=6, groups=30, devices=300)
    chosen, group_a, group_b = _shaped(tenant)
    root = tmp_path_factory.mktemp("drift")
    first = _pulled(tenant, root / "first", page_size=40)
    tenant.read_again(1)
    again = _pulled(tenant, root / "again", page_size=23)
    reached_before = {d["deviceId"] for d in tenant.members[group_a]}
    chosen["bitLockerEncryptDevice"] = False
    tenant.assignments[chosen["id"]].append({"id": "b", "target": {"@odata.type": GROUP, "groupId": group_b}})
    tenant.read_again(2)
    changed = _pulled(tenant, root / "changed", page_size=57)
    reached = reached_before | {d["deviceId"] for d in tenant.members[group_b]}
    names = {d["deviceName"] for d in tenant.managed_devices if d["azureADDeviceId"] in reached}
    group_name = next(g["displayName"] for g in tenant.groups if g["id"] == group_b)
    return {
        "first": first,
        "again": again,
        "changed": changed,
        "chosen": chosen,
        "reached": names,
        "group_b": group_b,
        "group_b_name": group_name,
    }


def _diff(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["diff", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _json_diff(capsys, tmp_path, old: Path, new: Path, *more: str) -> tuple[int, dict]:
    target = tmp_path / "diff.json"
    code, _, _ = _diff(capsys, str(old), str(new), "--format", "json", "--output", str(target), *more)
    return code, json.loads(target.read_text(encoding="utf-8"))


def _records(folder: Path, kind: str) -> list[dict]:
    return [json.loads(line) for line in (folder / f"{kind}.jsonl").read_text(encoding="utf-8").splitlines()]


def test_the_second_read_differs_as_graph_varies(snapshots):
    # What the normalisation has to absorb is really there (else the next test proves nothing).
    first, again = snapshots["first"], snapshots["again"]
    for kind in ("device_configurations", "configuration_policies", "device_configuration_assignments"):
        assert _records(first, kind) != _records(again, kind), kind
        by_id = {r["id"]: r for r in _records(first, kind)}
        assert sorted(by_id) == sorted(r["id"] for r in _records(again, kind)) or kind.endswith("assignments")
    etags = [r.get("@odata.etag") for r in _records(again, "device_configurations")]
    assert all(etags) and not any(r.get("@odata.etag") for r in _records(first, "device_configurations"))
    stamps = {r.get("lastModifiedDateTime") for r in _records(first, "configuration_policies")}
    assert stamps != {r.get("lastModifiedDateTime") for r in _records(again, "configuration_policies")}


def test_the_same_tenant_pulled_twice_has_no_drift_and_no_device_change(snapshots, capsys, tmp_path):
    code, data = _json_diff(capsys, tmp_path, snapshots["first"], snapshots["again"], "--fail-on", "drift")
    assert data["drift"]["policies"] == []
    assert data["devices"] == data["appeared"] == data["left"] == data["causes"] == []
    assert data["old"]["devices"] == data["new"]["devices"] == 300
    assert code == 0
    assert validate(data, load_schema("diff-1.json")) == []


def test_one_setting_and_one_assignment_changed_are_named_exactly(snapshots, capsys, tmp_path):
    code, data = _json_diff(capsys, tmp_path, snapshots["first"], snapshots["changed"])
    assert code == 0
    assert validate(data, load_schema("diff-1.json")) == []
    chosen = snapshots["chosen"]
    [policy] = data["drift"]["policies"]
    assert (policy["policy_id"], policy["name"], policy["change"]) == (chosen["id"], chosen["displayName"], "changed")
    assert policy["settings"] == [
        {"label": "Encrypt devices", "key": "bitLockerEncryptDevice", "before": "Require", "after": "Not configured"}
    ]
    assert policy["assignments_removed"] == []
    assert policy["assignments_added"] == [
        {
            "target": "group",
            "group_id": snapshots["group_b"],
            "group": snapshots["group_b_name"],
            "filter_id": None,
            "filter": None,
            "filter_type": None,
        }
    ]
    changed = {d["device"].split("'")[1] for d in data["devices"]}
    assert changed == snapshots["reached"]
    assert not data["appeared"] and not data["left"]


def test_the_mirror_diff_swaps_before_and_after(snapshots, capsys, tmp_path):
    _, forward = _json_diff(capsys, tmp_path, snapshots["first"], snapshots["changed"])
    _, backward = _json_diff(capsys, tmp_path, snapshots["changed"], snapshots["first"])
    [there], [back] = forward["drift"]["policies"], backward["drift"]["policies"]
    assert [(s["before"], s["after"]) for s in there["settings"]] == [
        (s["after"], s["before"]) for s in back["settings"]
    ]
    assert there["assignments_added"] == back["assignments_removed"] and back["assignments_added"] == []


@pytest.mark.parametrize(
    ("fmt", "shows"),
    [
        ("text", ["Policy drift from", "Encrypt devices", "Require", "Not configured", "assignment added: group"]),
        ("markdown", ["## Policy drift", "Encrypt devices", "Not configured", "| added "]),
        ("html", ["Policy drift", "Encrypt devices", "Not configured", "<td>added</td>"]),
    ],
)
def test_every_format_shows_the_drift(snapshots, capsys, tmp_path, fmt, shows):
    target = tmp_path / f"diff.{fmt}"
    code, _, _ = _diff(
        capsys, str(snapshots["first"]), str(snapshots["changed"]), "--format", fmt, "--output", str(target)
    )
    page = target.read_text(encoding="utf-8")
    assert code == 0
    assert all(part in page for part in [*shows, snapshots["group_b_name"], snapshots["chosen"]["displayName"]]), page


def test_fail_on_drift_and_new_failures(snapshots, capsys):
    first, again, changed = (str(snapshots[k]) for k in ("first", "again", "changed"))
    assert _diff(capsys, first, changed, "--fail-on", "drift", "--output", "/dev/null")[0] == 1
    assert _diff(capsys, first, again, "--fail-on", "drift", "--output", "/dev/null")[0] == 0
    assert _diff(capsys, first, again, "--fail-on", "new-failures", "--output", "/dev/null")[0] == 0


def test_jobs_2_gives_what_jobs_1_gives(snapshots, capsys, tmp_path):
    _, one = _json_diff(capsys, tmp_path, snapshots["first"], snapshots["changed"], "--jobs", "1")
    _, two = _json_diff(capsys, tmp_path, snapshots["first"], snapshots["changed"], "--jobs", "2")
    assert one == two and one["devices"]


def test_with_a_store_both_checks_are_runs_of_it_and_diff_the_same(snapshots, capsys, tmp_path):
    store = tmp_path / "runs.duckdb"
    code, direct = _json_diff(capsys, tmp_path, snapshots["first"], snapshots["changed"], "--store", str(store))
    assert code == 0 and direct["devices"]
    code, stored = _json_diff(capsys, tmp_path, Path("1"), Path("2"), "--store", str(store))
    assert code == 0 and stored["drift"] is None
    for key in ("totals", "devices", "appeared", "left", "rules", "causes"):
        assert stored[key] == direct[key], key


def test_a_snapshot_and_a_run_or_snapshot_options_without_snapshots_are_refused(snapshots, capsys, tmp_path):
    run = tmp_path / "run.jsonl"
    run.write_text("")
    code, _, err = _diff(capsys, str(snapshots["first"]), str(run))
    assert code == 2 and "is a snapshot and" in err
    code, _, err = _diff(capsys, str(run), str(run), "--fail-on", "drift")
    assert code == 2 and "--fail-on drift only with two snapshots" in err
    unfinished = tmp_path / "unfinished"
    _write_snapshot(unfinished, {}, {}, [])
    manifest = json.loads((unfinished / "manifest.json").read_text())
    (unfinished / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    code, _, err = _diff(capsys, str(snapshots["first"]), str(unfinished))
    assert code == 2 and "this snapshot is incomplete" in err and "--resume" in err
    code, _, err = _diff(capsys, str(run), str(run), "--jobs", "2", "--rules", "key_rotation")
    assert code == 2 and "--rules and --jobs only with two snapshots" in err


# -- snapshots written directly (no server), for the properties ------------------------------

POLICY_FILES = {
    "device_configurations": "device_configuration_assignments",
    "configuration_policies": "configuration_policy_assignments",
    "intents": "intent_assignments",
}


def _write_snapshot(folder: Path, policies: dict[str, list[dict]], targets: dict[str, list[dict]], groups: list[dict]):
    """A complete snapshot folder holding ``policies`` (by kind), their assignment targets and groups."""
    folder.mkdir(parents=True)
    files: dict[str, list[dict]] = {"groups": groups}
    for kind, assignment_kind in POLICY_FILES.items():
        files[kind] = policies.get(kind, [])
        files[assignment_kind] = [
            {"id": f"{p['id']}_{n}", "target": t, POLICY_ANNOTATION: {"kind": kind, "id": p["id"]}}
            for p in files[kind]
            for n, t in enumerate(targets.get(p["id"], []))
        ]
    for kind, records in files.items():
        (folder / f"{kind}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    manifest = {
        "schema": "bitlocker-rules-snapshot",
        "schema_version": 1,
        "complete": True,
        "units": {},
        "kinds": {kind: {"file": f"{kind}.jsonl", "count": len(r)} for kind, r in files.items()},
        "skipped": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _tenant_policies(tenant: Tenant) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """The generator's policies by kind, and each one's assignment targets (copies)."""
    policies = {
        "device_configurations": tenant.device_configurations,
        "configuration_policies": tenant.configuration_policies,
        "intents": tenant.intents,
    }
    targets = {pid: [a["target"] for a in assignments] for pid, assignments in tenant.assignments.items()}
    return copy.deepcopy(policies), copy.deepcopy(targets)


def _oracle_normalised(value):
    """The test's own normalisation (not the drift module's): no annotations, ids, counters,
    timestamps, nulls or template references; every list sorted."""
    if isinstance(value, dict):
        return {
            k: _oracle_normalised(v)
            for k, v in value.items()
            if not k.startswith(("@", "#"))
            and k not in ("id", "version", "settingCount", "isAssigned")
            and not k.endswith("DateTime")
            and v is not None
        }
    if isinstance(value, list):
        return sorted((_oracle_normalised(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _oracle(old: tuple, new: tuple) -> set[str]:
    """The ids of the policies that differ, by a plain comparison of normalised JSON."""

    def states(snapshot):
        policies, targets = snapshot
        return {
            # a target whole (its @odata.type says what it is); the same target twice is one assignment
            p["id"]: json.dumps(
                [_oracle_normalised(p), sorted({json.dumps(t, sort_keys=True) for t in targets.get(p["id"], [])})],
                sort_keys=True,
            )
            for kind in policies.values()
            for p in kind
        }

    before, after = states(old), states(new)
    return {pid for pid in before.keys() | after.keys() if before.get(pid) != after.get(pid)}


def _mutated(snapshot: tuple, rng: random.Random, changes: int) -> tuple:
    """The snapshot with ``changes`` edits an admin could make, then re-read as Graph varies."""
    policies, targets = copy.deepcopy(snapshot)
    every = [p for kind in policies.values() for p in kind]
    for _ in range(changes):
        if not every:  # every policy deleted: nothing left to edit
            break
        policy = rng.choice(every)
        edit = rng.randrange(8)
        if edit == 0 and "bitLockerEncryptDevice" in policy:
            policy["bitLockerEncryptDevice"] = not policy["bitLockerEncryptDevice"]
        elif edit == 1:
            policy["displayName" if "displayName" in policy else "name"] += " (renamed)"
        elif edit == 2 and targets.get(policy["id"]):
            targets[policy["id"]].pop(rng.randrange(len(targets[policy["id"]])))
        elif edit == 3:
            targets.setdefault(policy["id"], []).append({"@odata.type": GROUP, "groupId": f"g-{rng.randrange(9)}"})
        elif edit == 4 and policy.get("settings"):
            instance = policy["settings"][0].get("settingInstance")
            if instance and "choiceSettingValue" in instance:
                value = instance["choiceSettingValue"]["value"]
                instance["choiceSettingValue"]["value"] = value[:-1] + ("0" if value.endswith("1") else "1")
        elif edit == 5 and policy.get("omaSettings"):
            setting = policy["omaSettings"][0]
            setting["value"] = 1 - setting["value"] if isinstance(setting.get("value"), int) else setting.get("value")
        elif edit == 6:  # the policy deleted: no later edit can touch it
            for kind in policies.values():
                kind[:] = [p for p in kind if p is not policy]
            every = [p for p in every if p is not policy]
        elif edit == 7:  # a copy made, as a new policy
            copied = {**copy.deepcopy(policy), "id": f"copy-{rng.randrange(10**6)}"}
            next(kind for kind in policies.values() if any(p is policy for p in kind)).append(copied)
            targets[copied["id"]] = copy.deepcopy(targets.get(policy["id"], []))
    return _reread((policies, targets), rng)


def _reread(snapshot: tuple, rng: random.Random) -> tuple:
    """The same snapshot as another read gives it: lists shuffled, ids and timestamps moved on."""
    policies, targets = copy.deepcopy(snapshot)
    for kind in policies.values():
        rng.shuffle(kind)
        for policy in kind:
            policy["lastModifiedDateTime"] = f"2026-0{rng.randint(1, 9)}-01T00:00:00Z"
            policy["version"] = rng.randint(1, 99)
            policy["@odata.context"] = f"https://graph.example:{rng.randint(1, 9999)}/beta/$metadata"
            for name in ("settings", "omaSettings"):
                rng.shuffle(policy.get(name, []))
            for n, setting in enumerate(policy.get("settings", [])):
                setting["id"] = str(rng.randint(0, 99) * 100 + n)
    for listed in targets.values():
        rng.shuffle(listed)
    return policies, targets


GROUPS = [{"id": f"g-{n}", "displayName": f"Group {n}"} for n in range(9)]


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 10_000), changes=st.integers(0, 4))
def test_drift_against_a_plain_comparison_and_its_mirror(tmp_path_factory, seed, changes):
    rng = random.Random(seed)
    tenant = Tenant(seed=seed, policies=3, groups=9, devices=3)
    for assignments in tenant.assignments.values():  # the groups the snapshot names
        for n, a in enumerate(assignments):
            if "groupId" in a["target"]:
                a["target"]["groupId"] = f"g-{n}"
    base = _tenant_policies(tenant)
    old, same, new = base, _reread(base, rng), _mutated(base, rng, changes)
    root = tmp_path_factory.mktemp("prop")
    for name, snapshot in (("old", old), ("same", same), ("new", new)):
        _write_snapshot(root / name, *snapshot, GROUPS)
    vocabulary = shipped_vocabulary()
    assert policy_drift(root / "old", root / "same", vocabulary).empty
    forward = policy_drift(root / "old", root / "new", vocabulary)
    backward = policy_drift(root / "new", root / "old", vocabulary)
    assert {p.policy_id for p in forward.policies} == _oracle(old, new)
    assert {p.policy_id for p in backward.policies} == _oracle(new, old)
    mirror = {p.policy_id: p for p in backward.policies}
    flip = {"added": "removed", "removed": "added", "changed": "changed"}
    for policy in forward.policies:
        back = mirror[policy.policy_id]
        assert back.change == flip[policy.change]
        assert {(s.key, s.before, s.after) for s in policy.settings} == {
            (s.key, s.after, s.before) for s in back.settings
        }
        assert (set(policy.assigned), set(policy.unassigned)) == (set(back.unassigned), set(back.assigned))


def test_a_secret_oma_value_is_never_shown_nor_compared(tmp_path, capsys):
    secret = "cipher-text-that-must-not-show"
    profile = {
        "@odata.type": CUSTOM_TYPE,
        "id": "p-1",
        "displayName": "Custom <script>alert(1)</script>",
        "omaSettings": [
            {"omaUri": "./Device/Vendor/MSFT/BitLocker/IdentificationField", "isEncrypted": True, "value": secret},
            {"omaUri": "./Device/Vendor/MSFT/BitLocker/RequireDeviceEncryption", "isEncrypted": False, "value": 1},
        ],
    }
    changed = copy.deepcopy(profile)
    changed["omaSettings"][0]["value"] = secret + "-2"  # a secret changed: never read, so never compared
    changed["omaSettings"][1]["value"] = 0
    _write_snapshot(tmp_path / "old", {"device_configurations": [profile]}, {}, [])
    _write_snapshot(tmp_path / "new", {"device_configurations": [changed]}, {}, [])
    [policy] = policy_drift(tmp_path / "old", tmp_path / "new", shipped_vocabulary()).policies
    assert [(s.label, s.before, s.after) for s in policy.settings] == [("Encrypt devices", "Require", "Not configured")]
    assert policy_drift(tmp_path / "old", tmp_path / "old", shipped_vocabulary()).empty
    _write_snapshot(tmp_path / "none", {}, {}, [])
    [gone] = policy_drift(tmp_path / "old", tmp_path / "none", shipped_vocabulary()).policies
    assert gone.change == "removed" and SECRET_SHOWN in {s.before for s in gone.settings}
    drift = policy_drift(tmp_path / "old", tmp_path / "none", shipped_vocabulary())
    diff = with_drift(diff_runs(RunResults("a"), RunResults("b")), drift)
    for fmt in ("text", "json", "markdown", "html"):  # the records hold no secret, so no format shows one
        page = render_diff(diff, fmt)
        assert secret not in page and "IdentificationField" in page
    assert "<script>" not in render_diff(diff, "html")  # a policy's name is text on the page, escaped


# -- docs/history.md: its example is this output, and it names every property ignored ---------

HISTORY_PAGE = Path(__file__).resolve().parent.parent / "docs" / "history.md"
PROFILE_ID = "5b0e7c1a-3f2d-4b8e-9a61-0c2d4e6f8a10"


def _documented_snapshots(root: Path) -> None:
    """The two snapshots docs/history.md's example compares: monday and friday."""
    profile = {
        "@odata.type": EP_TYPE,
        "id": PROFILE_ID,
        "displayName": "WIN - EP - BitLocker silent",
        "lastModifiedDateTime": "2025-06-02T14:03:10Z",
        "bitLockerEncryptDevice": True,
        "bitLockerSystemDrivePolicy": {"encryptionMethod": "xtsAes256", "startupAuthenticationTpmPinUsage": "blocked"},
    }
    catalog = {
        "id": "9f3c2a71-6d4e-4c1b-8e2f-7a5b3c9d1e04",
        "name": "ES - Disk encryption - BitLocker (OS)",
        "platforms": "windows10",
        "technologies": "mdm",
        "templateReference": {"templateId": "", "templateFamily": "endpointSecurityDiskEncryption"},
        "settings": [
            {
                "id": "0",
                "settingInstance": {
                    "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                    "settingDefinitionId": "device_vendor_msft_bitlocker_requiredeviceencryption",
                    "choiceSettingValue": {"value": "device_vendor_msft_bitlocker_requiredeviceencryption_1"},
                },
            }
        ],
    }
    groups = [
        {"id": "a1f0c2d4-0000-4000-8000-000000000001", "displayName": "Laptops"},
        {"id": "a1f0c2d4-0000-4000-8000-000000000002", "displayName": "Kiosks"},
        {"id": "a1f0c2d4-0000-4000-8000-000000000003", "displayName": "Finance laptops"},
    ]
    laptops = {"@odata.type": GROUP, "groupId": groups[0]["id"]}
    kiosks = {"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": groups[1]["id"]}
    finance = {"@odata.type": GROUP, "groupId": groups[2]["id"]}
    _write_snapshot(root / "monday", {"device_configurations": [profile]}, {PROFILE_ID: [laptops, kiosks]}, groups)
    changed = copy.deepcopy(profile)
    changed["bitLockerSystemDrivePolicy"]["encryptionMethod"] = "xtsAes128"
    changed["lastModifiedDateTime"] = "2025-06-06T08:00:00Z"
    _write_snapshot(
        root / "friday",
        {"device_configurations": [changed], "configuration_policies": [catalog]},
        {PROFILE_ID: [finance, laptops], catalog["id"]: [laptops]},
        groups,
    )
    for folder in ("monday", "friday"):
        (root / folder / "managed_devices.jsonl").write_text("", encoding="utf-8")


def _documented_block() -> list[str]:
    text = HISTORY_PAGE.read_text(encoding="utf-8")
    block = re.search(r"```text\n(Policy drift from monday to friday.*?)```", text, re.S)
    assert block, "docs/history.md shows no drift of monday and friday"
    return [line.rstrip() for line in block.group(1).strip("\n").splitlines()]


def test_the_history_page_shows_the_drift_of_its_example(tmp_path, monkeypatch, capsys):
    _documented_snapshots(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, _ = _diff(capsys, "monday", "friday", "--fail-on", "drift")
    assert code == 1
    lines = [line.rstrip() for line in out.splitlines()]
    start = next(n for n, line in enumerate(lines) if line.startswith("Policy drift from"))
    end = next((n for n in range(start, len(lines)) if lines[n].startswith("Devices ")), len(lines))
    assert lines[start:end] == _documented_block()


def test_the_history_page_names_every_property_the_drift_ignores():
    section = HISTORY_PAGE.read_text(encoding="utf-8").split("### What the drift ignores", 1)[1].split("\n## ", 1)[0]
    for name in (*IGNORED, "DateTime", "@odata.", "null"):
        assert f"`{name}" in section or f"{name}`" in section, name


def test_catalog_children_and_intent_settings_are_named_by_label_and_their_instance_ids_ignored(tmp_path):
    def catalog(method: int, ids: tuple[str, str]) -> dict:
        parent = "device_vendor_msft_bitlocker_encryptionmethodbydrivetype"
        child = f"{parent}_encryptionmethodwithxtsosdropdown_name"
        return {
            "id": "cat-1",
            "name": "Catalog",
            "settings": [
                {
                    "id": ids[0],
                    "settingInstance": {
                        "settingDefinitionId": f"{parent}",
                        "choiceSettingValue": {
                            "value": f"{parent}_1",
                            "children": [
                                {"settingDefinitionId": child, "choiceSettingValue": {"value": f"{child}_{method}"}}
                            ],
                        },
                    },
                },
                {
                    "id": ids[1],
                    "settingInstance": {
                        "settingDefinitionId": "device_vendor_msft_bitlocker_requiredeviceencryption",
                        "choiceSettingValue": {"value": "device_vendor_msft_bitlocker_requiredeviceencryption_1"},
                    },
                },
            ],
        }

    def intent(value: str, setting_id: str) -> dict:
        definition = "deviceConfiguration--windows10EndpointProtectionConfiguration_bitLockerEncryptDevice"
        return {
            "id": "int-1",
            "displayName": "Intent",
            "settings": [
                {"id": setting_id, "definitionId": definition, "valueJson": value},
                {
                    "id": "x" + setting_id,
                    "valueJson": '{"encryptionMethod": "xtsAes256"}',
                    "definitionId": "deviceConfiguration--windows10EndpointProtectionConfiguration_bitLockerSystemDrivePolicy",
                },
            ],
        }

    _write_snapshot(
        tmp_path / "old",
        {"configuration_policies": [catalog(7, ("0", "1"))], "intents": [intent("true", "s0")]},
        {},
        [],
    )
    _write_snapshot(
        tmp_path / "same",
        {"configuration_policies": [catalog(7, ("5", "2"))], "intents": [intent("true", "s9")]},
        {},
        [],
    )
    _write_snapshot(
        tmp_path / "new",
        {"configuration_policies": [catalog(6, ("1", "0"))], "intents": [intent("false", "s0")]},
        {},
        [],
    )
    vocabulary = shipped_vocabulary()
    assert policy_drift(tmp_path / "old", tmp_path / "same", vocabulary).empty
    drift = policy_drift(tmp_path / "old", tmp_path / "new", vocabulary)
    found = {p.policy_id: [(s.label, s.before, s.after) for s in p.settings] for p in drift.policies}
    assert found == {
        "cat-1": [("Encryption for operating system drives", "XTS-AES 256-bit", "XTS-AES 128-bit")],
        "int-1": [("Encrypt devices", "Require", "Not configured")],
    }


def test_rules_choose_what_both_snapshots_are_checked_against(snapshots, capsys, tmp_path):
    code, data = _json_diff(capsys, tmp_path, snapshots["first"], snapshots["changed"], "--rules", "key_rotation")
    assert code == 0
    assert data["rules"] and all(r["rule"].startswith("KR-") for r in data["rules"])
    assert data["drift"]["policies"]  # the drift does not depend on the rules


def test_a_renamed_group_is_not_drift_and_its_new_name_is_shown(tmp_path):
    groups = [{"id": "g-1", "displayName": "Laptops"}]
    target = {"@odata.type": GROUP, "groupId": "g-1"}
    profile = {"@odata.type": EP_TYPE, "id": "p-1", "displayName": "EP", "bitLockerEncryptDevice": True}
    _write_snapshot(tmp_path / "old", {"device_configurations": [profile]}, {"p-1": [target]}, groups)
    renamed = [{"id": "g-1", "displayName": "All laptops"}]
    _write_snapshot(tmp_path / "new", {"device_configurations": [profile]}, {"p-1": [target]}, renamed)
    assert policy_drift(tmp_path / "old", tmp_path / "new", shipped_vocabulary()).empty
    _write_snapshot(tmp_path / "none", {"device_configurations": [profile]}, {}, renamed)
    [policy] = policy_drift(tmp_path / "none", tmp_path / "new", shipped_vocabulary()).policies
    assert [(t.target, t.group_id, t.group) for t in policy.assigned] == [("group", "g-1", "All laptops")]


def test_a_diff_of_two_snapshots_checks_each_as_check_snapshot_does(snapshots, capsys, tmp_path):
    # each snapshot's devices read as check --snapshot reads them: encryption report rows and
    # recovery keys joined, filters decided per device; so the diff equals that of the two runs
    runs = []
    for name in ("first", "changed"):
        run = tmp_path / f"{name}.jsonl"
        main(["check", "--snapshot", str(snapshots[name]), "--jsonl", str(run), "--quiet"])
        runs.append(run)
    capsys.readouterr()
    _, direct = _json_diff(capsys, tmp_path, snapshots["first"], snapshots["changed"])
    _, of_runs = _json_diff(capsys, tmp_path, *runs)
    for key in ("totals", "devices", "appeared", "left", "rules", "causes"):
        assert of_runs[key] == direct[key], key
