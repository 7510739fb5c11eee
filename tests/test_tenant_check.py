"""``check --snapshot`` and ``repair --snapshot``: a generated tenant pulled from the local Graph
and checked gives exactly what checking the same data given as files gives (``--policy`` files,
``--fleet`` rows of each device's records and an ``--assignments`` file of each device's policies,
written from the generator's own tables, its filters evaluated by a small evaluator of the test's
own: an oracle that does not share the snapshot reader), and each device checks as its three
records given as ``--device`` files; an exclusion wins; assignment filters decide scope (include
and exclude), each device's line says which decided, those not evaluated are named; devices in
no policy's scope are counted in every format; SARIF points at the policy's line and setting in
the snapshot; all-users assignments are said; an incomplete or unknown snapshot is refused;
memory stays flat as devices grow."""

from __future__ import annotations

import json
import re
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from graph_fake import EP_TYPE, FILTER_RULES, LocalGraph, Tenant
from test_tenant_pull import TOKENS, _bitlocker_policies, quick

from bitlocker_rules.cli import main
from bitlocker_rules.engine import Engine
from bitlocker_rules.fleet import evaluate_fleet, read_fleet
from bitlocker_rules.fleet.job import FleetJob
from bitlocker_rules.snapshot import ALL_USERS, device_reader, read_snapshot
from bitlocker_rules.tenant import PullOptions, pull

ALL_DEVICES = "#microsoft.graph.allDevicesAssignmentTarget"
EXCLUSION = "#microsoft.graph.exclusionGroupAssignmentTarget"
GROUP = "#microsoft.graph.groupAssignmentTarget"


def _shaped(tenant: Tenant) -> tuple[str, str]:
    """One BitLocker policy assigned to all devices but a large excluded group (whose members in
    no other group are then in no policy's scope); no other all-devices assignment. Returns the
    policy's id and the excluded group's id."""
    kept = [p["id"] for p in tenant.device_configurations if p["id"] in _bitlocker_policies(tenant)]
    for policy_id in kept:
        tenant.assignments[policy_id] = [
            a for a in tenant.assignments[policy_id] if a["target"]["@odata.type"] != ALL_DEVICES
        ]
    chosen, excluded = kept[0], tenant.groups[0]["id"]
    tenant.members[excluded] = tenant.entra_devices[: len(tenant.entra_devices) // 3]
    for others in tenant.assignments.values():  # every other assignment of the excluded group goes
        others[:] = [a for a in others if a["target"].get("groupId") != excluded]
    tenant.assignments[chosen] = [
        {"id": f"{chosen}_all", "target": {"@odata.type": ALL_DEVICES}},
        {"id": f"{chosen}_ex", "target": {"@odata.type": EXCLUSION, "groupId": excluded}},
    ]
    # Every kind of filter on some assignment: Dell Latitudes included and excluded, a rule that
    # cannot be parsed, one of each mode beside an assignment of the same group without a filter.
    for policy_id, group, number, mode in [
        (kept[1], 1, 0, "include"),
        (kept[2], 2, 5, "include"),
        (kept[3], 3, 0, "exclude"),
        (kept[3], 4, 2, "include"),
        (kept[3], 4, 1, "include"),
        (kept[4], 5, 3, "exclude"),
    ]:
        tenant.assignments[policy_id].append(
            {
                "id": f"{policy_id}_f{number}",
                "target": {
                    "@odata.type": GROUP,
                    "groupId": tenant.groups[group]["id"],
                    "deviceAndAppManagementAssignmentFilterId": tenant.filters[number]["id"],
                    "deviceAndAppManagementAssignmentFilterType": mode,
                },
            }
        )
    return chosen, excluded


@pytest.fixture(scope="module")
def tenant_pulled(tmp_path_factory):
    tenant = Tenant(seed=5, policies=8, groups=40, devices=600)
    chosen, excluded = _shaped(tenant)
    local = LocalGraph(tenant, page_size=100)
    folder = tmp_path_factory.mktemp("check") / "snapshot"
    try:
        pull(PullOptions(folder, local.url, concurrency=4), TOKENS, pacing=quick())
    finally:
        local.stop()
    return tenant, folder, chosen, excluded


@pytest.fixture(scope="module")
def as_files(tenant_pulled, tmp_path_factory):
    """The same tenant as files, written from the generator: policies, devices, assignments."""
    tenant, _, _, _ = tenant_pulled
    folder = tmp_path_factory.mktemp("files")
    kept = _bitlocker_policies(tenant)
    kinds = (tenant.device_configurations, tenant.configuration_policies, tenant.intents)
    ordered = [p for kind in kinds for p in sorted(kind, key=lambda p: p["id"]) if p["id"] in kept]  # as read back
    policies = []
    for n, policy in enumerate(ordered):
        path = folder / f"policy-{n:03d}.json"
        path.write_text(json.dumps(_as_profile(policy) if policy in tenant.intents else policy))
        policies += ["--policy", str(path)]
    fleet = folder / "devices.jsonl"
    fleet.write_text("".join(json.dumps(_device_page(tenant, d)) + "\n" for d in tenant.managed_devices))
    per_device = {
        d["deviceName"]: [p["id"] for p in ordered if _oracle_applies(tenant, p["id"], d)]
        for d in tenant.managed_devices
    }
    assignments = folder / "assignments.json"
    assignments.write_text(json.dumps({"devices": {name: ids for name, ids in per_device.items() if ids}}))
    return [*policies, "--fleet", str(fleet), "--assignments", str(assignments)]


def _device_page(tenant: Tenant, device: dict) -> dict:
    """One device's records as a Graph page, joined from the generator's own lists: the managed
    device, its encryption report row (same id) and its recovery keys (deviceId its Entra id)."""
    states = [s for s in tenant.encryption_states if s["id"] == device["id"]]
    keys = [k for k in tenant.recovery_keys if k["deviceId"] == device["azureADDeviceId"]]
    return {"value": [device, *states, *keys]} if states or keys else device


def _oracle_applies(tenant: Tenant, policy_id: str, device: dict) -> bool:
    """Whether Intune gives ``policy_id`` to ``device``, from the generator's own tables: an excluded
    group wins; then an exclude filter (a match withholds the policy), then an assignment without a
    filter, then include filters (a match gives it); a filter not evaluated counts as absent."""
    groups = {
        g for g, members in tenant.members.items() if any(m["deviceId"] == device["azureADDeviceId"] for m in members)
    }
    plain, including, excluding = False, [], []
    for assignment in tenant.assignments[policy_id]:
        target = assignment["target"]
        if target["@odata.type"] != ALL_DEVICES and target.get("groupId") not in groups:
            continue
        if target["@odata.type"] == EXCLUSION:
            return False
        filter_id = target.get("deviceAndAppManagementAssignmentFilterId")
        if filter_id is None:
            plain = True
            continue
        rule = next(f["rule"] for f in tenant.filters if f["id"] == filter_id)
        mode = target["deviceAndAppManagementAssignmentFilterType"]
        (excluding if mode == "exclude" else including).append(_oracle_match(rule, device))
    if excluding:
        return True not in excluding
    return plain or any(m is not False for m in including)


def _oracle_match(rule: str, device: dict) -> bool | None:
    """The generator's filter rules evaluated by hand (None: a rule the snapshot does not evaluate)."""
    dell, windows_22h2, personal_or_kiosk = FILTER_RULES[:3]
    if rule == dell:
        return device["manufacturer"] == "Dell Inc." and device["model"].startswith("Latitude")
    if rule == windows_22h2:
        return [int(part) for part in device["osVersion"].split(".")] >= [10, 0, 19045]
    if rule == personal_or_kiosk:
        if device["managedDeviceOwnerType"] == "personal":
            return True
        profile = device["enrollmentProfileName"]
        return None if profile is None else profile in ("Kiosk", "Lab")  # a null in -in is not decided
    return None


def _as_profile(intent: dict) -> dict:
    """A disk encryption intent written as the Endpoint protection profile an admin would export
    with the same settings (the generator's intents set profile properties by name)."""
    profile = {"@odata.type": EP_TYPE, "id": intent["id"], "displayName": intent["displayName"]}
    for setting in intent["settings"]:
        assert setting["definitionId"].startswith("deviceConfiguration--windows10EndpointProtectionConfiguration_")
        profile[setting["definitionId"].rsplit("_", 1)[1]] = json.loads(setting["valueJson"])
    return profile


def _check(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _without_origins(value):
    """A device line without where values came from (a file of the snapshot, or a --policy file)."""
    if isinstance(value, dict):
        return {k: _without_origins(v) for k, v in value.items() if k not in ("origins", "source", "from")}
    if isinstance(value, list):
        return [_without_origins(v) for v in value]
    return value


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_pulled_snapshot_checks_as_the_same_data_given_as_files(tenant_pulled, as_files, tmp_path, capsys, jobs):
    _, folder, _, _ = tenant_pulled
    snap_json, files_json = tmp_path / "snap.json", tmp_path / "files.json"
    snap_lines, files_lines = tmp_path / "snap.jsonl", tmp_path / "files.jsonl"
    common = ["--format", "json", "--quiet", "--jobs", jobs]
    code_snapshot, _, _ = _check(
        capsys, "--snapshot", str(folder), *common, "--output", str(snap_json), "--jsonl", str(snap_lines)
    )
    code_files, _, _ = _check(capsys, *as_files, *common, "--output", str(files_json), "--jsonl", str(files_lines))
    assert code_snapshot == code_files == 1
    summary = json.loads(snap_json.read_text())
    assert summary == json.loads(files_json.read_text())
    assert summary["devices"] == 600 and summary["failed_devices"] > 0
    assert summary["unscoped_devices"] > 0  # the excluded group's members that no other group names
    snapshot_lines = _lines(snap_lines)
    decided = [line.pop("filters") for line in snapshot_lines if "filters" in line]  # files have no filters
    assert len(decided) > 50
    assert _without_origins(snapshot_lines) == _without_origins(_lines(files_lines))


def test_each_device_checks_as_its_three_records_given_as_device_files(tenant_pulled, tmp_path, capsys):
    """A device of the snapshot has the verdicts ``check --device`` gives its managedDevice, its
    encryption report row and its recovery keys as three files, with the policies the oracle
    gives it: the join of the snapshot's files is the join an admin makes by hand."""
    tenant, folder, _, _ = tenant_pulled
    lines = tmp_path / "devices.jsonl"
    _check(capsys, "--snapshot", str(folder), "--jsonl", str(lines), "--quiet")
    by_row = {line["row"]: line for line in _lines(lines)}
    with_keys = {k["deviceId"] for k in tenant.recovery_keys}
    every = tenant.device_configurations + tenant.configuration_policies + tenant.intents
    kept = [p for p in every if p["id"] in _bitlocker_policies(tenant)]
    rows = {json.loads(line)["id"]: n for n, line in enumerate((folder / "managed_devices.jsonl").open(), 1)}
    sample = [d for d in tenant.managed_devices if d["azureADDeviceId"] in with_keys][:2]
    sample += [d for d in tenant.managed_devices if d["azureADDeviceId"] not in with_keys][:1]
    for device in sample:
        argv = []
        for kind, records in (
            ("device", [device]),
            ("state", [s for s in tenant.encryption_states if s["id"] == device["id"]]),
            ("keys", [k for k in tenant.recovery_keys if k["deviceId"] == device["azureADDeviceId"]]),
        ):
            if records:
                path = tmp_path / f"{device['deviceName']}-{kind}.json"
                path.write_text(json.dumps({"value": records}))
                argv += ["--device", str(path)]
        for policy in kept:
            if _oracle_applies(tenant, policy["id"], device):
                path = tmp_path / f"policy-{policy['id']}.json"
                path.write_text(json.dumps(_as_profile(policy) if policy in tenant.intents else policy))
                argv += ["--policy", str(path)]
        _check(capsys, *argv, "--format", "json", "--output", str(tmp_path / "report.json"))
        report = json.loads((tmp_path / "report.json").read_text())
        expected = {r["rule"]: r["status"] for r in report["results"]}
        line = by_row[rows[device["id"]]]
        assert {r["rule"]: r["status"] for r in line["results"]} == expected, device["deviceName"]
    assert len(sample) == 3


def test_an_exclusion_wins_and_a_device_in_no_scope_gets_no_policy(tenant_pulled, tmp_path, capsys):
    tenant, folder, chosen, excluded = tenant_pulled
    lines = tmp_path / "devices.jsonl"
    code, _, _ = _check(capsys, "--snapshot", str(folder), "--jsonl", str(lines), "--quiet")
    assert code == 1
    by_name = {line["device"]: line for line in _lines(lines)}
    excluded_ids = {d["deviceId"] for d in tenant.members[excluded]}
    named_chosen = [f"({chosen})" in " ".join(line["policies"]) for line in by_name.values()]
    assert any(named_chosen) and not all(named_chosen)
    unscoped = 0
    for device in tenant.managed_devices:
        line = next(v for k, v in by_name.items() if device["deviceName"] in k)
        gets_chosen = any(f"({chosen})" in p for p in line["policies"])
        assert gets_chosen == (device["azureADDeviceId"] not in excluded_ids), device["deviceName"]
        unscoped += line["policies"] == []
    summary = tmp_path / "summary.json"
    _check(capsys, "--snapshot", str(folder), "--format", "json", "--output", str(summary), "--quiet")
    assert json.loads(summary.read_text())["unscoped_devices"] == unscoped > 0


def test_a_devices_line_says_which_filter_decided(tenant_pulled, tmp_path, capsys):
    tenant, folder, _, _ = tenant_pulled
    lines = tmp_path / "devices.jsonl"
    _check(capsys, "--snapshot", str(folder), "--jsonl", str(lines), "--quiet")
    by_name = {d["deviceName"]: d for d in tenant.managed_devices}
    said = 0
    for line in _lines(lines):
        device = by_name[line["device"].split("'")[1]]
        for text in line.get("filters", []):
            name = text.split("filter `")[1].split("`")[0]
            matched = _oracle_match(next(f["rule"] for f in tenant.filters if f["displayName"] == name), device)
            if matched is None:
                assert " not evaluated (" in text and text.endswith("applied as if absent")
            else:
                assert (") matched:" in text) == matched and ("did not match:" in text) == (not matched)
            said += 1
    assert said > 50


def _unscoped_shown(fmt: str, text: str) -> int:
    """The count of devices in no policy's scope as the report in ``fmt`` shows it (only JSON
    says 0; the others say nothing of none)."""
    patterns = {
        "text": r"(\d+) devices? (?:are |is )?in no BitLocker policy's scope",
        "markdown": r"(\d+) devices? (?:are |is )?in no BitLocker policy's scope",
        "html": r"In no BitLocker policy&#x27;s scope\D*(\d+)",
        "junit": r'<property name="unscoped_devices" value="(\d+)"',
        "sarif": r'"unscopedDevices": (\d+)',
        "json": r'"unscoped_devices": (\d+)',
    }
    found = re.search(patterns[fmt], text, re.S)
    assert found or fmt != "json", (fmt, text[:2000])
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "junit", "sarif", "json"])
def test_filters_decide_the_scope_every_format_shows(tenant_pulled, tmp_path, capsys, fmt):
    """Without its filters' records the snapshot applies every filtered assignment as if it had no
    filter: fewer devices are in no policy's scope, in every format."""
    _, folder, _, _ = tenant_pulled
    unfiltered = _copy_with_manifest(folder, tmp_path / "unfiltered")
    (unfiltered / "assignment_filters.jsonl").write_text("")
    shown = []
    for snapshot in (folder, unfiltered):
        target = tmp_path / f"{snapshot.name}.{fmt}"
        _check(capsys, "--snapshot", str(snapshot), "--format", fmt, "--output", str(target), "--quiet")
        shown.append(_unscoped_shown(fmt, target.read_text(encoding="utf-8")))
    assert shown[0] > shown[1], shown


@pytest.mark.parametrize(
    ("fmt", "shows"),
    [
        ("text", "in no BitLocker policy's scope"),
        ("markdown", "in no BitLocker policy's scope"),
        ("html", "In no BitLocker policy&#x27;s scope"),
        ("junit", '<property name="unscoped_devices" value="'),
        ("sarif", '"unscopedDevices": '),
        ("json", '"unscoped_devices": '),
    ],
)
def test_every_format_reports_the_devices_in_no_scope(tenant_pulled, tmp_path, capsys, fmt, shows):
    _, folder, _, _ = tenant_pulled
    target = tmp_path / f"report.{fmt}"
    code, _, _ = _check(capsys, "--snapshot", str(folder), "--format", fmt, "--output", str(target))
    assert code == 1
    assert shows in target.read_text(encoding="utf-8")


def test_sarif_points_at_the_line_and_setting_of_each_policy_in_the_snapshot(tenant_pulled, tmp_path, capsys):
    _, folder, _, _ = tenant_pulled
    target = tmp_path / "report.sarif"
    code, _, _ = _check(capsys, "--snapshot", str(folder), "--format", "sarif", "--output", str(target), "--quiet")
    assert code == 1
    located = 0
    results = json.loads(target.read_text())["runs"][0]["results"]
    on_devices = [r for r in results if r["properties"]["source"] == "device records"]  # test_sarif_devices.py
    device_files = {"managed_devices.jsonl", "encryption_states.jsonl", "recovery_keys.jsonl"}
    assert (
        on_devices
        and {
            Path(urlsplit(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]).path).name
            for r in on_devices
        }
        <= device_files
    )
    for result in results:
        if result in on_devices:
            continue
        for location in result["locations"]:
            physical = location["physicalLocation"]
            path = Path(urlsplit(physical["artifactLocation"]["uri"]).path)  # a file: URI (the folder is absolute)
            assert path.parent == folder and path.suffix == ".jsonl", path
            region = physical["region"]
            line = path.read_text(encoding="utf-8").splitlines()[region["startLine"] - 1]
            member = location["logicalLocations"][0]["fullyQualifiedName"].rsplit(".", 1)[-1]
            record = json.loads(line)
            if path.name != "intents.jsonl":  # an intent's setting is named by definitionId, not by path
                assert line[region["startColumn"] - 1 :].startswith(json.dumps(member)), (path, region, member)
                located += 1
            assert record["id"] in location["message"]["text"]
    assert located > 10


def test_filters_not_evaluated_and_intents_are_said_not_dropped(tenant_pulled, capsys):
    _, folder, _, _ = tenant_pulled
    code, out, err = _check(capsys, "--snapshot", str(folder))
    assert code == 1 and out.startswith("Fleet: 600 devices evaluated")
    assert "assignment filter `Filter 3` is not evaluated" in err and "operator `-match`" in err
    assert "assignment filter `Filter 4` is not evaluated" in err and "property `cpuArchitecture`" in err
    assert "assignment filter `Filter 5` is not evaluated" in err
    assert "its rule cannot be read at column 37: unexpected the end of the rule; expected )" in err
    for evaluated in ("Filter 0", "Filter 1", "Filter 2"):  # each decided on every device
        assert f"`{evaluated}`" not in err
    assert "not checked" not in err and "is not read" not in err  # every policy kind is read, intents too


def test_each_device_records_which_filter_decided(tenant_pulled):
    tenant, folder, _, _ = tenant_pulled
    policies = read_snapshot(folder, Engine.load().vocabulary).policies_per_device()
    seen = set()
    for device in map(json.loads, (folder / "managed_devices.jsonl").open()):
        ids, decisions = policies.scope(device)
        for decision in decisions:
            seen.add((decision.filter, decision.mode, decision.outcome))
            rule = next(f["rule"] for f in tenant.filters if f["displayName"] == decision.filter)
            matched = _oracle_match(rule, device)
            if decision.outcome == "not evaluated":
                assert matched is None and decision.why and decision.policy_id in ids
            else:
                assert matched == ((decision.outcome == "applied") == (decision.mode == "include"))
                assert (decision.policy_id in ids) == (decision.outcome == "applied")
    assert {
        ("Filter 0", "include", "applied"),
        ("Filter 0", "include", "not applied"),
        ("Filter 0", "exclude", "applied"),
        ("Filter 0", "exclude", "not applied"),
        ("Filter 5", "include", "not evaluated"),
        ("Filter 3", "exclude", "not evaluated"),
    } <= seen


def test_intents_are_checked_as_the_profiles_their_settings_make(tenant_pulled, tmp_path, capsys):
    tenant, folder, _, _ = tenant_pulled
    lines = tmp_path / "devices.jsonl"
    _check(capsys, "--snapshot", str(folder), "--jsonl", str(lines), "--quiet")
    named = {p for line in _lines(lines) for p in line["policies"]}
    intents = [i for i in tenant.intents if i["id"] in _bitlocker_policies(tenant)]
    assigned = [i for i in intents if tenant.assignments[i["id"]]]
    assert assigned and all(any(f"({i['id']})" in p for p in named) for i in assigned)


def test_an_all_users_assignment_is_noted_as_not_device_scoped(tenant_pulled, tmp_path):
    _, folder, _, _ = tenant_pulled
    copy = tmp_path / "snapshot"
    copy.mkdir()
    for path in folder.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    chosen = tenant_pulled[2]  # the one policy assigned to all devices: take another
    records = [
        json.loads(line) for line in (folder / "device_configuration_assignments.jsonl").read_text().splitlines()
    ]
    record = next(r for r in records if r["@bitlockerRules.policy"]["id"] != chosen)
    record["target"] = {"@odata.type": ALL_USERS}
    with (copy / "device_configuration_assignments.jsonl").open("a") as stream:
        stream.write(json.dumps(record) + "\n")
    snapshot = read_snapshot(copy, Engine.load().vocabulary)
    policy = record["@bitlockerRules.policy"]["id"]
    assert f"policy {policy} is assigned to all users: not device-scoped" in " ".join(snapshot.notes)
    assert policy not in snapshot.assignments.all_devices


def _copy_with_manifest(folder: Path, target: Path, **changes) -> Path:
    target.mkdir()
    for path in folder.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    manifest = json.loads((folder / "manifest.json").read_text())
    (target / "manifest.json").write_text(json.dumps({**manifest, **changes}))
    return target


def test_an_incomplete_snapshot_is_refused_naming_resume(tenant_pulled, tmp_path, capsys):
    _, folder, _, _ = tenant_pulled
    broken = _copy_with_manifest(folder, tmp_path / "s", complete=False, error="Graph kept failing (503)")
    for command in ("check", "repair"):
        code = main([command, "--snapshot", str(broken)])
        out, err = capsys.readouterr()
        assert code == 2 and out == ""
        assert "this snapshot is incomplete (Graph kept failing (503))" in err and "pull" in err and "--resume" in err
        assert "Traceback" not in err


def test_an_unknown_schema_version_or_no_snapshot_is_refused(tenant_pulled, tmp_path, capsys):
    _, folder, _, _ = tenant_pulled
    newer = _copy_with_manifest(folder, tmp_path / "s", schema_version=2)
    code, _, err = _check(capsys, "--snapshot", str(newer))
    assert code == 2 and "the snapshot's schema version is 2; this version reads 1" in err
    code, _, err = _check(capsys, "--snapshot", str(tmp_path))
    assert code == 2 and "this folder holds no snapshot (no manifest.json)" in err


def test_snapshot_refuses_the_inputs_it_gives(tenant_pulled, capsys):
    _, folder, _, _ = tenant_pulled
    code, _, err = _check(capsys, "--snapshot", str(folder), "--fleet", "x.jsonl", "--assignments", "a.json")
    assert (
        code == 2
        and "--snapshot gives the policies, assignments and devices: leave out --fleet and --assignments" in err
    )


def test_repair_snapshot_gives_each_device_its_own_policies(tenant_pulled, as_files, capsys):
    _, folder, _, _ = tenant_pulled
    code = main(["repair", "--snapshot", str(folder), "--format", "json", "--timeout", "120"])
    snapshot = json.loads(capsys.readouterr().out)
    assert code == 0
    code = main(["repair", *as_files, "--format", "json", "--timeout", "120"])
    files = json.loads(capsys.readouterr().out)
    assert code == 0 and snapshot == files
    assert snapshot["total"] == 600
    # Each device's own policies, not every policy merged onto every device (what --fleet alone does).
    everywhere = as_files[: as_files.index("--assignments")]
    assert main(["repair", *everywhere, "--format", "json", "--timeout", "120"]) == 0
    assert json.loads(capsys.readouterr().out) != snapshot


def _peak(folder: Path) -> int:
    """The most memory a check of the snapshot held at once: its reading and its devices' evaluation."""
    engine = Engine.load()
    tracemalloc.start()
    try:
        setup = FleetJob(snapshot=str(folder)).setup(engine)
        rows = read_fleet(str(folder / "managed_devices.jsonl"), decode=False)
        summary = evaluate_fleet(rows, setup.engine, setup.policy, reader=device_reader(folder))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary.devices == sum(1 for _ in (folder / "managed_devices.jsonl").open())
    return peak


def test_memory_stays_flat_as_the_snapshot_grows(tenant_pulled, tmp_path):
    _, folder, _, _ = tenant_pulled
    small = _copy_with_manifest(folder, tmp_path / "small")
    large = _copy_with_manifest(folder, tmp_path / "large")
    devices = (folder / "managed_devices.jsonl").read_text().splitlines(keepends=True)
    (large / "managed_devices.jsonl").write_text("".join(devices * 5))  # 3,000 devices, streamed
    small_peak, large_peak = _peak(small), _peak(large)
    assert large_peak < small_peak + (4 << 20), (small_peak, large_peak)


def test_a_damaged_snapshot_file_is_a_clear_error(tenant_pulled, tmp_path, capsys):
    _, folder, _, _ = tenant_pulled
    damaged = _copy_with_manifest(folder, tmp_path / "s")
    with (damaged / "group_members.jsonl").open("a") as stream:
        stream.write('{"id": \n')
    code, out, err = _check(capsys, "--snapshot", str(damaged))
    assert code == 2 and out == "" and "Traceback" not in err
    lines = len((damaged / "group_members.jsonl").read_text().splitlines())
    assert f"group_members.jsonl line {lines} is not JSON" in err


_DEEP_RECORD = '{"id": "x", "deep": ' + "[" * 3000 + "]" * 3000 + "}"  # past the decoder's recursion


@pytest.mark.parametrize("name", ["group_members.jsonl", "manifest.json"])
def test_a_snapshot_file_nested_too_deep_is_a_clear_error(tenant_pulled, tmp_path, capsys, name):
    # Each once ended in "internal error (RecursionError ...)", exit 3.
    _, folder, _, _ = tenant_pulled
    damaged = _copy_with_manifest(folder, tmp_path / "s")
    if name == "manifest.json":
        (damaged / name).write_text(_DEEP_RECORD)
    else:
        with (damaged / name).open("a") as stream:
            stream.write(_DEEP_RECORD + "\n")
    code, out, err = _check(capsys, "--snapshot", str(damaged))
    assert code == 2 and out == "" and "Traceback" not in err and "internal error" not in err
    assert "JSON nested deeper than 64 levels" in err


def test_a_device_row_nested_too_deep_is_one_bad_row(tenant_pulled, tmp_path, capsys):
    # It once ended the run in "internal error (RecursionError ...)". The devices are the fleet's
    # rows: the other devices are evaluated.
    _, folder, _, _ = tenant_pulled
    damaged = _copy_with_manifest(folder, tmp_path / "s")
    with (damaged / "managed_devices.jsonl").open("a") as stream:
        stream.write(_DEEP_RECORD + "\n")
    code, out, err = _check(capsys, "--snapshot", str(damaged))
    assert code == 2 and "Traceback" not in err and "internal error" not in err
    assert "Fleet: 600 devices evaluated" in out


@pytest.mark.parametrize(
    "name, line, expected",
    [
        ("encryption_states.jsonl", _DEEP_RECORD, "is not JSON (JSON nested deeper than 64 levels)"),
        ("recovery_keys.jsonl", _DEEP_RECORD, "is not JSON (JSON nested deeper than 64 levels)"),
        ("encryption_states.jsonl", "}{", "is not JSON (Expecting value"),
        ("recovery_keys.jsonl", "[1, 2]", "is not a JSON object"),
        ("encryption_states.jsonl", '{"id": 7}', "gives `id` as a JSON number, not a string as Graph's ids are"),
        (
            "recovery_keys.jsonl",
            '{"deviceId": ["x"]}',
            "gives `deviceId` as a JSON array, not a string as Graph's ids are",
        ),
    ],
)
def test_a_damaged_line_of_a_file_joined_to_devices_refuses_the_snapshot(
    tenant_pulled, tmp_path, capsys, name, line, expected
):
    # A line of these files was once skipped without a word (its device then checked without
    # its encryption report row or its keys), or, nested too deep, ended in a RecursionError.
    _, folder, _, _ = tenant_pulled
    damaged = _copy_with_manifest(folder, tmp_path / "s")
    number = len((damaged / name).read_text().splitlines()) + 1
    with (damaged / name).open("a") as stream:
        stream.write(line + "\n")
    for command in (["check", "--snapshot", str(damaged)], ["check", "--snapshot", str(damaged), "--jobs", "2"]):
        code = main(command)
        out, err = capsys.readouterr()
        assert code == 2 and out == "" and "Traceback" not in err, err
        assert f"error[I701]: {name} line {number} {expected}" in err


@pytest.mark.parametrize(
    "name, change, path, found",
    [
        (
            "device_configuration_assignments.jsonl",
            ("@bitlockerRules.policy", "id", []),
            '$["@bitlockerRules.policy"].id',
            "a JSON array, not the id of the policy assigned",
        ),
        (
            "intent_assignments.jsonl",
            ("@bitlockerRules.policy", "id", None),
            '$["@bitlockerRules.policy"].id',
            "missing or null, not the id of the policy assigned",
        ),
        (
            "configuration_policy_assignments.jsonl",
            ("target", None, 5),
            "$.target",
            "a JSON number, not the assignment's target",
        ),
        (
            "group_members.jsonl",
            ("@bitlockerRules.groupId", None, {}),
            '$["@bitlockerRules.groupId"]',
            "a JSON object, not the group's id",
        ),
        ("assignment_filters.jsonl", ("id", None, None), "$.id", "missing or null, not the filter's id"),
    ],
)
def test_a_record_without_what_pull_writes_refuses_the_snapshot_naming_its_field(
    tenant_pulled, tmp_path, capsys, name, change, path, found
):
    # An assignment whose policy id was a list once ended in "internal error (TypeError ...)";
    # one whose target was not an object, a member without its group, a filter without its id
    # were left out without a word, changing which devices get which policies.
    _, folder, _, _ = tenant_pulled
    damaged = _copy_with_manifest(folder, tmp_path / "s")
    lines = (damaged / name).read_text().splitlines()
    record = json.loads(lines[1])
    key, inner, value = change
    if inner is None:
        record[key] = value
    else:
        record[key][inner] = value
    lines[1] = json.dumps(record)
    (damaged / name).write_text("\n".join(lines) + "\n")
    code, out, err = _check(capsys, "--snapshot", str(damaged))
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert f"{damaged / name}: {path}: error[I701]: line 2: {found}" in err
    assert "pull again into a new folder" in err


def test_a_snapshot_line_that_is_not_utf8_is_named(tenant_pulled, tmp_path, capsys):
    # It once ended in "internal error (UnicodeDecodeError ...)", exit 3.
    _, folder, _, _ = tenant_pulled
    damaged = _copy_with_manifest(folder, tmp_path / "s")
    data = (damaged / "groups.jsonl").read_bytes().split(b"\n")
    data[2] = data[2][:10] + b"\xff" + data[2][10:]
    (damaged / "groups.jsonl").write_bytes(b"\n".join(data))
    code, out, err = _check(capsys, "--snapshot", str(damaged))
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert "error[I701]: groups.jsonl line 3 is not UTF-8 text (byte 11)" in err


def test_a_snapshot_run_goes_into_a_results_store_with_its_manifest(tenant_pulled, tmp_path, capsys):
    """check --snapshot --store: the run records the snapshot's manifest and devices with their
    digests (it crashed: a snapshot run has no --fleet to record)."""
    import hashlib

    from bitlocker_rules.history import Store

    _, folder, _, _ = tenant_pulled
    store = tmp_path / "runs.duckdb"
    code, _, err = _check(capsys, "--snapshot", str(folder), "--store", str(store), "--format", "json")
    assert code in (0, 1), err
    with Store(store) as opened:
        (run,) = opened.runs()
        assert run.devices == 600
    roles = {i.role: i for i in run.inputs}
    manifest = folder / "manifest.json"
    assert roles["snapshot"].name == str(manifest)
    assert roles["snapshot"].sha256 == hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert roles["fleet"].name.endswith("managed_devices.jsonl")


def test_an_intent_setting_of_a_nested_property_lands_in_its_object():
    """Intents name a drive policy's property by its path (``…_bitLockerSystemDrivePolicy_encryptionMethod``,
    as tenants' intents carry them) or set the whole object: both read as the profile's nested object."""
    from bitlocker_rules.snapshot import intent_as_profile

    prefix = "deviceConfiguration--windows10EndpointProtectionConfiguration_"
    intent = {
        "id": "i-1",
        "displayName": "Disk encryption",
        "settings": [
            {
                "definitionId": prefix + "bitLockerSystemDrivePolicy",
                "valueJson": '{"startupAuthenticationRequired": true}',
            },
            {"definitionId": prefix + "bitLockerSystemDrivePolicy_encryptionMethod", "valueJson": '"xtsAes256"'},
            {"definitionId": prefix + "bitLockerEncryptDevice", "valueJson": "true"},
        ],
    }
    notes: list[str] = []
    profile = intent_as_profile(intent, notes)
    assert profile["bitLockerSystemDrivePolicy"] == {
        "startupAuthenticationRequired": True,
        "encryptionMethod": "xtsAes256",
    }
    assert profile["bitLockerEncryptDevice"] is True and not notes
