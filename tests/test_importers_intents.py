"""The older endpoint-security intents (``deviceManagementIntent`` with its settings) as
``--policy`` files: read as the Endpoint protection profile their settings make, each value
placed at the setting that gave it; emitted, applied and read back; checked."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from graph_fake import DISK_ENCRYPTION_TEMPLATE, LocalGraph, Tenant
from test_tenant_pull import TOKENS, quick

from bitlocker_rules import merge_facts, shipped_vocabulary
from bitlocker_rules.cli import main
from bitlocker_rules.emit import apply_to, emit_repair, read_emitted
from bitlocker_rules.importers import import_policies, import_policy, load_policies
from bitlocker_rules.importers.detect import detect
from bitlocker_rules.importers.intents import intent_as_profile
from bitlocker_rules.snapshot import read_snapshot
from bitlocker_rules.tenant import PullOptions, pull

VOCABULARY = shipped_vocabulary()
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "graph" / "endpoint-security-intent.json"
PROFILE = ROOT / "examples" / "graph" / "endpoint-protection-startup-pin.json"
DEVICE = str(ROOT / "examples" / "device-legacy.json")
PREFIX = "deviceConfiguration--windows10EndpointProtectionConfiguration_"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def origin_of(policy, fact: str):
    (origin,) = policy.facts.origins[fact]
    return origin


# --- each setting read, and where it was read ----------------------------------------------

# fact -> (value, index of the setting, the property inside its valueJson or None)
EXPECTED = {
    "policy.require_device_encryption": ("Require", 0, None),
    "policy.warning_for_other_disk_encryption": ("Block", 1, None),
    "policy.allow_standard_user_encryption": ("Allow", 2, None),
    "policy.recovery_password_rotation": ("AzureAD", 3, None),
    "policy.tpm_startup_pin": ("Required", 4, "startupAuthenticationTpmPinUsage"),
    "policy.minimum_pin_length": (6, 4, "minimumPinLength"),
    "policy.os_encryption_method": ("XtsAes256", 4, "encryptionMethod"),
    "policy.os_recovery_information_to_store": ("PasswordAndKey", 4, "recoveryOptions.recoveryInformationToStore"),
    "policy.fdv_recovery_information_to_store": ("PasswordOnly", 5, "recoveryOptions.recoveryInformationToStore"),
    "policy.removable_unprotected_write_access": ("Block", 6, "requireEncryptionForWriteAccess"),
}


@pytest.mark.parametrize("fact", sorted(EXPECTED))
def test_each_setting_of_the_example_is_read_at_its_setting(fact):
    policy = import_policy(load(EXAMPLE), VOCABULARY, origin="intent.json")
    value, number, inside = EXPECTED[fact]
    assert policy.facts.values[fact] == value
    origin = origin_of(policy, fact)
    setting = load(EXAMPLE)["settings"][number]
    # The value is cited at the setting's valueJson, by the setting's definitionId (and, inside a
    # complex setting, the property in its value): where the admin finds it in the export.
    assert origin.path == ("settings", number, "valueJson")
    assert setting["definitionId"] in origin.note
    assert (inside in origin.note) if inside else ("in its value" not in origin.note)


def test_an_intent_reads_as_the_profile_its_settings_make():
    """One reading: the intent's facts are those of the profile ``intent_as_profile`` makes (the
    reading ``check --snapshot`` used), only their places differ."""
    document = load(EXAMPLE)
    policy = import_policy(document, VOCABULARY, origin="intent.json")
    as_profile = import_policy(intent_as_profile(document, []), VOCABULARY, origin="profile.json")
    assert policy.kind == "endpoint-security-intent"
    assert policy.policy_type == as_profile.policy_type == "EndpointProtectionTemplate"
    assert dict(policy.facts.values) == dict(as_profile.facts.values)
    assert len(policy.facts.values) > len(EXPECTED)
    assert (policy.policy_id, policy.display_name) == (document["id"], document["displayName"])
    assert origin_of(policy, "policy.policy_type").path == ("templateId",)


@pytest.mark.parametrize(
    "how",
    ["as exported", "typed", "without type or context (as a pull stores it)", "settings only, no templateId"],
)
def test_an_intent_is_recognised_however_it_was_exported(how):
    document = load(EXAMPLE)
    if how == "typed":
        document["@odata.type"] = "#microsoft.graph.deviceManagementIntent"
    elif how != "as exported":
        del document["@odata.context"]
    if how.startswith("settings only"):
        del document["templateId"]
    assert detect(document).kind == "endpoint-security-intent"
    assert import_policy(document, VOCABULARY).facts.values["policy.tpm_startup_pin"] == "Required"


def test_a_page_of_intents_gives_each_intent_at_its_place_in_the_page():
    first = load(EXAMPLE)
    second = copy.deepcopy(first)
    second["id"], second["displayName"] = "0b8f6d24-1c3e-4a5b-9d7f-2e4a6c8e0f13", "ES - second"
    second["settings"] = [second["settings"][1]]
    page = {"@odata.context": "https://graph.microsoft.com/beta/$metadata#deviceManagement/intents(settings())"}
    page["value"] = [first, second]
    read = import_policies(page, VOCABULARY, origin="page.json")
    assert [p.policy_id for p in read] == [first["id"], second["id"]]
    assert origin_of(read[1], "policy.warning_for_other_disk_encryption").path == (
        "value",
        1,
        "settings",
        0,
        "valueJson",
    )
    assert "policy.tpm_startup_pin" not in read[1].facts.values  # not in that intent: missing, never false


def test_a_setting_the_project_cannot_read_is_noted_not_guessed():
    document = load(EXAMPLE)
    other_template = {"definitionId": "deviceConfiguration--windows10GeneralConfiguration_edgeBlockPasswordManager"}
    document["settings"] += [
        {**other_template, "id": "x1", "valueJson": "true"},
        {"id": "x2", "definitionId": PREFIX + "bitLockerEncryptDevice_x", "valueJson": "not json"},
        {"id": "x3", "definitionId": PREFIX + "bitLockerAllowStandardUserEncryption", "value": True},
    ]
    policy = import_policy(document, VOCABULARY, origin="intent.json")
    unread = {n.input_place.path: n.message for n in policy.notices if n.code == "N403"}
    count = len(load(EXAMPLE)["settings"])
    assert set(unread) == {("settings", count + n) for n in range(3)}
    assert "names no property" in unread[("settings", count)]
    assert "not JSON" in unread[("settings", count + 1)]
    assert "no `valueJson`" in unread[("settings", count + 2)]
    # What was read is unchanged: the unreadable settings gave nothing, not a guess.
    assert policy.facts.values == import_policy(load(EXAMPLE), VOCABULARY).facts.values


def test_an_intent_exported_without_its_settings_says_so():
    document = {k: v for k, v in load(EXAMPLE).items() if k != "settings"}
    policy = import_policy(document, VOCABULARY, origin="intent.json")
    assert [n.code for n in policy.notices] == ["N406"]
    assert "$expand=settings" in policy.notices[0].message
    assert "policy.tpm_startup_pin" not in policy.facts.values


# --- check, repair --emit, plan --patch ------------------------------------------------------


def test_check_on_an_intent_cites_its_setting(capsys):
    code = main(["check", "--policy", str(EXAMPLE), "--device", DEVICE, "--rules", "silent_enablement"])
    out = " ".join(capsys.readouterr().out.split())  # as read, not as wrapped
    assert code == 1
    assert f"value from: {EXAMPLE} $.settings[4].valueJson (setting {PREFIX}bitLockerSystemDrivePolicy," in out


def test_sarif_locates_an_intent_finding_at_its_setting(capsys):
    main(["check", "--policy", str(EXAMPLE), "--device", DEVICE, "--rules", "silent_enablement", "--format", "sarif"])
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    (pin,) = [r for r in results if r["ruleId"] == "SE-09"]
    (location,) = [
        loc for loc in pin["locations"] if loc["physicalLocation"]["artifactLocation"]["uri"].endswith(EXAMPLE.name)
    ]
    line = EXAMPLE.read_text(encoding="utf-8").splitlines()[location["physicalLocation"]["region"]["startLine"] - 1]
    assert '"valueJson"' in line and "startupAuthenticationTpmPinUsage" in line


def test_repair_emit_apply_and_import_round_trip(tmp_path, capsys):
    """repair --policy INTENT --emit: an updateSettings request that, applied as Graph would,
    is an intent the importers read to exactly the repaired settings."""
    code = main(["repair", "--policy", str(EXAMPLE), "--device", DEVICE, "--emit", str(tmp_path), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1  # the device's own prerequisites remain
    (change,) = report["changes"]
    (entry,) = report["emitted"]
    emitted = read_emitted(entry["file"])
    document = load(EXAMPLE)
    assert (emitted.method, emitted.url) == ("POST", f"/beta/deviceManagement/intents/{document['id']}/updateSettings")
    (sent,) = emitted.body["settings"]
    assert (sent["id"], sent["definitionId"]) == (
        document["settings"][4]["id"],
        document["settings"][4]["definitionId"],
    )
    before = import_policy(document, VOCABULARY).facts.values
    after = import_policy(apply_to(document, emitted), VOCABULARY).facts.values
    assert dict(after) == {**before, change["fact"]: change["new_value"]}


def test_emitted_intents_of_a_page_go_to_the_intent_that_sets_the_fact():
    second = load(EXAMPLE)
    second["id"], second["settings"] = "0b8f6d24-1c3e-4a5b-9d7f-2e4a6c8e0f13", second["settings"][:1]
    page = {"value": [second, load(EXAMPLE)]}
    policies = list(zip(page["value"], import_policies(page, VOCABULARY), strict=True))
    (emitted,) = emit_repair(policies, {"policy.tpm_startup_pin": "Blocked"}, VOCABULARY)
    assert emitted.policy.id == load(EXAMPLE)["id"]


def test_plan_patch_applies_the_emitted_request_to_the_intent(tmp_path, capsys):
    main(["repair", "--policy", str(EXAMPLE), "--device", DEVICE, "--emit", str(tmp_path), "--quiet"])
    (emitted,) = tmp_path.iterdir()
    capsys.readouterr()
    fleet = str(ROOT / "examples" / "fleet.jsonl")
    args = ["plan", "--policy", str(EXAMPLE), "--fleet", fleet, "--patch", str(emitted), "--rules", "silent_enablement"]
    code = main([*args, "--format", "json"])
    plan = json.loads(capsys.readouterr().out)
    assert code == 0
    assert plan["proposal"]["patched"] == [load(EXAMPLE)["id"]]
    (setting,) = plan["fleet"]["settings"]
    assert setting["setting"] == "policy.tpm_startup_pin"
    assert setting["before"] == "Require startup PIN with TPM" != setting["after"]
    (pin,) = [r for r in plan["fleet"]["diff"]["rules"] if r["rule"] == "SE-09"]
    assert pin["fixed"] == pin["before"]["fail"] > 0 and pin["after"]["fail"] == 0


def test_an_intent_and_a_profile_that_disagree_are_a_conflict_citing_each():
    """An intent and a profile that disagree on the startup PIN: a conflict naming both, each
    value cited at its own place (the intent's at its setting)."""
    profile = load(PROFILE)
    profile["bitLockerSystemDrivePolicy"]["startupAuthenticationTpmPinUsage"] = "blocked"
    policies = load_policies(EXAMPLE, VOCABULARY) + import_policies(profile, VOCABULARY, origin="profile.json")
    facts = merge_facts([p.facts for p in policies])
    (conflict,) = [c for c in facts.conflicts if c.fact == "policy.tpm_startup_pin"]
    places = {origin.path for origins, _ in conflict.values for origin in origins}
    assert places == {("settings", 4, "valueJson"), ("bitLockerSystemDrivePolicy", "startupAuthenticationTpmPinUsage")}


# --- a snapshot's intents: the same reading ----------------------------------------------------


def test_a_snapshots_intent_is_read_as_a_policy_file_is(tmp_path):
    """A pulled intent goes through the same reader: its values cited at its settings (the SARIF
    location on its line), a setting it cannot read said in the snapshot's notes."""
    tenant = Tenant(seed=7, policies=2, groups=2, devices=3)
    intent = next(i for i in tenant.intents if i["templateId"] == DISK_ENCRYPTION_TEMPLATE)
    intent["settings"].append({"id": "x1", "definitionId": PREFIX + "bitLockerSystemDrivePolicy", "valueJson": "{"})
    local = LocalGraph(tenant, page_size=100)
    try:
        pull(PullOptions(tmp_path / "snapshot", local.url, concurrency=2), TOKENS, pacing=quick())
    finally:
        local.stop()
    snapshot = read_snapshot(tmp_path / "snapshot", VOCABULARY)
    (policy,) = [p for p in snapshot.policies if p.policy_id == intent["id"]]
    assert policy.kind == "endpoint-security-intent"
    assert origin_of(policy, "policy.require_device_encryption").path == ("settings", 0, "valueJson")
    (note,) = [n for n in snapshot.notes if "not JSON" in n]
    assert intent["displayName"] in note and "bitLockerSystemDrivePolicy" in note


def test_a_bare_patch_of_an_intents_settings_replaces_each_by_its_definition(tmp_path, capsys):
    """A bare body ``{"settings": [...]}`` over an exported intent is applied setting by setting,
    by ``definitionId``, as ``updateSettings`` is: the other settings stay."""
    document = load(EXAMPLE)
    drive = json.loads(document["settings"][4]["valueJson"])
    sent = {
        **document["settings"][4],
        "valueJson": json.dumps({**drive, "startupAuthenticationTpmPinUsage": "blocked"}),
    }
    patch = tmp_path / f"{document['id']}.json"
    patch.write_text(json.dumps({"settings": [sent]}))
    fleet = str(ROOT / "examples" / "fleet.jsonl")
    args = ["plan", "--policy", str(EXAMPLE), "--fleet", fleet, "--patch", str(patch), "--rules", "silent_enablement"]
    assert main([*args, "--format", "json"]) == 0
    (setting,) = json.loads(capsys.readouterr().out)["fleet"]["settings"]  # only the PIN: nothing else went
    assert (setting["setting"], setting["after"]) == ("policy.tpm_startup_pin", "Do not allow startup PIN with TPM")


def test_a_value_json_nested_too_deep_is_an_unread_setting_not_a_crash():
    # json.loads of a valueJson a thousand levels deep raised RecursionError (an internal error,
    # exit 3) in the importer and in the drift of two snapshots; now it is text that is not JSON.
    from bitlocker_rules.history.drift import policy_settings
    from bitlocker_rules.importers import import_policy, index_for
    from bitlocker_rules.vocabulary import shipped_vocabulary

    record = json.loads((ROOT / "examples" / "graph" / "endpoint-security-intent.json").read_text(encoding="utf-8"))
    record["settings"][0]["valueJson"] = "[" * 3000 + "]" * 3000
    vocabulary = shipped_vocabulary()
    imported = import_policy(record, vocabulary)
    assert [n.code for n in imported.notices] == ["N403"]
    assert (
        "bitLockerEncryptDevice` is not read: it has a `valueJson` that is not JSON text" in imported.notices[0].message
    )
    # The drift of two snapshots reads it as it reads any valueJson that is not JSON: as its text.
    index = index_for(vocabulary)
    settings = dict(policy_settings(record, "intents", index))
    record["settings"][0]["valueJson"] = "not JSON"
    assert settings.keys() == dict(policy_settings(record, "intents", index)).keys()


def test_a_drive_policy_property_named_by_its_path_merges_with_the_whole_policy():
    """A setting may name a property of a nested drive policy by its path (``…_bitLockerSystemDrivePolicy_encryptionMethod``:
    each ``_`` after the prefix goes one level down), and a later setting giving the whole drive policy
    is merged with it, not put in its place: both values are read, each at its own setting."""
    intent = {
        "id": "i-2",
        "displayName": "By path",
        "templateId": "t-1",
        "settings": [
            {"definitionId": PREFIX + "bitLockerSystemDrivePolicy_encryptionMethod", "valueJson": '"xtsAes128"'},
            {"definitionId": PREFIX + "bitLockerSystemDrivePolicy", "valueJson": json.dumps({"minimumPinLength": 6})},
        ],
    }
    policy = import_policy(intent, VOCABULARY, origin="intent.json")
    assert policy.facts.values["policy.os_encryption_method"] == "XtsAes128"
    assert policy.facts.values["policy.minimum_pin_length"] == 6
    assert origin_of(policy, "policy.os_encryption_method").path == ("settings", 0, "valueJson")
    assert origin_of(policy, "policy.minimum_pin_length").path == ("settings", 1, "valueJson")


def test_an_intent_listed_without_type_and_settings_is_still_an_intent():
    """A pull stores an intent without ``@odata.type``; listed without ``$expand=settings`` only its
    ``templateId`` tells what it is, and it must say its settings are missing (N406), not be refused."""
    document = {k: v for k, v in load(EXAMPLE).items() if k not in ("settings", "@odata.context", "@odata.type")}
    policy = import_policy(document, VOCABULARY, origin="intent.json")
    assert policy.kind == "endpoint-security-intent"
    assert [n.code for n in policy.notices] == ["N406"]
