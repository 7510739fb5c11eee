"""repair --emit: each policy's repair written in the shape it came in, and read back by the
importers to exactly the repaired settings (per shape on the shipped examples, and Hypothesis
over generated policies and repairs)."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report_formats import load_schema, validate

from bitlocker_rules import InputError, shipped_vocabulary
from bitlocker_rules.cli import main
from bitlocker_rules.emit import (
    EmitError,
    apply_to,
    emit_files,
    emit_policy,
    emit_repair,
    read_emitted,
    write_emitted,
)
from bitlocker_rules.importers import import_policy, index_for, parse_admx
from bitlocker_rules.importers.origins import Binding, normalise_csp

VOCABULARY = shipped_vocabulary()
INDEX = index_for(VOCABULARY)
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GRAPH = EXAMPLES / "graph"
EP_TYPE = "windows10EndpointProtectionConfiguration"
CATALOG = "device_vendor_msft_bitlocker_"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def imported(document: dict):
    """The policy as ``check --policy`` reads it (an endpoint-security intent as the profile its settings make)."""
    return import_policy(document, VOCABULARY, origin="policy.json")


def round_trip(document: dict, changes: dict) -> tuple[dict, dict]:
    """Emit ``changes`` onto ``document``, apply the request as Graph would, import again:
    (settings expected, settings read back)."""
    policy = imported(document)
    (emitted,) = emit_repair([(document, policy)], changes, VOCABULARY)
    back = imported(apply_to(document, emitted))
    return {**policy.facts.values, **changes}, dict(back.facts.values)


# --- the done-when: the legacy device's policy ------------------------------------


def test_the_legacy_devices_repair_is_a_graph_patch_the_importer_reads_back(tmp_path, capsys):
    policy_file = GRAPH / "endpoint-protection-startup-pin.json"
    code = main(
        [
            "repair",
            "--policy",
            str(policy_file),
            "--device",
            str(EXAMPLES / "device-legacy.json"),
            "--emit",
            str(tmp_path),
            "--format",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1  # the device still needs UEFI, 1809, …: prerequisites no policy can give
    assert [c["fact"] for c in report["changes"]] == ["policy.tpm_startup_pin"]
    (entry,) = report["emitted"]
    emitted = read_emitted(entry["file"])
    original = load(policy_file)
    assert emitted.method == "PATCH"
    assert emitted.url == f"/beta/deviceManagement/deviceConfigurations/{original['id']}"
    # Only what changed, the nested drive policy whole (its other properties as they were).
    assert set(emitted.body) == {"@odata.type", "bitLockerSystemDrivePolicy"}
    system = emitted.body["bitLockerSystemDrivePolicy"]
    assert system["startupAuthenticationTpmPinUsage"] == "blocked"
    assert {k: v for k, v in system.items() if k != "startupAuthenticationTpmPinUsage"} == {
        k: v for k, v in original["bitLockerSystemDrivePolicy"].items() if k != "startupAuthenticationTpmPinUsage"
    }
    before = imported(original).facts.values
    after = imported(apply_to(original, emitted)).facts.values
    new_value = report["changes"][0]["new_value"]
    assert after == {**before, "policy.tpm_startup_pin": new_value}
    assert validate(json.loads(Path(entry["file"]).read_text()), load_schema("emit-1.json")) == []


def test_repair_then_check_passes_the_rule_the_change_was_for(tmp_path, capsys):
    """The emitted change applied to the export is a policy the next check reads: the rule the
    repair fixed (SE-09, no startup PIN with silent enablement) no longer fails."""
    policy_file = GRAPH / "endpoint-protection-startup-pin.json"
    device = str(EXAMPLES / "device-legacy.json")
    main(["repair", "--policy", str(policy_file), "--device", device, "--emit", str(tmp_path), "--quiet"])
    (path,) = tmp_path.iterdir()
    repaired = tmp_path / "repaired.json"
    repaired.write_text(json.dumps(apply_to(load(policy_file), read_emitted(path))))
    capsys.readouterr()

    def failing(policy: Path) -> set[str]:
        main(["check", "--policy", str(policy), "--device", device, "--format", "json"])
        data = json.loads(capsys.readouterr().out)
        return {r["rule"] for r in data["results"] if r["status"] == "fail"}

    fixed = failing(policy_file) - failing(repaired)
    assert fixed and failing(repaired) < failing(policy_file)


# --- each shape on the shipped examples ---------------------------------------------------


def test_endpoint_protection_changes_only_the_properties_it_names():
    document = load(GRAPH / "endpoint-protection-beta.json")
    changes = {"policy.recovery_password_rotation": "Disabled", "policy.os_recovery_block_dra": "NotConfigured"}
    policy = imported(document)
    (emitted,) = emit_repair([(document, policy)], changes, VOCABULARY)
    assert set(emitted.body) == {"@odata.type", "bitLockerRecoveryPasswordRotation", "bitLockerSystemDrivePolicy"}
    options = emitted.body["bitLockerSystemDrivePolicy"]["recoveryOptions"]
    assert options["blockDataRecoveryAgent"] is False  # inverted: NotConfigured is "do not block"
    assert (
        options["recoveryPasswordUsage"]
        == document["bitLockerSystemDrivePolicy"]["recoveryOptions"]["recoveryPasswordUsage"]
    )
    expected, back = round_trip(document, changes)
    assert back == expected


def test_endpoint_protection_null_drive_policy_is_made():
    document = load(GRAPH / "endpoint-protection-beta.json")
    document["bitLockerFixedDrivePolicy"] = None
    expected, back = round_trip(document, {"policy.fixed_encryption_method": "XtsAes128"})
    assert back["policy.fixed_encryption_method"] == "XtsAes128"
    assert back == expected  # the other settings the null object meant not configured still are


def test_settings_catalog_choice_child_and_simple_values():
    document = load(GRAPH / "settings-catalog-bitlocker.json")
    changes = {
        "policy.tpm_startup_pin": "Required",
        "policy.minimum_pin_length": 8,
        "policy.recovery_password_rotation": "Disabled",
    }
    (emitted,) = emit_repair([(document, imported(document))], changes, VOCABULARY)
    assert emitted.method == "PUT"
    assert emitted.url == f"/beta/deviceManagement/configurationPolicies/{document['id']}"
    assert set(emitted.body) == {
        "name",
        "description",
        "platforms",
        "technologies",
        "roleScopeTagIds",
        "templateReference",
        "settings",
    }
    expected, back = round_trip(document, changes)
    assert back == expected


def test_settings_catalog_disabled_parent_carries_no_children():
    document = load(GRAPH / "settings-catalog-bitlocker.json")
    parent = CATALOG + "systemdrivesrequirestartupauthentication"
    (emitted,) = emit_repair(
        [(document, imported(document))], {"policy.additional_authentication_at_startup": "NotConfigured"}, VOCABULARY
    )
    instance = next(
        s["settingInstance"] for s in emitted.body["settings"] if s["settingInstance"]["settingDefinitionId"] == parent
    )
    assert instance["choiceSettingValue"] == {**instance["choiceSettingValue"], "value": parent + "_0", "children": []}
    back = imported(apply_to(document, emitted)).facts.values
    assert back["policy.additional_authentication_at_startup"] == "NotConfigured"
    assert back["policy.tpm_startup_pin"] == "NotConfigured"  # what a disabled parent means


def test_settings_catalog_parent_enabled_again_takes_its_children_from_the_repair():
    # A disabled parent's children read as Not configured, which an enabled parent cannot carry:
    # enabling it needs a value for each, and a repair that gives none is a clear error naming
    # them (it was "policy.tpm_startup = NotConfigured has no catalog value"). The mutation run
    # of the sixteenth session: the children of a parent enabled again were never rebuilt.
    document = load(GRAPH / "settings-catalog-bitlocker.json")
    enable = {"policy.additional_authentication_at_startup": "Require"}
    (off,) = emit_repair(
        [(document, imported(document))], {"policy.additional_authentication_at_startup": "NotConfigured"}, VOCABULARY
    )
    disabled = apply_to(document, off)
    with pytest.raises(EmitError) as refused:
        emit_repair([(disabled, imported(disabled))], enable, VOCABULARY)
    said = str(refused.value)
    assert "enabling device_vendor_msft_bitlocker_systemdrivesrequirestartupauthentication needs a value" in said
    assert "policy.tpm_startup_pin" in said and "which an enabled parent cannot carry" in said
    children = {
        name: value
        for name, value in imported(document).facts.values.items()
        if VOCABULARY.facts[name].origins.get("csp_data_id")
        and "StartupAuthentication" in VOCABULARY.facts[name].origins["csp"]
    }
    assert "policy.tpm_startup_pin" in children
    expected, back = round_trip(disabled, {**enable, **children})
    assert back == expected


def test_settings_catalog_child_of_an_absent_parent_gets_the_parent_enabled():
    document = load(GRAPH / "settings-catalog-bitlocker.json")
    document["settings"] = [
        s for s in document["settings"] if "systemdrivesrequirestartupauthentication" not in json.dumps(s)
    ]
    expected, back = round_trip(document, {"policy.tpm_startup_pin": "Blocked"})
    assert back == {**expected, "policy.additional_authentication_at_startup": "Require"}


def test_oma_uri_integer_admx_data_and_state():
    document = load(GRAPH / "custom-oma-uri.json")
    changes = {
        "policy.require_device_encryption": "NotConfigured",
        "policy.tpm_startup_pin": "Required",
        "policy.fixed_unprotected_write_access": "Block",
    }
    (emitted,) = emit_repair([(document, imported(document))], changes, VOCABULARY)
    assert emitted.method == "PATCH" and set(emitted.body) == {"@odata.type", "omaSettings"}
    by_uri = {s["omaUri"].rsplit("/", 1)[-1]: s for s in emitted.body["omaSettings"]}
    assert by_uri["RequireDeviceEncryption"]["value"] == 0
    startup = parse_admx(by_uri["SystemDrivesRequireStartupAuthentication"]["value"])
    original = parse_admx(
        next(s for s in document["omaSettings"] if s["omaUri"].endswith("StartupAuthentication"))["value"]
    )
    assert [i for i, _ in startup.data] == [i for i, _ in original.data]  # each data id keeps its place
    assert dict(startup.data)["ConfigurePINUsageDropDown_Name"] == "1"
    assert len(emitted.body["omaSettings"]) == len(document["omaSettings"])  # the collection goes whole
    expected, back = round_trip(document, changes)
    assert back == expected


def test_oma_uri_string_xml_value_stays_base64():
    document = load(GRAPH / "custom-oma-uri.json")
    setting = next(s for s in document["omaSettings"] if s["omaUri"].endswith("StartupAuthentication"))
    setting["@odata.type"] = "#microsoft.graph.omaSettingStringXml"
    setting["value"] = base64.b64encode(setting["value"].encode()).decode()
    expected, back = round_trip(document, {"policy.tpm_startup_pin": "Required"})
    assert back == expected


def test_oma_uri_encrypted_value_is_never_sent_and_cannot_be_changed():
    document = load(GRAPH / "custom-oma-uri.json")
    secret = document["omaSettings"][1]
    secret.update(isEncrypted=True, value="ZW5jcnlwdGVk", secretReferenceValueId="ref-1")
    (emitted,) = emit_repair(
        [(document, imported(document))], {"policy.require_device_encryption": "NotConfigured"}, VOCABULARY
    )
    sent = emitted.body["omaSettings"][1]
    assert "value" not in sent and sent["secretReferenceValueId"] == "ref-1"
    with pytest.raises(EmitError, match="encrypted"):
        emit_repair([(document, imported(document))], {"policy.warning_for_other_disk_encryption": "Block"}, VOCABULARY)


def test_project_json_gets_the_project_json():
    document = load(EXAMPLES / "policy-silent.json")
    (emitted,) = emit_repair([(document, imported(document))], {"policy.tpm_startup_pin": "Required"}, VOCABULARY)
    assert emitted.method is None and emitted.url is None
    assert emitted.body["settings"]["tpm_startup_pin"] == "Required"
    expected, back = round_trip(document, {"policy.tpm_startup_pin": "Required"})
    assert back == expected


# --- endpoint-security intents: updateSettings -------------------------------------------

INTENT_PREFIX = "deviceConfiguration--windows10EndpointProtectionConfiguration_"
COMPLEX = "#microsoft.graph.deviceManagementComplexSettingInstance"


def intent(*settings: dict) -> dict:
    """A disk encryption intent as a pull stores it (its settings expanded)."""
    return {
        "id": "5d1c2b3a-0000-4000-8000-00000000000a",
        "displayName": "ES - BitLocker",
        "description": "",
        "templateId": "d1174162-1dd2-4976-affc-6667049ab0ae",
        "settings": list(settings),
    }


def setting(number: int, kind: str, name: str, value) -> dict:
    return {
        "@odata.type": f"#microsoft.graph.deviceManagement{kind}SettingInstance",
        "id": f"s{number}",
        "definitionId": INTENT_PREFIX + name,
        "valueJson": json.dumps(value),
    }


OTHER_TEMPLATE = {  # a setting the intent reader does not read: kept, never sent
    "@odata.type": "#microsoft.graph.deviceManagementStringSettingInstance",
    "id": "s9",
    "definitionId": "deviceConfiguration--windows10GeneralConfiguration_edgeBlockPasswordManager",
    "valueJson": "true",
}


def test_an_intent_is_updated_through_its_update_settings_action():
    document = intent(
        setting(0, "Boolean", "bitLockerEncryptDevice", True),
        setting(1, "Complex", "bitLockerSystemDrivePolicy", {"encryptionMethod": "xtsAes256"}),
        OTHER_TEMPLATE,
    )
    changes = {"policy.tpm_startup_pin": "Required", "policy.require_device_encryption": "NotConfigured"}
    (emitted,) = emit_repair([(document, imported(document))], changes, VOCABULARY)
    assert (emitted.method, emitted.url) == ("POST", f"/beta/deviceManagement/intents/{document['id']}/updateSettings")
    assert emitted.policy.kind == "endpoint-security-intent"
    assert validate(emitted.to_dict(), load_schema("emit-1.json")) == []
    assert emitted.resource == f"/beta/deviceManagement/intents/{document['id']}"
    # Only the settings a change is in, each keeping the intent's id and type; the drive policy whole.
    (encrypt, drive) = sorted(emitted.body["settings"], key=lambda s: s["id"])
    assert encrypt == {**document["settings"][0], "valueJson": "false"}
    assert {k: v for k, v in drive.items() if k != "valueJson"} == {
        k: v for k, v in document["settings"][1].items() if k != "valueJson"
    }
    assert json.loads(drive["valueJson"]) == {
        "encryptionMethod": "xtsAes256",
        "startupAuthenticationTpmPinUsage": "required",
    }
    after = apply_to(document, emitted)
    assert after["settings"][2] == OTHER_TEMPLATE  # untouched, in its place
    assert [s["id"] for s in after["settings"]] == ["s0", "s1", "s9"]
    expected, back = round_trip(document, changes)
    assert back == expected


def test_an_intent_without_the_drive_policy_gets_it_as_one_complex_setting():
    document = intent(setting(0, "Boolean", "bitLockerEncryptDevice", True))
    (emitted,) = emit_repair([(document, imported(document))], {"policy.os_encryption_method": "XtsAes128"}, VOCABULARY)
    (new,) = emitted.body["settings"]
    assert new == {
        "@odata.type": COMPLEX,
        "definitionId": INTENT_PREFIX + "bitLockerSystemDrivePolicy",
        "valueJson": json.dumps({"encryptionMethod": "xtsAes128"}),
    }
    assert [s["definitionId"] for s in apply_to(document, emitted)["settings"]][-1] == new["definitionId"]
    expected, back = round_trip(document, {"policy.os_encryption_method": "XtsAes128"})
    assert back == expected


def test_an_intent_setting_named_by_its_nested_path_is_updated_in_place():
    """The shape the intent reader also reads (INFERRED, docs/emit.md): a drive policy's property
    as a setting of its own. The change goes to that setting, not to a new complex one."""
    document = intent(setting(3, "String", "bitLockerSystemDrivePolicy_startupAuthenticationTpmPinUsage", "blocked"))
    (emitted,) = emit_repair([(document, imported(document))], {"policy.tpm_startup_pin": "Allowed"}, VOCABULARY)
    assert emitted.body["settings"] == [{**document["settings"][0], "valueJson": '"allowed"'}]
    expected, back = round_trip(document, {"policy.tpm_startup_pin": "Allowed"})
    assert back == expected


def test_an_update_settings_file_without_a_settings_list_is_a_clear_error(tmp_path):
    document = intent()
    (emitted,) = emit_repair([(document, imported(document))], {"policy.tpm_startup_pin": "Blocked"}, VOCABULARY)
    data = emitted.to_dict()
    data["body"] = {"settings": {"definitionId": "x"}}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as caught:
        read_emitted(path)
    assert [d.path for d in caught.value.diagnostics] == ["$.body.settings"]


def test_an_intent_without_its_settings_is_an_error():
    document = intent()
    policy = imported(document)
    del document["settings"]
    document["@odata.type"] = "#microsoft.graph.deviceManagementIntent"
    with pytest.raises(EmitError, match=r"expand=settings"):
        emit_policy(document, policy, {"policy.tpm_startup_pin": "Blocked"}, VOCABULARY)


# --- which policy takes a change ----------------------------------------------------------


def test_both_policies_in_conflict_take_the_change_and_a_new_setting_goes_to_the_first_that_can_say_it():
    first, second = load(GRAPH / "endpoint-protection-beta.json"), load(GRAPH / "endpoint-protection-startup-pin.json")
    policies = [(first, imported(first)), (second, imported(second))]
    emitted = emit_repair(policies, {"policy.tpm_startup_pin": "Allowed"}, VOCABULARY)
    assert [e.policy.id for e in emitted] == [first["id"], second["id"]]
    # A policy that already says the new value is not changed: only the other one is written.
    assert imported(first).facts.values["policy.tpm_startup_pin"] == "Blocked"
    (other,) = emit_repair(policies, {"policy.tpm_startup_pin": "Blocked"}, VOCABULARY)
    assert other.policy.id == second["id"]
    catalog = load(GRAPH / "settings-catalog-bitlocker.json")
    oma = load(GRAPH / "custom-oma-uri.json")
    (only,) = emit_repair(
        [(oma, imported(oma)), (catalog, imported(catalog))], {"policy.enhanced_pin": "Enabled"}, VOCABULARY
    )
    assert only.policy.id == oma["id"]


def test_a_setting_no_policy_can_hold_is_an_error_not_silence():
    document = load(GRAPH / "endpoint-protection-beta.json")
    with pytest.raises(EmitError, match=r"none of the policies has a place for policy\.enhanced_pin"):
        emit_repair([(document, imported(document))], {"policy.enhanced_pin": "Enabled"}, VOCABULARY)


def test_a_graph_policy_without_an_id_cannot_be_emitted():
    document = load(GRAPH / "endpoint-protection-beta.json")
    del document["id"]
    with pytest.raises(EmitError, match="no `id`"):
        emit_policy(document, imported(document), {"policy.tpm_startup_pin": "Blocked"}, VOCABULARY)


# --- the files ----------------------------------------------------------------------------


def test_written_files_validate_and_read_back(tmp_path):
    documents = [load(GRAPH / n) for n in ("endpoint-protection-beta.json", "settings-catalog-bitlocker.json")]
    documents += [load(GRAPH / "custom-oma-uri.json"), load(EXAMPLES / "policy-silent.json")]
    documents[3]["id"] = "silent"
    emitted = [
        e
        for d in documents
        for e in emit_repair([(d, imported(d))], {"policy.recovery_password_rotation": "Disabled"}, VOCABULARY)
    ]
    paths = write_emitted(tmp_path / "out", emitted)
    assert len({p.name for p in paths}) == 4
    schema = load_schema("emit-1.json")
    for path, item in zip(paths, emitted, strict=True):
        assert validate(json.loads(path.read_text()), schema) == []
        assert read_emitted(path) == item


def test_a_recovery_password_in_a_value_is_masked_in_the_file(tmp_path):
    document = load(EXAMPLES / "policy-silent.json")
    key = "123456-234567-345678-456789-567890-678901-789012-890123"
    document["settings"]["identification_field"] = "x"
    (emitted,) = emit_repair([(document, imported(document))], {"policy.identification_field": key}, VOCABULARY)
    (path,) = write_emitted(tmp_path, [emitted])
    assert key not in path.read_text() and "123456" not in path.read_text()


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(schema="other"), "$.schema"),
        (lambda d: d.update(method="DELETE"), "$.method"),
        (lambda d: d.update(url=None), "$.url"),
        (lambda d: d.update(url="/beta/deviceManagement/deviceConfigurations/x/../../users"), "$.url"),
        (lambda d: d.update(url="/v1.0/users/x"), "$.url"),
        (lambda d: d.update(url="/beta/deviceManagement/intents/x/updateSettings"), "$.url"),
        (lambda d: d.update(method="POST", body={"settings": []}), "$.url"),
        (lambda d: d["policy"].pop("id"), "$.policy.id"),
        (lambda d: d.update(body=[]), "$.body"),
        (lambda d: d.update(extra=1), "$.extra"),
    ],
)
def test_a_bad_emitted_file_is_a_clear_error_naming_the_field(tmp_path, change, where):
    document = load(GRAPH / "endpoint-protection-beta.json")
    (emitted,) = emit_repair([(document, imported(document))], {"policy.tpm_startup_pin": "Blocked"}, VOCABULARY)
    data = emitted.to_dict()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as caught:
        read_emitted(path)
    assert [d.path for d in caught.value.diagnostics] == [where]
    assert caught.value.diagnostics[0].code == "I420"


def test_emit_needs_policy_files(tmp_path, capsys):
    code = main(["repair", "--policy", "-", "--device", str(EXAMPLES / "device-legacy.json"), "--emit", str(tmp_path)])
    assert code == 2
    assert "--emit" in capsys.readouterr().err


def test_emit_text_names_each_file(tmp_path, capsys):
    main(
        [
            "repair",
            "--policy",
            str(GRAPH / "endpoint-protection-startup-pin.json"),
            "--device",
            str(EXAMPLES / "device-legacy.json"),
            "--emit",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    (path,) = tmp_path.iterdir()
    assert f"{path}: PATCH /beta/deviceManagement/deviceConfigurations/" in out


# --- Hypothesis: generated policies, generated repairs ------------------------------------


def _graph_binding(fact) -> Binding | None:
    for bindings in INDEX.graph.get(EP_TYPE, {}).values():
        for binding in bindings:
            if binding.fact is fact and not binding.weak:
                return binding
    return None


def _catalog_parent(fact) -> bool:
    return bool(INDEX.catalog_admx_children(fact.origins.get("catalog", "") or "\0"))


def _csp_parent(fact) -> bool:
    node = normalise_csp(fact.origins.get("csp", ""))
    return not fact.origins.get("csp_data_id") and bool(INDEX.csp_admx.get(node))


def _values(binding: Binding) -> list:
    """The values of a fact the source can carry: each one the importer reads back as itself."""
    fact = binding.fact
    if fact.type.kind == "enum":
        found = []
        for member in fact.type.enum.member_names:
            raw = fact.member_values.get(member, {}).get(binding.export)
            if raw is None:
                raw = INDEX.member_origin(fact.type.enum.name, member, binding.export)
            if raw is not None and INDEX.convert(binding, raw) == member:
                found.append(member)
        return found
    if fact.type.kind == "bool":
        return [True, False]
    if fact.type.kind == "integer":
        return [4, 6, 8, 20]
    if fact.type.kind == "string":
        return ["CONTOSO", "Fabrikam IT"]
    return []


def _choices(shape: str) -> dict[str, list]:
    found = {}
    for fact in VOCABULARY.facts.values():
        if not fact.name.startswith("policy.") or fact.name == "policy.policy_type" or not fact.policy_controlled:
            continue
        if shape in ("graph", "intent"):  # an intent's settings are the profile's properties
            binding = _graph_binding(fact)
        elif shape == "catalog" and fact.origins.get("catalog") and not _catalog_parent(fact):
            binding = Binding(fact, "catalog", fact.origins["catalog"])
        elif shape == "csp" and fact.origins.get("csp") and not _csp_parent(fact):
            binding = Binding(fact, "csp", fact.origins["csp"])
        else:
            binding = None
        values = _values(binding) if binding is not None else []
        if values:
            found[fact.name] = values
    return found


BASES = {
    "graph": {
        "@odata.type": "#microsoft.graph.windows10EndpointProtectionConfiguration",
        "id": "ep-1",
        "displayName": "generated",
    },
    "catalog": {
        "id": "sc-1",
        "name": "generated",
        "platforms": "windows10",
        "technologies": "mdm",
        "templateReference": {"templateFamily": "endpointSecurityDiskEncryption"},
        "settings": [],
    },
    "csp": {
        "@odata.type": "#microsoft.graph.windows10CustomConfiguration",
        "id": "oma-1",
        "displayName": "generated",
        "omaSettings": [],
    },
    "intent": {
        "id": "intent-1",
        "displayName": "generated",
        "templateId": "d1174162-1dd2-4976-affc-6667049ab0ae",
        "settings": [],
    },
}
CHOICES = {shape: _choices(shape) for shape in BASES}


@st.composite
def assignments(draw, shape: str):
    names = draw(st.lists(st.sampled_from(sorted(CHOICES[shape])), unique=True, max_size=8))
    return {name: draw(st.sampled_from(CHOICES[shape][name])) for name in names}


@st.composite
def policy_and_repair(draw):
    shape = draw(st.sampled_from(sorted(BASES)))
    return shape, draw(assignments(shape)), draw(assignments(shape))


def test_every_shape_has_facts_to_generate():
    assert all(len(CHOICES[shape]) >= 10 for shape in BASES), {s: len(c) for s, c in CHOICES.items()}


@settings(max_examples=60, deadline=None)
@given(policy_and_repair())
def test_generated_repairs_round_trip(case):
    """A generated policy (the base made by emitting a generated assignment), then a generated
    repair emitted, applied as Graph would and imported: exactly the repair's settings."""
    shape, start, repair = case
    document = copy.deepcopy(BASES[shape])
    if start:
        (made,) = emit_repair([(document, imported(document))], start, VOCABULARY)
        document = apply_to(document, made)
    policy = imported(document)
    assert {k: policy.facts.values[k] for k in start} == start
    if not repair:
        return
    (emitted,) = emit_repair([(document, policy)], repair, VOCABULARY)
    back = imported(apply_to(document, emitted)).facts.values
    assert dict(back) == {**policy.facts.values, **repair, **enabled_parents(shape, repair)}


def enabled_parents(shape: str, repair: dict) -> dict:
    """An ADMX setting's parent is enabled when one of its data ids is set (it cannot be
    configured otherwise): the parent facts the repair's children switch on."""
    found = {}
    for name in repair:
        fact = VOCABULARY.facts[name]
        data_id = fact.origins.get("csp_data_id")
        if not data_id:
            continue
        if shape == "catalog":
            parent_id = fact.origins["catalog"][: -len(data_id) - 1]
            parents = [INDEX.catalog[parent_id]] if parent_id in INDEX.catalog else []
        elif shape == "csp":
            parents = INDEX.csp_node.get(normalise_csp(fact.origins["csp"]), [])
        else:
            parents = []
        for binding in parents:
            found[binding.fact.name] = INDEX.member_table(binding.fact, binding.export)[("int", 1)]
    return found


def test_fleet_repair_emits_its_one_best_change(tmp_path, capsys):
    policy_file = GRAPH / "endpoint-protection-startup-pin.json"
    argv = ["repair", "--rules", "silent_enablement", "--policy", str(policy_file)]
    main([*argv, "--fleet", str(EXAMPLES / "fleet.jsonl"), "--emit", str(tmp_path), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    change = report["best"]["change"]
    (entry,) = report["emitted"]
    back = imported(apply_to(load(policy_file), read_emitted(entry["file"]))).facts.values
    assert back[change["fact"]] == change["new_value"]


def test_a_repair_that_changes_nothing_writes_nothing(tmp_path, capsys):
    code = main(
        [
            "repair",
            "--policy",
            str(EXAMPLES / "policy-silent.json"),
            "--device",
            str(EXAMPLES / "device-ready.json"),
            "--emit",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    assert "Nothing written to --emit: the repair changes no policy setting." in capsys.readouterr().out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_graph_page_of_policies_emits_each_in_its_own_shape(tmp_path):
    first, second = load(GRAPH / "endpoint-protection-startup-pin.json"), load(GRAPH / "custom-oma-uri.json")
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"value": [first, second]}))
    emitted = emit_files([str(page)], {"policy.tpm_startup_pin": "Allowed"}, VOCABULARY)
    assert [(e.policy.id, e.policy.kind) for e in emitted] == [
        (first["id"], "graph-endpoint-protection"),
        (second["id"], "custom-oma-uri"),
    ]
    for document, item in zip((first, second), emitted, strict=True):
        assert imported(apply_to(document, item)).facts.values["policy.tpm_startup_pin"] == "Allowed"


def test_a_new_catalog_setting_takes_a_fresh_id():
    document = load(GRAPH / "settings-catalog-bitlocker.json")
    del document["settings"][0]  # ids now 1..n: a count would give one of them again
    (emitted,) = emit_repair([(document, imported(document))], {"policy.enhanced_pin": "Enabled"}, VOCABULARY)
    ids = [s["id"] for s in emitted.body["settings"]]
    assert len(ids) == len(set(ids)) == len(document["settings"]) + 1


def test_an_export_without_its_settings_list_is_an_error():
    document = load(GRAPH / "settings-catalog-bitlocker.json")
    policy = imported(document)
    del document["settings"]
    with pytest.raises(EmitError, match=r"expand=settings"):
        emit_policy(document, policy, {"policy.tpm_startup_pin": "Blocked"}, VOCABULARY)


def test_an_id_is_one_segment_of_the_url():
    document = load(GRAPH / "endpoint-protection-beta.json")
    document["id"] = "a/../../b?x=1"
    (emitted,) = emit_repair([(document, imported(document))], {"policy.tpm_startup_pin": "Blocked"}, VOCABULARY)
    assert emitted.url == "/beta/deviceManagement/deviceConfigurations/a%2F..%2F..%2Fb%3Fx%3D1"
