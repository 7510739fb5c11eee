"""The import stage: Graph exports, settings catalog, OMA-URI profiles and device inputs
mapped to facts through the vocabulary's declared origins."""

from __future__ import annotations

import ast
import base64
import json
from pathlib import Path

import pytest

from bitlocker_rules import InputError, WindowsVersion, load_device_file, merge_facts, shipped_vocabulary
from bitlocker_rules.engine import describe_conflict
from bitlocker_rules.importers import (
    import_device,
    import_devices,
    import_policies,
    import_policy,
    load_devices,
    load_policies,
    parse_admx,
)
from bitlocker_rules.importers.detect import detect
from bitlocker_rules.importers.omauri import PayloadError
from bitlocker_rules.jsonpath import json_path_text
from bitlocker_rules.outcome import ValueOrigin

VOCABULARY = shipped_vocabulary()
KEY = "123456-234567-345678-456789-567890-678901-789012-890123"
KEY_BARE = KEY.replace("-", "")
ROOT = Path(__file__).resolve().parent.parent
GRAPH_EXAMPLES = ROOT / "examples" / "graph"
PACKAGE = ROOT / "bitlocker_rules" / "importers"
CATALOG = "device_vendor_msft_bitlocker_"


# --- input builders ----------------------------------------------------------------------


def ep(**props):
    return {
        "@odata.type": "#microsoft.graph.windows10EndpointProtectionConfiguration",
        "id": "e-1",
        "displayName": "EP one",
        **props,
    }


def system(**props):
    return ep(bitLockerSystemDrivePolicy={"@odata.type": "microsoft.graph.bitLockerSystemDrivePolicy", **props})


def full(did):
    return did if did.startswith("device_") else CATALOG + did


def choice(did, option, *children):
    did = full(did)
    return {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
        "settingDefinitionId": did,
        "choiceSettingValue": {
            "value": option if isinstance(option, str) else f"{did}_{option}",
            "children": list(children),
        },
    }


def simple(did, value):
    kind = "Integer" if isinstance(value, int) else "String"
    return {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
        "settingDefinitionId": full(did),
        "simpleSettingValue": {
            "@odata.type": f"#microsoft.graph.deviceManagementConfiguration{kind}SettingValue",
            "value": value,
        },
    }


def catalog(*instances, family="none"):
    return {
        "id": "c-1",
        "name": "Catalog one",
        "platforms": "windows10",
        "technologies": "mdm",
        "templateReference": {"templateId": "", "templateFamily": family},
        "settings": [{"id": str(i), "settingInstance": inst} for i, inst in enumerate(instances)],
    }


def oma(*settings):
    return {
        "@odata.type": "#microsoft.graph.windows10CustomConfiguration",
        "id": "o-1",
        "displayName": "OMA one",
        "omaSettings": list(settings),
    }


def oma_int(node, value, root="./Device/Vendor/MSFT/BitLocker/"):
    return {
        "@odata.type": "#microsoft.graph.omaSettingInteger",
        "displayName": node,
        "omaUri": root + node,
        "value": value,
    }


def oma_str(node, value, root="./Device/Vendor/MSFT/BitLocker/"):
    return {
        "@odata.type": "#microsoft.graph.omaSettingString",
        "displayName": node,
        "omaUri": root + node,
        "value": value,
        "isEncrypted": False,
    }


def admx(*data, enabled=True):
    state = "<enabled/>" if enabled else "<disabled/>"
    return state + "".join(f'<data id="{i}" value="{v}"/>' for i, v in data)


def values(data):
    return dict(import_policy(data, VOCABULARY, origin="test.json").facts.values)


def device_values(data):
    return dict(import_device(data, VOCABULARY, origin="test.json").facts.values)


def problems(data, *, device=False):
    with pytest.raises(InputError) as info:
        (import_device if device else import_policy)(data, VOCABULARY, origin="bad.json")
    return info.value.diagnostics


def codes(notices):
    return [(n.code, n.path) for n in notices]


def example(name):
    return json.loads((GRAPH_EXAMPLES / name).read_text())


# --- Graph windows10EndpointProtectionConfiguration ---------------------------------------


def test_graph_beta_export_maps_every_bitlocker_property():
    policy = import_policy(example("endpoint-protection-beta.json"), VOCABULARY, origin="ep.json")
    got = policy.facts.values
    assert policy.kind == "graph-endpoint-protection" and policy.api_version == "beta"
    assert policy.policy_type == got["policy.policy_type"] == "EndpointProtectionTemplate"
    assert got["policy.require_device_encryption"] == "Require"
    assert got["policy.warning_for_other_disk_encryption"] == "Block"
    assert got["policy.allow_standard_user_encryption"] == "Allow"
    assert got["policy.storage_card_encryption"] == "NotConfigured"
    assert got["policy.recovery_password_rotation"] == "AzureAD"
    assert got["policy.os_encryption_method"] == "XtsAes256"
    assert got["policy.removable_encryption_method"] == "AesCbc256"
    assert got["policy.additional_authentication_at_startup"] == "Require"
    assert got["policy.block_without_compatible_tpm"] == "Block"
    assert (got["policy.tpm_startup"], got["policy.tpm_startup_pin"]) == ("Allowed", "Blocked")
    assert got["policy.os_recovery_information_to_store"] == "PasswordAndKey"
    assert got["policy.fdv_recovery_information_to_store"] == "PasswordOnly"
    assert got["policy.os_require_recovery_backup_before_enabling"] == "Required"
    assert got["policy.removable_unprotected_write_access"] == "Block"
    assert got["policy.removable_cross_org_write_access"] == "NotConfigured"
    assert "policy.minimum_pin_length" not in got  # null Int32: not set


def test_graph_v1_shape_has_only_its_four_properties():
    data = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#deviceManagement/deviceConfigurations/$entity",
        **ep(
            bitLockerEncryptDevice=True,
            bitLockerDisableWarningForOtherDiskEncryption=False,
            bitLockerEnableStorageCardEncryptionOnMobile=False,
            bitLockerRemovableDrivePolicy={
                "encryptionMethod": "aesCbc128",
                "requireEncryptionForWriteAccess": False,
                "blockCrossOrganizationWriteAccess": True,
            },
        ),
    }
    policy = import_policy(data, VOCABULARY)
    assert policy.api_version == "v1.0"
    assert set(policy.facts.values) == {
        "policy.require_device_encryption",
        "policy.warning_for_other_disk_encryption",
        "policy.storage_card_encryption",
        "policy.removable_encryption_method",
        "policy.removable_unprotected_write_access",
        "policy.removable_cross_org_write_access",
        "policy.policy_type",
    }
    assert policy.facts.get("policy.removable_cross_org_write_access") == "Block"


def test_graph_null_is_not_configured():
    got = values(
        ep(
            bitLockerEncryptDevice=None,
            bitLockerRecoveryPasswordRotation=None,
            bitLockerSystemDrivePolicy={
                "encryptionMethod": None,
                "minimumPinLength": None,
                "startupAuthenticationTpmPinUsage": None,
            },
        )
    )
    assert got["policy.require_device_encryption"] == "NotConfigured"
    assert got["policy.recovery_password_rotation"] == "NotConfigured"
    assert got["policy.os_encryption_method"] == "NotConfigured"
    assert got["policy.tpm_startup_pin"] == "NotConfigured"
    assert "policy.minimum_pin_length" not in got  # an integer has no "not configured" value


def test_graph_null_drive_policy_makes_every_setting_below_it_not_configured():
    got = values(ep(bitLockerSystemDrivePolicy=None))
    assert got["policy.tpm_startup_pin"] == "NotConfigured"
    assert got["policy.os_recovery_password_usage"] == "NotConfigured"
    assert got["policy.os_save_recovery_to_azure_ad"] == "NotConfigured"
    assert "policy.os_recovery_information_to_store" not in got  # enum without NotConfigured
    assert "policy.fixed_encryption_method" not in got  # other drive policies: absent, not null


def test_graph_null_recovery_options_inside_a_drive_policy():
    got = values(system(startupAuthenticationTpmPinUsage="required", recoveryOptions=None))
    assert got["policy.tpm_startup_pin"] == "Required"
    assert got["policy.os_recovery_block_dra"] == "NotConfigured"
    assert "policy.fdv_recovery_block_dra" not in got


def test_graph_page_is_several_policies():
    page = {
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#deviceManagement/deviceConfigurations",
        "value": [ep(bitLockerEncryptDevice=True), {**ep(bitLockerEncryptDevice=False), "id": "e-2"}],
    }
    policies = import_policies(page, VOCABULARY)
    assert [p.facts.get("policy.require_device_encryption") for p in policies] == ["Require", "NotConfigured"]
    assert [p.policy_id for p in policies] == ["e-1", "e-2"]
    assert policies[0].facts.origins["policy.require_device_encryption"][0].path == (
        "value",
        0,
        "bitLockerEncryptDevice",
    )
    with pytest.raises(InputError) as info:
        import_policy(page, VOCABULARY)
    assert info.value.diagnostics[0].code == "I406"


def test_graph_page_with_a_next_link_says_so():
    page = {"value": [ep(bitLockerEncryptDevice=True)], "@odata.nextLink": "https://graph.example/next"}
    (policy,) = import_policies(page, VOCABULARY)
    assert ("N406", '$["@odata.nextLink"]') in codes(policy.notices)


def test_graph_properties_that_are_not_bitlocker_are_listed_as_notices():
    policy = import_policy(
        ep(
            bitLockerEncryptDevice=True,
            firewallBlockStatefulFTP=True,
            bitLockerSomethingNew=True,
            bitLockerSystemDrivePolicy={"futureFlag": 1},
        ),
        VOCABULARY,
    )
    assert codes(policy.notices) == [
        ("N401", "$.firewallBlockStatefulFTP"),
        ("N402", "$.bitLockerSomethingNew"),
        ("N401", "$.bitLockerSystemDrivePolicy.futureFlag"),
    ]
    assert all(n.severity == "note" for n in policy.notices)


def test_example_export_lists_its_other_endpoint_protection_areas():
    policy = import_policy(example("endpoint-protection-beta.json"), VOCABULARY)
    skipped = {n.path for n in policy.notices if n.code == "N401"}
    assert {"$.firewallBlockStatefulFTP", "$.defenderExploitProtectionXml", "$.applicationGuardEnabled"} <= skipped


def test_a_graph_policy_of_another_kind_is_skipped_with_a_notice():
    policy = import_policy(
        {
            "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
            "id": "g",
            "displayName": "General",
            "passwordRequired": True,
        },
        VOCABULARY,
    )
    assert policy.kind == "other-graph" and policy.policy_type is None
    assert dict(policy.facts.values) == {}
    assert [n.code for n in policy.notices] == ["N401"]


# --- value mappings that differ between sources ------------------------------------------

ROTATION_GRAPH = [
    ("notConfigured", "NotConfigured"),
    ("disabled", "Disabled"),
    ("enabledForAzureAd", "AzureAD"),
    ("enabledForAzureAdAndHybrid", "AzureADAndHybrid"),
]
ROTATION_CSP = [(0, "Disabled"), (1, "AzureAD"), (2, "AzureADAndHybrid")]


@pytest.mark.parametrize("graph, member", ROTATION_GRAPH)
def test_rotation_from_graph_by_member_name(graph, member):
    assert values(ep(bitLockerRecoveryPasswordRotation=graph))["policy.recovery_password_rotation"] == member


@pytest.mark.parametrize("csp, member", ROTATION_CSP)
def test_rotation_from_csp_and_catalog_numbers(csp, member):
    assert values(oma(oma_int("ConfigureRecoveryPasswordRotation", csp)))["policy.recovery_password_rotation"] == member
    assert (
        values(catalog(choice("configurerecoverypasswordrotation", csp)))["policy.recovery_password_rotation"] == member
    )


def test_rotation_graph_numbers_are_shifted_by_one_and_never_read_as_csp_numbers():
    # C8: Graph enabledForAzureAd is enum number 2, CSP 1. Both mean the same member.
    assert (
        values(ep(bitLockerRecoveryPasswordRotation="enabledForAzureAd"))["policy.recovery_password_rotation"]
        == values(oma(oma_int("ConfigureRecoveryPasswordRotation", 1)))["policy.recovery_password_rotation"]
    )
    # A Graph number is refused rather than misread through the CSP table.
    (found,) = problems(ep(bitLockerRecoveryPasswordRotation=2))
    assert found.path == "$.bitLockerRecoveryPasswordRotation"
    assert '"enabledForAzureAd"' in found.help


USAGE = [("blocked", 0, "Blocked"), ("required", 1, "Required"), ("allowed", 2, "Allowed")]


@pytest.mark.parametrize("graph, csp, member", USAGE)
def test_configuration_usage_names_match_csp_numbers(graph, csp, member):
    from_graph = values(system(startupAuthenticationTpmPinUsage=graph))
    from_csp = (
        values(oma(oma_str("SystemDrivesRequireStartupAuthentication", admx(("ConfigurePINUsageDropDown_Name", csp))))),
    )
    from_catalog = values(
        catalog(
            choice(
                "systemdrivesrequirestartupauthentication",
                1,
                choice("systemdrivesrequirestartupauthentication_configurepinusagedropdown_name", csp),
            )
        )
    )
    assert from_graph["policy.tpm_startup_pin"] == from_csp[0]["policy.tpm_startup_pin"] == member
    assert from_catalog["policy.tpm_startup_pin"] == member


def test_configuration_usage_not_configured_exists_only_in_graph():
    assert values(system(startupAuthenticationTpmUsage="notConfigured"))["policy.tpm_startup"] == "NotConfigured"
    (found,) = problems(
        oma(oma_str("SystemDrivesRequireStartupAuthentication", admx(("ConfigureTPMUsageDropDown_Name", 3))))
    )
    assert found.code == "I401" and "0, 1, 2" in found.help


@pytest.mark.parametrize("graph, member", [(True, "Block"), (False, "NotConfigured")])
def test_inverted_warning_for_other_disk_encryption_from_graph(graph, member):
    # bitLockerDisableWarningForOtherDiskEncryption true = AllowWarningForOtherDiskEncryption 0 = Block
    assert (
        values(ep(bitLockerDisableWarningForOtherDiskEncryption=graph))["policy.warning_for_other_disk_encryption"]
        == member
    )


@pytest.mark.parametrize("csp, member", [(0, "Block"), (1, "NotConfigured")])
def test_inverted_warning_for_other_disk_encryption_from_csp_and_catalog(csp, member):
    assert (
        values(oma(oma_int("AllowWarningForOtherDiskEncryption", csp)))["policy.warning_for_other_disk_encryption"]
        == member
    )
    assert (
        values(catalog(choice("allowwarningforotherdiskencryption", csp)))["policy.warning_for_other_disk_encryption"]
        == member
    )


@pytest.mark.parametrize("graph, admx_value, member", [(True, "false", "Block"), (False, "true", "NotConfigured")])
def test_inverted_data_recovery_agent(graph, admx_value, member):
    from_graph = values(system(recoveryOptions={"blockDataRecoveryAgent": graph}))
    from_csp = values(oma(oma_str("SystemDrivesRecoveryOptions", admx(("OSAllowDRA_Name", admx_value)))))
    assert from_graph["policy.os_recovery_block_dra"] == from_csp["policy.os_recovery_block_dra"] == member


@pytest.mark.parametrize("graph, admx_value, member", [(True, "false", "Block"), (False, "true", "NotConfigured")])
def test_inverted_block_without_compatible_tpm(graph, admx_value, member):
    from_graph = values(system(startupAuthenticationBlockWithoutTpmChip=graph))
    from_csp = values(
        oma(
            oma_str(
                "SystemDrivesRequireStartupAuthentication", admx(("ConfigureNonTPMStartupKeyUsage_Name", admx_value))
            )
        )
    )
    assert (
        from_graph["policy.block_without_compatible_tpm"] == from_csp["policy.block_without_compatible_tpm"] == member
    )


def test_hide_recovery_options_is_not_inverted():
    assert values(system(recoveryOptions={"hideRecoveryOptions": True}))["policy.os_hide_recovery_options"] == "Block"
    assert (
        values(oma(oma_str("SystemDrivesRecoveryOptions", admx(("OSHideRecoveryPage_Name", "true")))))[
            "policy.os_hide_recovery_options"
        ]
        == "Block"
    )


METHODS = [
    ("aesCbc128", 3, "AesCbc128"),
    ("aesCbc256", 4, "AesCbc256"),
    ("xtsAes128", 6, "XtsAes128"),
    ("xtsAes256", 7, "XtsAes256"),
]
DRIVES = ("os", "fixed", "removable")


@pytest.mark.parametrize("graph, csp, member", METHODS)
def test_encryption_method_from_graph(graph, csp, member):
    got = values(
        ep(
            bitLockerSystemDrivePolicy={"encryptionMethod": graph},
            bitLockerFixedDrivePolicy={"encryptionMethod": graph},
            bitLockerRemovableDrivePolicy={"encryptionMethod": graph},
        )
    )
    assert [got[f"policy.{d}_encryption_method"] for d in DRIVES] == [member] * 3


@pytest.mark.parametrize("graph, csp, member", METHODS)
def test_encryption_method_from_oma_uri(graph, csp, member):
    got = values(
        oma(
            oma_str(
                "EncryptionMethodByDriveType",
                admx(
                    ("EncryptionMethodWithXtsOsDropDown_Name", csp),
                    ("EncryptionMethodWithXtsFdvDropDown_Name", csp),
                    ("EncryptionMethodWithXtsRdvDropDown_Name", csp),
                ),
            )
        )
    )
    assert [got[f"policy.{d}_encryption_method"] for d in DRIVES] == [member] * 3
    assert got["policy.configure_encryption_methods"] == "Enabled"


@pytest.mark.parametrize("graph, csp, member", METHODS)
def test_encryption_method_from_catalog(graph, csp, member):
    parent = "encryptionmethodbydrivetype"
    got = values(
        catalog(
            choice(
                parent,
                1,
                *(choice(f"{parent}_encryptionmethodwithxts{d}dropdown_name", csp) for d in ("os", "fdv", "rdv")),
            )
        )
    )
    assert [got[f"policy.{d}_encryption_method"] for d in DRIVES] == [member] * 3


def test_encryption_method_numbers_outside_3_4_6_7_are_refused():
    (found,) = problems(
        oma(oma_str("EncryptionMethodByDriveType", admx(("EncryptionMethodWithXtsOsDropDown_Name", 5))))
    )
    assert found.code == "I401" and "3, 4, 6, 7" in found.help


# --- settings catalog -------------------------------------------------------------------


def test_endpoint_security_bitlocker_profile():
    policy = import_policy(example("settings-catalog-bitlocker.json"), VOCABULARY)
    got = policy.facts.values
    assert policy.kind == "settings-catalog"
    assert policy.policy_type == got["policy.policy_type"] == "EndpointSecurityDiskEncryption"
    assert policy.display_name == "ES - Disk encryption - BitLocker (OS)"
    assert got["policy.allow_standard_user_encryption"] == "Allow"  # nested child
    assert got["policy.tpm_startup"] == "Allowed"
    assert got["policy.minimum_pin_length"] == 6
    assert got["policy.identification_field"] == "CONTOSO-IT"
    assert got["policy.removable_excluded_from_encryption"][0]["hardware_id"].startswith("USBSTOR\\")
    assert policy.notices == ()


@pytest.mark.parametrize(
    "reference, expected",
    [
        ({"templateId": "", "templateFamily": "none"}, "SettingsCatalog"),
        (None, "SettingsCatalog"),
        ({"templateFamily": "endpointSecurityDiskEncryption"}, "EndpointSecurityDiskEncryption"),
    ],
)
def test_catalog_policy_type_from_template_family(reference, expected):
    data = catalog(choice("requiredeviceencryption", 1))
    data["templateReference"] = reference
    assert import_policy(data, VOCABULARY).policy_type == expected


def test_unknown_template_family_is_read_as_settings_catalog_with_a_notice():
    policy = import_policy(catalog(choice("requiredeviceencryption", 1), family="baseline"), VOCABULARY)
    assert policy.policy_type == "SettingsCatalog"
    assert codes(policy.notices) == [("N407", "$.templateReference.templateFamily")]


def test_catalog_admx_parent_disabled_makes_its_data_ids_not_configured():
    got = values(catalog(choice("systemdrivesrequirestartupauthentication", 0)))
    assert got["policy.additional_authentication_at_startup"] == "NotConfigured"
    assert got["policy.tpm_startup_pin"] == got["policy.tpm_startup"] == "NotConfigured"
    assert got["policy.block_without_compatible_tpm"] == "NotConfigured"


def test_catalog_parent_without_a_fact_of_its_own():
    parent = "systemdrivesencryptiontype"
    assert values(catalog(choice(parent, 0)))["policy.os_encryption_type"] == "NotConfigured"
    got = values(catalog(choice(parent, 1, choice(f"{parent}_osencryptiontypedropdown_name", 2))))
    assert got == {"policy.os_encryption_type": "UsedSpaceOnly", "policy.policy_type": "SettingsCatalog"}


def test_child_of_a_non_admx_choice_is_read_not_implied():
    # allowstandarduserencryption hangs below allowwarningforotherdiskencryption_0 (silent),
    # but is a node of its own, not an ADMX data id: _0 of the parent does not unset it.
    got = values(catalog(choice("allowwarningforotherdiskencryption", 0, choice("allowstandarduserencryption", 1))))
    assert got["policy.warning_for_other_disk_encryption"] == "Block"
    assert got["policy.allow_standard_user_encryption"] == "Allow"
    assert "policy.allow_standard_user_encryption" not in values(
        catalog(choice("allowwarningforotherdiskencryption", 0))
    )


def test_catalog_simple_integer_string_and_collection():
    got = values(
        catalog(
            choice("systemdrivesminimumpinlength", 1, simple("systemdrivesminimumpinlength_minpinlength", 8)),
            choice(
                "identificationfield",
                1,
                simple("identificationfield_identificationfield", "CONTOSO"),
                simple("identificationfield_secidentificationfield", "FABRIKAM"),
            ),
            {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingCollectionInstance",
                "settingDefinitionId": CATALOG + "removabledrivesexcludedfromencryption",
                "simpleSettingCollectionValue": [{"value": "USBSTOR\\A"}, {"value": "USBSTOR\\B"}],
            },
        )
    )
    assert got["policy.minimum_pin_length"] == 8
    assert (got["policy.identification_field"], got["policy.allowed_identification_field"]) == ("CONTOSO", "FABRIKAM")
    assert [r["hardware_id"] for r in got["policy.removable_excluded_from_encryption"]] == ["USBSTOR\\A", "USBSTOR\\B"]


def _group(instance_type, value_key, value):
    return {
        "@odata.type": f"#microsoft.graph.deviceManagementConfiguration{instance_type}",
        "settingDefinitionId": "device_vendor_msft_example_group",
        value_key: value,
    }


@pytest.mark.parametrize(
    "group, inside",
    [
        (
            _group(
                "GroupSettingCollectionInstance", "groupSettingCollectionValue", [{"children": []}, {"children": [0]}]
            ),
            "groupSettingCollectionValue[1].children[0]",
        ),
        (_group("GroupSettingInstance", "groupSettingValue", {"children": [0]}), "groupSettingValue.children[0]"),
    ],
)
def test_a_setting_inside_a_group_is_placed_at_its_children_entry(group, inside):
    """A catalog setting below a group is located at the group value's ``children`` entry: Graph's
    deviceManagementConfigurationGroupSettingValue holds its settings in ``children``, inside
    ``groupSettingCollectionValue[n]`` of a group collection or the one ``groupSettingValue`` of a
    group (Graph reference), so a path without ``children`` names nothing in the export and a report
    points at the wrong line."""
    value = group.get("groupSettingCollectionValue") or [group["groupSettingValue"]]
    value[-1]["children"] = [choice("requiredeviceencryption", 1)]
    policy = import_policy(catalog(group), VOCABULARY, origin="test.json")
    assert policy.facts.values["policy.require_device_encryption"] == "Require"
    (place,) = policy.facts.origins["policy.require_device_encryption"]
    assert json_path_text(place.path) == f"$.settings[0].settingInstance.{inside}.choiceSettingValue.value"


def test_catalog_boolean_data_id_and_policy_state():
    got = values(
        catalog(
            choice(
                "removabledrivesconfigurebde",
                1,
                choice("removabledrivesconfigurebde_rdvallowbde_name", 1),
                choice("removabledrivesconfigurebde_rdvdisablebde_name", 0),
            ),
            choice("systemdrivesenhancedpin", 0),
        )
    )
    assert got["policy.removable_configure_bde"] == "Enabled"
    assert (got["policy.removable_allow_bde"], got["policy.removable_disable_bde"]) == (True, False)
    assert got["policy.enhanced_pin"] == "Disabled"


def test_catalog_settings_that_are_not_bitlocker_are_listed():
    policy = import_policy(
        catalog(
            choice("requiredeviceencryption", 1),
            choice("device_vendor_msft_policy_config_defender_allowarchivescanning", 1),
            choice("rotaterecoverypasswords", 1),
        ),
        VOCABULARY,
    )
    assert codes(policy.notices) == [
        ("N401", "$.settings[1].settingInstance"),
        ("N402", "$.settings[2].settingInstance"),
    ]


def test_catalog_without_expanded_settings_says_how_to_export_it():
    data = catalog()
    del data["settings"]
    policy = import_policy(data, VOCABULARY)
    assert codes(policy.notices) == [("N406", "$.settings")]
    assert "$expand=settings" in policy.notices[0].message


def test_catalog_bad_option_is_an_error_with_its_path():
    (found,) = problems(catalog(choice("requiredeviceencryption", 7)))
    assert found.path == "$.settings[0].settingInstance.choiceSettingValue.value"
    assert "device_vendor_msft_bitlocker_requiredeviceencryption_1" in found.help
    (found,) = problems(catalog(choice("requiredeviceencryption", CATALOG + "allowstandarduserencryption_1")))
    assert found.code == "I401"


# --- custom OMA-URI ---------------------------------------------------------------------


def test_oma_uri_profile_example():
    policy = import_policy(example("custom-oma-uri.json"), VOCABULARY)
    got = policy.facts.values
    assert policy.kind == "custom-oma-uri" and policy.policy_type == "CustomOmaUri"
    assert got["policy.require_device_encryption"] == "Require"
    assert got["policy.warning_for_other_disk_encryption"] == "Block"
    assert got["policy.tpm_startup"] == "Allowed" and got["policy.tpm_startup_pin"] == "Blocked"
    assert got["policy.os_require_recovery_backup_before_enabling"] == "Required"
    assert got["policy.fixed_unprotected_write_access"] == "NotConfigured"  # <disabled/>
    assert codes(policy.notices) == [("N401", "$.omaSettings[8].omaUri")]


def test_oma_uri_disabled_payload_unsets_the_node_and_its_data_ids():
    got = values(oma(oma_str("SystemDrivesRequireStartupAuthentication", "<disabled/>")))
    assert got["policy.additional_authentication_at_startup"] == "NotConfigured"
    assert got["policy.tpm_startup_key"] == "NotConfigured"
    assert values(oma(oma_str("SystemDrivesEnhancedPIN", "<disabled/>")))["policy.enhanced_pin"] == "Disabled"
    assert values(oma(oma_str("SystemDrivesEnhancedPIN", "<enabled/>")))["policy.enhanced_pin"] == "Enabled"


def test_oma_uri_short_device_scope_and_string_list_node():
    got = values(
        oma(
            oma_int("RequireDeviceEncryption", 1, root="./Vendor/MSFT/BitLocker/"),
            oma_str("RemovableDrivesExcludedFromEncryption", "USBSTOR\\A, USBSTOR\\B"),
        )
    )
    assert got["policy.require_device_encryption"] == "Require"
    assert [r["hardware_id"] for r in got["policy.removable_excluded_from_encryption"]] == ["USBSTOR\\A", "USBSTOR\\B"]


def test_oma_uri_data_values_are_typed():
    got = values(
        oma(
            oma_str("SystemDrivesMinimumPINLength", admx(("MinPINLength", 8))),
            oma_str(
                "SystemDrivesRecoveryMessage",
                admx(
                    ("PrebootRecoveryInfoDropDown_Name", 2),
                    ("RecoveryMessage_Input", "Call the help desk"),
                    ("RecoveryUrl_Input", ""),
                ),
            ),
        )
    )
    assert got["policy.configure_minimum_pin_length"] == "Enabled" and got["policy.minimum_pin_length"] == 8
    assert got["policy.preboot_recovery_message_type"] == "CustomMessage"
    assert got["policy.preboot_recovery_message"] == "Call the help desk"


def test_oma_uri_string_xml_value_is_base64():
    payload = base64.b64encode(admx(("ConfigurePINUsageDropDown_Name", 1)).encode()).decode()
    setting = {
        "@odata.type": "#microsoft.graph.omaSettingStringXml",
        "omaUri": "./Device/Vendor/MSFT/BitLocker/SystemDrivesRequireStartupAuthentication",
        "fileName": "startup.xml",
        "value": payload,
    }
    assert values(oma(setting))["policy.tpm_startup_pin"] == "Required"


def test_oma_uri_nodes_that_are_not_settings_are_listed():
    policy = import_policy(
        oma(
            oma_int("ActiveHoursStart", 8, root="./Device/Vendor/MSFT/Policy/Config/Update/"),
            oma_str("RotateRecoveryPasswords", "a-request-id"),
            oma_int("Status/DeviceEncryptionStatus", 0),
            oma_str("SystemDrivesRecoveryOptions", admx(("OSFutureThing_Name", "true"))),
        ),
        VOCABULARY,
    )
    assert codes(policy.notices) == [
        ("N401", "$.omaSettings[0].omaUri"),
        ("N402", "$.omaSettings[1].omaUri"),
        ("N401", "$.omaSettings[2].omaUri"),
        ("N402", "$.omaSettings[3].value"),
    ]
    assert policy.facts.get("policy.os_recovery") == "Enabled"


def test_oma_uri_encrypted_value_is_unreadable_not_guessed():
    setting = {
        **oma_str("SystemDrivesRequireStartupAuthentication", "****"),
        "isEncrypted": True,
        "secretReferenceValueId": "a1b2",
    }
    policy = import_policy(oma(setting), VOCABULARY)
    assert "policy.tpm_startup_pin" not in policy.facts.values
    assert codes(policy.notices) == [("N403", "$.omaSettings[0].value")]


def test_oma_uri_bad_values_are_errors_with_paths():
    found = problems(
        oma(
            oma_int("RequireDeviceEncryption", 5),
            oma_str("EncryptionMethodByDriveType", "7"),
            oma_str("SystemDrivesRequireStartupAuthentication", "<enabled><data/>"),
        )
    )
    assert [(d.code, d.path) for d in found] == [
        ("I401", "$.omaSettings[0].value"),
        ("I404", "$.omaSettings[1].value"),
        ("I404", "$.omaSettings[2].value"),
    ]


def test_oma_uri_same_node_twice_with_different_values_is_an_error():
    (found,) = problems(oma(oma_int("RequireDeviceEncryption", 1), oma_int("RequireDeviceEncryption", 0)))
    assert found.code == "I402" and "$.omaSettings[0].value" in found.message


# --- ADMX payloads: no XML library, no entities -------------------------------------------


def test_admx_payload_forms():
    assert parse_admx('<enabled/><data id="A" value="1"/>').data == (("A", "1"),)
    assert parse_admx("<![CDATA[<enabled/>\n  <data id='A' value='x'/>]]>").data == (("A", "x"),)
    assert parse_admx("< Disabled />").enabled is False
    assert parse_admx('<enabled/><data id="M" value="a &lt;b&gt; &amp; &#65;&#x42;"/>').data == (("M", "a <b> & AB"),)


@pytest.mark.parametrize(
    "text",
    [
        '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><enabled/><data id="A" value="&x;"/>',
        '<enabled/><data id="A" value="&x;"/>',
        '<enabled/><data id="A" value="a & b"/>',
        '<enabled/><?xml-stylesheet href="x"?>',
        '<data id="A" value="1"/>',
        "<enabled/><disabled/>",
        '<enabled/><data id="A"/>',
        "7",
    ],
)
def test_admx_payloads_that_are_refused(text):
    with pytest.raises(PayloadError):
        parse_admx(text)


def test_importers_use_no_xml_library_and_no_engine():
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = (
                    [a.name for a in node.names] + [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                )
                assert not any("xml" in n or n in ("engine", "cli") for n in names), (path.name, names)


# --- detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kind",
    [
        ("endpoint-protection-beta.json", "graph-endpoint-protection"),
        ("settings-catalog-bitlocker.json", "settings-catalog"),
        ("custom-oma-uri.json", "custom-oma-uri"),
        ("managed-device.json", "managed-device"),
    ],
)
def test_detection_by_odata_type_and_by_shape(name, kind):
    data = example(name)
    assert detect(data).kind == kind
    bare = {k: v for k, v in data.items() if not k.startswith("@odata")}
    assert detect(bare).kind == kind


@pytest.mark.parametrize(
    "data, kind",
    [
        ({"value": []}, "page"),
        ([], "page"),
        ({"settings": {"tpm_startup": "Allowed"}}, "policy-json"),
        ({"facts": {"tpm_present": True}}, "device-json"),
        ({"advancedBitLockerStates": "success"}, "encryption-state"),
        ({"id": "k", "volumeType": "1", "deviceId": "d"}, "recovery-key"),
        ({"./Device/Vendor/MSFT/BitLocker/Status/DeviceEncryptionStatus": 0}, "csp-status"),
        ({"@odata.type": "#microsoft.graph.windowsManagedDevice", "id": "x"}, "managed-device"),
        (
            {
                "@odata.context": "https://graph.microsoft.com/beta/$metadata#deviceManagement/configurationPolicies/$entity",
                "id": "x",
            },
            "settings-catalog",
        ),
        ({"@odata.type": "#microsoft.graph.iosGeneralDeviceConfiguration"}, "other-graph"),
        ({"hello": 1}, None),
    ],
)
def test_detection_of_every_shape(data, kind):
    assert detect(data).kind == kind


def test_undetectable_or_wrong_side_input_is_an_error():
    (found,) = problems({"hello": 1})
    assert found.code == "I407" and "endpointprotection" in found.help.lower().replace(" ", "")
    (found,) = problems(example("managed-device.json"))
    assert "device input" in found.message
    (found,) = problems(example("endpoint-protection-beta.json"), device=True)
    assert "policy" in found.message


# --- errors -------------------------------------------------------------------------------


def test_unknown_enum_value_names_path_value_and_expected():
    (found,) = problems(system(startupAuthenticationTpmPinUsage="sometimes"))
    assert found.code == "I401"
    assert found.path == "$.bitLockerSystemDrivePolicy.startupAuthenticationTpmPinUsage"
    assert '"sometimes"' in found.message and "policy.tpm_startup_pin" in found.message
    assert '"blocked"' in found.help and '"notConfigured"' in found.help
    assert found.location == "bad.json: $.bitLockerSystemDrivePolicy.startupAuthenticationTpmPinUsage"


def test_wrong_types_are_errors_and_every_one_is_reported():
    found = problems(
        ep(
            bitLockerEncryptDevice="yes",
            bitLockerFixedDrivePolicy=5,
            bitLockerSystemDrivePolicy={"minimumPinLength": "six", "prebootRecoveryMessage": 12},
        )
    )
    assert [(d.code, d.path) for d in found] == [
        ("I401", "$.bitLockerEncryptDevice"),
        ("I403", "$.bitLockerFixedDrivePolicy"),
        ("I401", "$.bitLockerSystemDrivePolicy.minimumPinLength"),
        ("I401", "$.bitLockerSystemDrivePolicy.prebootRecoveryMessage"),
    ]
    assert "true" in found[0].help


def test_errors_in_a_page_carry_the_item_path():
    found = problems({"value": [ep(bitLockerEncryptDevice=True), ep(bitLockerEncryptDevice=1)]})
    assert found[0].path == "$.value[1].bitLockerEncryptDevice"


def test_malformed_json_file_has_line_and_column(tmp_path):
    path = tmp_path / "ep.json"
    path.write_text('{\n  "bitLockerEncryptDevice": tru\n}\n')
    with pytest.raises(InputError) as info:
        load_policies(path, VOCABULARY)
    assert info.value.diagnostics[0].location == f"{path}:2:29"


# --- devices ------------------------------------------------------------------------------


def test_managed_device_record():
    dev = import_device(example("managed-device.json"), VOCABULARY, origin="md.json")
    got = dev.facts.values
    assert (dev.kind, dev.device_id, dev.device_name) == (
        "managed-device",
        "c7a1e2f3-4b5c-4d6e-8f90-123456789abc",
        "CONTOSO-LT-0423",
    )
    assert dev.azure_ad_device_id == "8b6f4c2e-1d3a-4e5f-9a7b-0c1d2e3f4a5b"
    assert got["device.os_version"] == WindowsVersion(10, 0, 22631, 3593)
    assert got["device.join_type"] == "AzureADJoined"
    assert got["device.os_edition"] == "Enterprise"
    assert got["device.enrollment_type"] == "WindowsAzureADJoin"
    assert got["device.tpm_version"] == 2.0
    assert got["device.secure_boot"] == "On"
    assert got["device.encrypted"] is True and got["device.autopilot_enrolled"] is True
    # Not read, and the notice says why (its Graph values are not documented).
    assert ("N401", "$.deviceHealthAttestationState.bitLockerStatus") in codes(dev.notices)
    assert ("N401", "$.serialNumber") in codes(dev.notices)


@pytest.mark.parametrize("raw, version", [("2.0, 0, 1.59", 2.0), ("1.2", 1.2), ("2.0", 2.0)])
def test_tpm_specification_version_takes_the_leading_number(raw, version):
    md = {"@odata.type": "#microsoft.graph.managedDevice", "hardwareInformation": {"tpmSpecificationVersion": raw}}
    assert device_values(md)["device.tpm_version"] == version
    assert (
        device_values({"tpmSpecificationVersion": raw, "encryptionReadinessState": "ready"})["device.tpm_version"]
        == version
    )


def test_tpm_specification_version_without_a_number_is_an_error():
    (found,) = problems(
        {"@odata.type": "#microsoft.graph.managedDevice", "hardwareInformation": {"tpmSpecificationVersion": "none"}},
        device=True,
    )
    assert found.path == "$.hardwareInformation.tpmSpecificationVersion"


@pytest.mark.parametrize(
    "sku, member",
    [
        ("Enterprise", "Enterprise"),
        ("enterprise", "Enterprise"),
        ("Pro Education", "ProEducation"),
        ("IoTEnterprise", "IoTEnterprise"),
    ],
)
def test_edition_is_matched_by_member_name_or_label(sku, member):
    assert (
        device_values({"@odata.type": "#microsoft.graph.managedDevice", "skuFamily": sku})["device.os_edition"]
        == member
    )


def test_alternate_origin_fills_in_and_a_disagreement_is_noticed():
    md = {"@odata.type": "#microsoft.graph.managedDevice", "hardwareInformation": {"operatingSystemEdition": "Pro"}}
    assert device_values(md)["device.os_edition"] == "Pro"
    dev = import_device({**md, "skuFamily": "Enterprise"}, VOCABULARY)
    assert dev.facts.get("device.os_edition") == "Enterprise"
    assert ("N404", "$.hardwareInformation.operatingSystemEdition") in codes(dev.notices)


@pytest.mark.parametrize("graph, member", [("enabled", "On"), ("disabled", "Off"), ("Unsupported", "Unsupported")])
def test_secure_boot_from_health_attestation(graph, member):
    md = {"@odata.type": "#microsoft.graph.managedDevice", "deviceHealthAttestationState": {"secureBoot": graph}}
    assert device_values(md)["device.secure_boot"] == member


def test_unknown_enum_value_in_a_device_record():
    (found,) = problems({"@odata.type": "#microsoft.graph.managedDevice", "joinType": "workplaceJoined"}, device=True)
    assert found.path == "$.joinType" and '"azureADJoined"' in found.help


def test_encryption_report_row():
    dev = import_device(example("encryption-state.json"), VOCABULARY)
    got = dev.facts.values
    assert dev.kind == "encryption-state"
    assert got["device.encryption_readiness"] == "Ready"
    assert got["device.encrypted"] is False  # encryptionState notEncrypted
    assert [r["detail"] for r in got["device.encryption_status_details"]] == [
        "OsVolumeUnprotected",
        "WindowsRecoveryEnvironmentNotConfigured",
    ]
    assert got["device.encryption_policies"][0]["policy_name"] == "ES - Disk encryption - BitLocker (OS)"


def details(data):
    return [r["detail"] for r in device_values(data)["device.encryption_status_details"]]


def graph_state(value):
    return {"@odata.type": "#microsoft.graph.managedDeviceEncryptionState", "id": "d", "advancedBitLockerStates": value}


def csp_status(value):
    return {"./Device/Vendor/MSFT/BitLocker/Status/DeviceEncryptionStatus": value}


@pytest.mark.parametrize(
    "number, graph_member, csp_member",
    [
        (2, "OsVolumeUnprotected", "OsVolumeEncryptionMethodMismatch"),
        (4, "OsVolumeTpmRequired", "OsVolumeUnprotected"),
        (128, "OsVolumeEncryptionMethodMismatch", "OsVolumeTpmRequired"),
        (4096, "WindowsRecoveryEnvironmentNotConfigured", "WindowsRecoveryEnvironmentNotConfigured"),
    ],
)
def test_graph_flags_and_csp_bits_are_decoded_with_their_own_tables(number, graph_member, csp_member):
    # Conflict C1: the same number means different conditions in Graph and in the CSP.
    assert details(graph_state(number)) == [graph_member]
    assert details(csp_status(number)) == [csp_member]


def test_graph_flag_names_and_numbers_agree():
    assert details(graph_state("osVolumeTpmRequired,tpmNotReady")) == details(graph_state(4 + 16384))
    assert details(graph_state("tpmNotReady, osVolumeTpmRequired")) == ["OsVolumeTpmRequired", "TpmNotReady"]


def test_csp_bitmask_decodes_every_bit():
    assert details(csp_status(4 + 4096 + 65536)) == [
        "OsVolumeUnprotected",
        "WindowsRecoveryEnvironmentNotConfigured",
        "OsVolumeEncryptionTypeMismatch",
    ]


@pytest.mark.parametrize("data", [graph_state("success"), graph_state(0), csp_status(0)])
def test_compliant_means_no_status_details(data):
    assert details(data) == []


@pytest.mark.parametrize(
    "data, path",
    [
        (graph_state(65536), "$.advancedBitLockerStates"),  # the CSP has bit 16; Graph has no such flag
        (graph_state("osVolumeUnprotected,everythingFine"), "$.advancedBitLockerStates"),
        (csp_status(1 << 20), '$["./Device/Vendor/MSFT/BitLocker/Status/DeviceEncryptionStatus"]'),
        (csp_status(-1), '$["./Device/Vendor/MSFT/BitLocker/Status/DeviceEncryptionStatus"]'),
    ],
)
def test_undefined_status_bits_are_errors(data, path):
    (found,) = problems(data, device=True)
    assert found.path == path


def test_csp_read_out():
    dev = import_device(
        {
            "./Device/Vendor/MSFT/BitLocker/Status/DeviceEncryptionStatus": 4100,
            "./Vendor/MSFT/BitLocker/Status/RotateRecoveryPasswordsStatus": 2,
            "./Vendor/MSFT/DeviceStatus/SecureBootState": 2,
            "./Vendor/MSFT/DeviceStatus/Compliance/EncryptionCompliance": 1,
            "./Vendor/MSFT/DeviceStatus/TPM/SpecificationVersion": "2.0",
            "./Device/Vendor/MSFT/BitLocker/RequireDeviceEncryption": 1,
            "./Vendor/MSFT/DeviceStatus/OS/Mode": 0,
        },
        VOCABULARY,
    )
    got = dev.facts.values
    assert dev.kind == "csp-status"
    assert got["device.secure_boot"] == "Off" and got["device.encrypted"] is True
    assert got["device.tpm_version"] == 2.0 and got["device.rotate_recovery_passwords_status"] == 2
    assert len(got["device.encryption_status_details"]) == 2
    assert [n.code for n in dev.notices] == ["N401", "N401"]  # a policy node; an undeclared node


def test_recovery_keys_keep_id_type_and_date_never_the_key():
    page = example("recovery-keys.json")
    page["value"][0]["key"] = KEY
    dev = import_device(page, VOCABULARY)
    keys = dev.facts.get("device.recovery_keys")
    assert [(k["key_id"], k["volume_type"]) for k in keys] == [
        ("b1f0c6d2-7e8a-4b9c-a0d1-e2f3a4b5c6d7", "OperatingSystem"),
        ("e4d3c2b1-a098-4f7e-8d6c-5b4a39281706", "FixedData"),
    ]
    assert all("key" not in k for k in keys)
    assert dev.azure_ad_device_id == "8b6f4c2e-1d3a-4e5f-9a7b-0c1d2e3f4a5b"
    assert ("N405", "$.value[0].key") in codes(dev.notices)
    assert ("N406", '$["@odata.nextLink"]') in codes(dev.notices)
    assert KEY not in repr(dev) and KEY_BARE not in repr(dev)


def test_recovery_key_volume_type_by_number_or_name():
    one = {
        "@odata.type": "#microsoft.graph.bitlockerRecoveryKey",
        "id": "k",
        "deviceId": "d",
        "volumeType": "removableDataVolume",
    }
    assert device_values(one)["device.recovery_keys"][0]["volume_type"] == "RemovableData"
    assert device_values({**one, "volumeType": 2})["device.recovery_keys"][0]["volume_type"] == "FixedData"


def test_recovery_keys_of_several_devices_are_refused():
    keys = [{"id": "a", "volumeType": "1", "deviceId": "d1"}, {"id": "b", "volumeType": "1", "deviceId": "d2"}]
    (found,) = problems({"value": keys}, device=True)
    assert found.code == "I405"


def test_project_device_json_reads_like_load_device_file():
    path = ROOT / "examples" / "device-ready.json"
    dev = import_device(json.loads(path.read_text()), VOCABULARY, origin=str(path))
    assert dict(dev.facts.values) == dict(load_device_file(path, VOCABULARY).values)
    assert dev.kind == "device-json" and dev.device_name == "CONTOSO-LT-0423"


def test_project_policy_json():
    policy = import_policy(json.loads((ROOT / "examples" / "policy-silent.json").read_text()), VOCABULARY)
    assert policy.kind == "policy-json" and policy.policy_type == "EndpointProtectionTemplate"
    assert policy.facts.get("policy.tpm_startup_pin") == "Blocked"


def test_a_page_of_managed_devices_is_several_devices():
    md = example("managed-device.json")
    devices = import_devices({"value": [md, {**md, "id": "x", "deviceName": "OTHER"}]}, VOCABULARY)
    assert [d.device_name for d in devices] == ["CONTOSO-LT-0423", "OTHER"]


def test_device_parts_merge_and_disagreements_become_conflicts():
    parts = [
        import_device(example("managed-device.json"), VOCABULARY),
        import_device(example("encryption-state.json"), VOCABULARY),
    ]
    merged = merge_facts([p.facts for p in parts], name=parts[0].name)
    assert merged.get("device.os_version") == WindowsVersion(10, 0, 22631, 3593)  # both agree
    (conflict,) = merged.conflicts
    assert conflict.fact == "device.encrypted"  # isEncrypted true, encryptionState notEncrypted


# --- provenance and the conflict demo -----------------------------------------------------


def test_each_policy_keeps_its_id_and_display_name():
    policy = import_policy(example("endpoint-protection-beta.json"), VOCABULARY)
    assert policy.policy_id == "5b0e7c1a-3f2d-4b8e-9a61-0c2d4e6f8a10"
    assert policy.facts.name == "policy 'WIN - EP - BitLocker silent' (5b0e7c1a-3f2d-4b8e-9a61-0c2d4e6f8a10)"
    assert policy.facts.origins["policy.tpm_startup_pin"] == (
        ValueOrigin(policy.facts.name, ("bitLockerSystemDrivePolicy", "startupAuthenticationTpmPinUsage")),
    )


def test_two_policies_that_disagree_on_the_startup_pin_name_both_sources():
    first, second = (
        load_policies(GRAPH_EXAMPLES / n, VOCABULARY)[0]
        for n in ("endpoint-protection-beta.json", "endpoint-protection-startup-pin.json")
    )
    merged = merge_facts([first.facts, second.facts])
    assert [c.fact for c in merged.conflicts] == ["policy.tpm_startup_pin"]
    assert merged.get("policy.minimum_pin_length") == 6  # set by one policy only: no conflict
    text = describe_conflict(merged.conflicts[0], VOCABULARY)
    assert text == (
        "policy 'WIN - EP - BitLocker silent' (5b0e7c1a-3f2d-4b8e-9a61-0c2d4e6f8a10) sets "
        "Do not allow startup PIN with TPM; policy 'WIN - EP - BitLocker with startup PIN' "
        "(0d9f5e44-2c61-4f1e-a9a7-61b7f3c0e2d5) sets Require startup PIN with TPM"
    )


def test_the_same_setting_from_three_formats_agrees():
    parts = [
        import_policy(example(n), VOCABULARY).facts
        for n in ("endpoint-protection-beta.json", "settings-catalog-bitlocker.json", "custom-oma-uri.json")
    ]
    merged = merge_facts(parts)
    conflicting = {c.fact for c in merged.conflicts}
    for fact in (
        "policy.require_device_encryption",
        "policy.warning_for_other_disk_encryption",
        "policy.tpm_startup_pin",
        "policy.os_encryption_method",
        "policy.recovery_password_rotation",
    ):
        assert fact not in conflicting, fact


@pytest.mark.parametrize("name", sorted(p.name for p in GRAPH_EXAMPLES.glob("*.json")))
def test_every_graph_example_is_plain_json_and_imports(name):
    text = (GRAPH_EXAMPLES / name).read_text()
    assert "//" not in text.replace("https://", "")
    data = json.loads(text)
    kind = detect(data).kind
    if kind == "page":
        kind = detect(data["value"][0]).kind
    loaded = load_devices if kind in ("managed-device", "encryption-state", "recovery-key") else load_policies
    assert loaded(GRAPH_EXAMPLES / name, VOCABULARY)


# --- secrets never leave ------------------------------------------------------------------


def _secret_inputs(secret):
    """(label, side, input) feeding a recovery password through every format and path."""
    return [
        ("graph string setting", "policy", system(prebootRecoveryMessage=f"Key: {secret}")),
        ("graph display name", "policy", {**ep(bitLockerEncryptDevice=True), "displayName": secret}),
        ("graph bad enum", "policy", system(startupAuthenticationTpmPinUsage=secret)),
        ("graph other property", "policy", ep(firewallRules=[secret], **{secret: 1})),
        (
            "catalog string",
            "policy",
            catalog(choice("identificationfield", 1, simple("identificationfield_identificationfield", secret))),
        ),
        ("catalog bad option", "policy", catalog(choice("requiredeviceencryption", secret))),
        ("catalog other setting", "policy", catalog(simple("device_vendor_msft_x_" + secret, secret))),
        (
            "oma admx data",
            "policy",
            oma(
                oma_str(
                    "SystemDrivesRecoveryMessage",
                    admx(
                        ("PrebootRecoveryInfoDropDown_Name", 2),
                        ("RecoveryMessage_Input", secret),
                        ("RecoveryUrl_Input", ""),
                    ),
                )
            ),
        ),
        ("oma bad int", "policy", oma(oma_int("RequireDeviceEncryption", secret))),
        ("oma bad payload", "policy", oma(oma_str("EncryptionMethodByDriveType", f"<enabled/>{secret}"))),
        ("oma other node", "policy", oma(oma_str("X" + secret, secret, root="./Device/Vendor/MSFT/Policy/"))),
        (
            "policy json",
            "policy",
            {"id": secret, "settings": {"identification_field": secret, "recovery_password": secret}},
        ),
        ("policy json bad", "policy", {"settings": {"tpm_startup_pin": secret}}),
        ("managed device", "device", {**example("managed-device.json"), "notes": secret, "deviceName": secret}),
        ("managed device bad", "device", {"@odata.type": "#microsoft.graph.managedDevice", "osVersion": secret}),
        ("encryption state bad", "device", graph_state(secret)),
        ("recovery key", "device", {"value": [{"id": "k", "volumeType": "1", "deviceId": "d", "key": secret}]}),
        ("recovery key bad", "device", {"value": [{"id": secret, "volumeType": secret, "deviceId": "d"}]}),
        (
            "csp read-out",
            "device",
            {
                "./Device/Vendor/MSFT/BitLocker/Status/RotateRecoveryPasswordsRequestID": secret,
                "./Device/Vendor/MSFT/BitLocker/Status/DeviceEncryptionStatus": secret,
            },
        ),
        ("csp read-out keys", "device", {f"./Device/Vendor/MSFT/X/{secret}": 1}),
        (
            "device json",
            "device",
            {
                "deviceName": secret,
                "facts": {
                    "azure_ad_device_id": secret,
                    "recovery_keys": [{"key_id": "a", "key": secret, "volume_type": "FixedData"}],
                },
            },
        ),
        ("device json bad", "device", {"facts": {"recovery_keys": [{"key_id": "a", "password": secret, "x": secret}]}}),
    ]


@pytest.mark.parametrize("secret", [KEY, KEY_BARE, KEY.replace("-", " ")])
@pytest.mark.parametrize("case", range(len(_secret_inputs(KEY))))
def test_recovery_passwords_never_appear_in_results_or_errors(case, secret):
    label, side, data = _secret_inputs(secret)[case]
    run = import_policies if side == "policy" else import_devices
    digits = secret.replace("-", "").replace(" ", "")
    try:
        result = run(data, VOCABULARY, origin="in.json")
    except InputError as exc:
        shown = "\n".join([str(exc), exc.render(), repr(exc.diagnostics)])
    else:
        shown = "\n".join([str(result), repr(result)] + [n.render() for r in result for n in r.notices])
    flat = shown.replace("-", "").replace(" ", "")
    assert secret not in shown and digits not in flat, label


# --- origins come from the vocabulary -----------------------------------------------------


def _vocabulary_with(edit):
    import tomllib

    from bitlocker_rules.resources import vocabulary_path
    from bitlocker_rules.vocabulary import build_vocabulary

    data = tomllib.loads(Path(vocabulary_path()).read_text(encoding="utf-8"))
    edit(data)
    return build_vocabulary(data)


def test_alternate_origins_declared_in_the_vocabulary_are_used():
    def edit(data):
        fact = next(f for f in data["facts"] if f["name"] == "device.tpm_version")
        fact["origins"]["also"] = [{"graph": "deviceHealthAttestationState.tpmVersion", "graph_type": "managedDevice"}]

    vocabulary = _vocabulary_with(edit)
    md = {"@odata.type": "#microsoft.graph.managedDevice", "deviceHealthAttestationState": {"tpmVersion": "1.2"}}
    assert import_device(md, vocabulary).facts.get("device.tpm_version") == 1.2
    assert "device.tpm_version" not in device_values(md)  # the shipped vocabulary does not declare it


def test_a_renamed_catalog_id_in_the_vocabulary_moves_the_mapping():
    def edit(data):
        fact = next(f for f in data["facts"] if f["name"] == "policy.require_device_encryption")
        fact["origins"]["catalog"] = "device_vendor_msft_bitlocker_renamed"

    vocabulary = _vocabulary_with(edit)
    got = import_policy(catalog(choice("renamed", 1)), vocabulary).facts.values
    assert got["policy.require_device_encryption"] == "Require"
    assert "policy.require_device_encryption" not in values(catalog(choice("renamed", 1)))


def _strip(data, fact_name, key, field_name=None):
    fact = next(f for f in data["facts"] if f["name"] == fact_name)
    if field_name is not None:
        fact = next(f for f in fact["fields"] if f["name"] == field_name)
    del fact["origins"][key]


def _strip_member_key(data, enum_name, key):
    for member in data["enums"][enum_name]["members"]:
        member.pop(key, None)


def test_alternate_origins_and_their_values_come_from_the_vocabulary():
    state = {"@odata.type": "#microsoft.graph.managedDeviceEncryptionState", "id": "d", "encryptionState": "encrypted"}
    assert device_values(state)["device.encrypted"] is True
    vocabulary = _vocabulary_with(lambda data: _strip(data, "device.encrypted", "also"))
    dev = import_device(state, vocabulary)
    assert "device.encrypted" not in dev.facts.values
    assert ("N401", "$.encryptionState") in codes(dev.notices)


def test_graph_empty_values_come_from_the_vocabulary():
    assert details(graph_state("success")) == []
    vocabulary = _vocabulary_with(lambda data: _strip(data, "device.encryption_status_details", "graph_empty"))
    with pytest.raises(InputError) as info:
        import_device(graph_state("success"), vocabulary)
    assert info.value.diagnostics[0].path == "$.advancedBitLockerStates"


def test_graph_numeric_field_origin_comes_from_the_vocabulary():
    key = {"@odata.type": "#microsoft.graph.bitlockerRecoveryKey", "id": "k", "deviceId": "d", "volumeType": "1"}
    assert device_values(key)["device.recovery_keys"][0]["volume_type"] == "OperatingSystem"
    vocabulary = _vocabulary_with(lambda data: _strip(data, "device.recovery_keys", "graph_numeric", "volume_type"))
    with pytest.raises(InputError) as info:
        import_device(key, vocabulary)
    assert info.value.diagnostics[0].path == "$.volumeType"


def test_graph_flag_numbers_come_from_the_vocabulary():
    def edit(data):  # swap the Graph numbers of two flags
        for member in data["enums"]["EncryptionStatusDetail"]["members"]:
            if member["name"] in ("OsVolumeUnprotected", "OsVolumeTpmRequired"):
                member["graph_number"] = 6 - member["graph_number"]

    assert details(graph_state(2)) == ["OsVolumeUnprotected"]
    got = import_device(graph_state(2), _vocabulary_with(edit)).facts.get("device.encryption_status_details")
    assert [r["detail"] for r in got] == ["OsVolumeTpmRequired"]
    stripped = _vocabulary_with(lambda data: _strip_member_key(data, "EncryptionStatusDetail", "graph_number"))
    with pytest.raises(InputError):
        import_device(graph_state(2), stripped)
    assert [
        r["detail"]
        for r in import_device(graph_state("osVolumeUnprotected"), stripped).facts.get(
            "device.encryption_status_details"
        )
    ] == ["OsVolumeUnprotected"]  # flag names still read


def test_the_policy_type_of_a_graph_resource_comes_from_the_vocabulary():
    assert import_policy(oma(), VOCABULARY).policy_type == "CustomOmaUri"
    assert import_policy(ep(), VOCABULARY).policy_type == "EndpointProtectionTemplate"
    vocabulary = _vocabulary_with(lambda data: _strip_member_key(data, "PolicyType", "graph_type"))
    assert import_policy(oma(), vocabulary).policy_type is None
    assert import_policy(ep(), vocabulary).policy_type is None


def test_secure_boot_graph_spelling_comes_from_the_vocabulary():
    def edit(data):
        for member in data["enums"]["SecureBootState"]["members"]:
            if member["name"] == "On":
                member["graph"] = "secureBootOn"

    md = {
        "@odata.type": "#microsoft.graph.managedDevice",
        "deviceHealthAttestationState": {"secureBoot": "secureBootOn"},
    }
    assert import_device(md, _vocabulary_with(edit)).facts.get("device.secure_boot") == "On"
    with pytest.raises(InputError):
        import_device(md, VOCABULARY)


def _declared_raw_strings() -> tuple[set[str], set[str]]:
    """What the vocabulary declares the sources give: the raw string values of enum members and
    facts' members (compared as written), and the CSP nodes, ADMX data ids and settings-catalog
    ids (compared in lower case, as the importers do). Graph property names are left out:
    recognising a resource by its properties is the detector's job."""
    values, ids = set(), set()
    for enum in VOCABULARY.enums.values():
        values |= {v for m in enum.members for k, v in m.origins.items() if isinstance(v, str) and k != "graph_type"}
    for fact in VOCABULARY.facts.values():
        for origins in (fact.origins, *(f.origins for f in fact.type.fields)):
            ids |= {origins[k].lower() for k in ("csp", "csp_data_id", "catalog") if k in origins}
        values |= {v for raw in fact.member_values.values() for v in raw.values() if isinstance(v, str)}
    return values, ids


# Literals in the importers that equal a declared raw value for a reason of their own.
NOT_ORIGIN_TABLES = {
    "none": "an absent templateFamily is read as Graph's documented default, none (catalog.read_policy_type)",
    "enabled": "the ADMX <enabled/> element of a CSP payload (omauri.parse_admx), not Secure Boot's Graph value",
    "unknown": "the vocabulary's key `unknown` of an alternate origin (origins.py), not joinType's Graph value",
}


def test_the_importers_keep_no_origin_tables_of_their_own():
    # The vocabulary is the single source of origins: no module of the importers spells a raw
    # value, CSP node, data id or catalog id the vocabulary declares (a table such as
    # {"azureADJoined": "AzureADJoined"} or the former pending.py would).
    values, ids = _declared_raw_strings()
    literals = {}
    for module in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and (node.value in values or node.value.lower() in ids)
            ):
                literals.setdefault(node.value, []).append(f"{module.name}:{node.lineno}")
    assert {k: v for k, v in literals.items() if k not in NOT_ORIGIN_TABLES} == {}
    assert set(NOT_ORIGIN_TABLES) <= set(literals), "an allowance no importer needs any more"


# --- OData annotations are metadata (issue 10) --------------------------------------------

# Annotations as real exports carry them: on properties, on navigation properties, action
# links (keys that start with "#"), and instance annotations.
ANNOTATIONS = {
    "@odata.id": "deviceManagement/x('1')",
    "@odata.editLink": "deviceManagement/x('1')",
    "@odata.etag": 'W/"1"',
    "createdDateTime@odata.type": "#DateTimeOffset",
    "settings@odata.navigationLink": "https://graph.microsoft.com/beta/x/settings",
    "assignments@odata.associationLink": "https://graph.microsoft.com/beta/x/assignments/$ref",
    "#microsoft.graph.assign": {"title": "microsoft.graph.assign", "target": "https://graph.microsoft.com/x"},
    "@microsoft.graph.tips": "instance annotation",
}


def annotated(obj, **more):
    return {**ANNOTATIONS, **obj, **more}


def annotation_notices(notices):
    """Notices about annotation keys (the last segment of the JSON path)."""

    def last(path):
        return path.rsplit('["', 1)[-1].rstrip('"]') if path.endswith('"]') else path.rsplit(".", 1)[-1]

    return [n for n in notices if "@odata." in last(n.path) or last(n.path).startswith(("@", "#"))]


def test_annotations_of_an_endpoint_protection_profile_are_ignored_at_every_level():
    drive = annotated({"encryptionMethod": "xtsAes256", "recoveryOptions": annotated({"hideRecoveryOptions": True})})
    data = annotated(ep(bitLockerEncryptDevice=True, firewallBlockStatefulFTP=True, bitLockerSystemDrivePolicy=drive))
    policy = import_policy(data, VOCABULARY)
    assert policy.policy_type == "EndpointProtectionTemplate"  # @odata.type is still read
    assert policy.facts.get("policy.os_encryption_method") == "XtsAes256"
    assert codes(policy.notices) == [("N401", "$.firewallBlockStatefulFTP")]  # a real property keeps its notice


def test_annotations_of_a_settings_catalog_policy_are_ignored_at_every_level():
    child = annotated(choice("allowstandarduserencryption", 1))
    parent = choice("allowwarningforotherdiskencryption", 0, child)
    parent["choiceSettingValue"] = annotated(
        parent["choiceSettingValue"],
        **{"children@odata.type": "#Collection(microsoft.graph.deviceManagementConfigurationSettingInstance)"},
    )
    data = annotated(catalog(annotated(parent), family="endpointSecurityDiskEncryption"))
    data["settings"][0] = annotated(
        data["settings"][0],
        **{"settingDefinitions@odata.associationLink": "https://graph.microsoft.com/beta/x/settingDefinitions/$ref"},
    )
    data["templateReference"] = annotated(data["templateReference"])
    policy = import_policy(data, VOCABULARY)
    assert policy.policy_type == "EndpointSecurityDiskEncryption"
    assert policy.facts.get("policy.allow_standard_user_encryption") == "Allow"
    assert policy.notices == ()


def test_annotations_of_a_custom_profile_and_a_csp_read_out_are_ignored():
    policy = import_policy(annotated(oma(annotated(oma_int("RequireDeviceEncryption", 1)))), VOCABULARY)
    assert policy.facts.get("policy.require_device_encryption") == "Require"
    assert policy.notices == ()
    device = import_device(
        {
            "@odata.context": "https://example/$metadata#x",
            "./Device/Vendor/MSFT/BitLocker/Status/DeviceEncryptionStatus": 0,
        },
        VOCABULARY,
    )
    assert device.kind == "csp-status" and device.notices == ()


def test_annotations_of_device_inputs_are_ignored_at_every_level():
    md = annotated(
        {
            "@odata.type": "#microsoft.graph.managedDevice",
            "id": "d",
            "osVersion": "10.0.22631.1",
            "hardwareInformation": annotated({"isEncrypted": True}),
            "deviceHealthAttestationState": annotated({"secureBoot": "enabled"}),
        }
    )
    dev = import_device(md, VOCABULARY)
    assert (dev.facts.get("device.encrypted"), dev.facts.get("device.secure_boot")) == (True, "On")
    assert annotation_notices(dev.notices) == []
    assert codes(dev.notices) == [("N401", "$.deviceHealthAttestationState.secureBoot")]  # why no firmware mode
    state = annotated(graph_state("success"), policyDetails=[annotated({"policyId": "p", "policyName": "P"})])
    dev = import_device(state, VOCABULARY)
    assert dev.facts.get("device.encryption_policies")[0]["policy_id"] == "p"
    assert dev.notices == ()
    keys = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#informationProtection/bitlocker/recoveryKeys",
        "value": [
            annotated(
                {
                    "@odata.type": "#microsoft.graph.bitlockerRecoveryKey",
                    "id": "k",
                    "volumeType": "1",
                    "deviceId": "d",
                    "createdDateTime": "2024-01-01T00:00:00Z",
                }
            )
        ],
    }
    dev = import_device(keys, VOCABULARY)
    assert [r["key_id"] for r in dev.facts.get("device.recovery_keys")] == ["k"]
    assert dev.notices == ()


@pytest.mark.parametrize(
    "data, kind",
    [
        (annotated({"settings": [], "name": "x"}), "settings-catalog"),
        (annotated({"omaSettings": []}), "custom-oma-uri"),
        (annotated({"bitLockerEncryptDevice": True}), "graph-endpoint-protection"),
        (annotated({"joinType": "azureADJoined"}), "managed-device"),
        (annotated({"id": "k", "volumeType": "1", "deviceId": "d"}), "recovery-key"),
        (annotated({"./Device/Vendor/MSFT/BitLocker/Status/DeviceEncryptionStatus": 0}), "csp-status"),
    ],
)
def test_detection_looks_past_annotations(data, kind):
    assert detect(data).kind == kind


# --- {"value": {...}}: one object in Graph's response wrapper -----------------------------


def test_a_single_policy_wrapped_in_value_is_read():
    policy = import_policy({"value": ep(bitLockerEncryptDevice=True, firewallBlockStatefulFTP=True)}, VOCABULARY)
    assert policy.facts.get("policy.require_device_encryption") == "Require"
    assert codes(policy.notices) == [("N401", "$.value.firewallBlockStatefulFTP")]
    assert policy.facts.origins["policy.require_device_encryption"][0].path == ("value", "bitLockerEncryptDevice")


def test_a_single_device_wrapped_in_value_is_read_with_its_annotations():
    data = {
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#deviceManagement/managedDevices/$entity",
        "value": {"@odata.type": "#microsoft.graph.managedDevice", "id": "d", "joinType": "azureADJoined"},
    }
    assert import_device(data, VOCABULARY).facts.get("device.join_type") == "AzureADJoined"
    (found,) = problems({"value": {"@odata.type": "#microsoft.graph.managedDevice", "joinType": "x"}}, device=True)
    assert found.path == "$.value.joinType"


def test_a_wrapped_page_or_a_value_beside_real_properties_is_not_a_wrapper():
    (found,) = problems({"value": {"value": [ep()]}})
    assert found.code == "I408" and found.path == "$.value"
    assert detect({"value": {"a": 1}, "id": "x"}).kind is None


# --- managedDevice and encryption report: TPM, Secure Boot, firmware ------------------------


def md(**props):
    return {"@odata.type": "#microsoft.graph.managedDevice", "id": "d", **props}


@pytest.mark.parametrize("raw", ["2.0", "2.0, 0, 1.38", "1.2, 2, 3", " 2.0"])
def test_a_tpm_specification_version_means_a_tpm_is_present(raw):
    assert device_values(md(hardwareInformation={"tpmSpecificationVersion": raw}))["device.tpm_present"] is True
    assert device_values(graph_state("success") | {"tpmSpecificationVersion": raw})["device.tpm_present"] is True


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_a_missing_or_empty_tpm_specification_version_says_nothing(raw):
    got = device_values(md(hardwareInformation={"tpmSpecificationVersion": raw}))
    assert "device.tpm_present" not in got and "device.tpm_version" not in got  # unknown, never false
    got = device_values(graph_state("success") | {"tpmSpecificationVersion": raw})
    assert "device.tpm_present" not in got and "device.tpm_version" not in got


def test_a_tpm_specification_version_that_is_no_version_is_one_error():
    found = problems(md(hardwareInformation={"tpmSpecificationVersion": "not available"}), device=True)
    assert [(d.code, d.path) for d in found] == [("I401", "$.hardwareInformation.tpmSpecificationVersion")]


def test_empty_graph_values_of_a_device_are_missing():
    got = device_values(
        md(
            osVersion="",
            joinType="",
            deviceEnrollmentType=" ",
            skuFamily="",
            azureADDeviceId="",
            autopilotEnrolled=None,
            isEncrypted=None,
            hardwareInformation={"operatingSystemEdition": "", "isEncrypted": None},
            deviceHealthAttestationState={"secureBoot": ""},
        )
    )
    assert got == {}
    got = device_values(graph_state("") | {"encryptionState": "", "encryptionReadinessState": "", "osVersion": ""})
    assert got == {}


def test_an_empty_field_of_a_device_record_is_missing_for_that_record():
    got = device_values(graph_state("success") | {"policyDetails": [{"policyId": "", "policyName": "ES - BitLocker"}]})
    assert [dict(r) for r in got["device.encryption_policies"]] == [{"policy_name": "ES - BitLocker"}]


def test_unmapped_tpm_and_firmware_properties_say_why():
    dev = import_device(
        md(
            hardwareInformation={
                "tpmVersion": "7.2.3.1",
                "tpmManufacturer": "NTC",
                "systemManagementBIOSVersion": "1.12.0",
                "osBuildNumber": "22631",
            },
            deviceHealthAttestationState={"tpmVersion": "2.0"},
        ),
        VOCABULARY,
    )
    assert dict(dev.facts.values) == {}
    by_path = {n.path: n for n in dev.notices}
    assert set(by_path) == {
        "$.hardwareInformation.tpmVersion",
        "$.hardwareInformation.tpmManufacturer",
        "$.hardwareInformation.systemManagementBIOSVersion",
        "$.hardwareInformation.osBuildNumber",
        "$.deviceHealthAttestationState.tpmVersion",
    }
    assert all(n.code == "N401" for n in dev.notices)
    assert "device.tpm_version" in by_path["$.hardwareInformation.tpmVersion"].message
    assert "manufacturer" in by_path["$.hardwareInformation.tpmVersion"].message
    assert "hardwareInformation.tpmManufacturer" in by_path["$.hardwareInformation.tpmManufacturer"].message
    assert "device.firmware_mode" in by_path["$.hardwareInformation.systemManagementBIOSVersion"].message
    assert "Android" in by_path["$.hardwareInformation.osBuildNumber"].message
    assert "device.tpm_version" in by_path["$.deviceHealthAttestationState.tpmVersion"].message


def test_secure_boot_is_read_but_firmware_mode_is_not_derived_from_it():
    dev = import_device(md(deviceHealthAttestationState={"secureBoot": "enabled"}), VOCABULARY)
    assert dict(dev.facts.values) == {"device.secure_boot": "On"}
    (note,) = dev.notices
    assert note.path == "$.deviceHealthAttestationState.secureBoot" and "device.firmware_mode" in note.message


@pytest.mark.parametrize(
    "raw, expected", [("enabled", True), ("disabled", False), ("notApplicable", None), ("unknownFutureValue", None)]
)
def test_memory_access_protection_is_kernel_dma_protection(raw, expected):
    got = device_values(md(deviceHealthAttestationState={"memoryAccessProtection": raw}))
    assert got.get("device.kernel_dma_protection") == expected


def test_memory_access_protection_outside_its_documented_values_is_an_error():
    (found,) = problems(md(deviceHealthAttestationState={"memoryAccessProtection": "on"}), device=True)
    assert found.path == "$.deviceHealthAttestationState.memoryAccessProtection" and '"enabled"' in found.help


def test_join_state_booleans_are_not_read_as_the_join_type():
    dev = import_device(md(azureADRegistered=True, joinType="hybridAzureADJoined"), VOCABULARY)
    assert dev.facts.get("device.join_type") == "HybridAzureADJoined"
    (note,) = dev.notices
    assert note.path == "$.azureADRegistered" and "device.join_type" in note.message


# --- these mappings are data in the vocabulary ----------------------------------------------


def test_the_tpm_present_pattern_comes_from_the_vocabulary():
    vocabulary = _vocabulary_with(lambda data: _strip(data, "device.tpm_present", "also"))
    dev = import_device(md(hardwareInformation={"tpmSpecificationVersion": "2.0"}), vocabulary)
    assert dict(dev.facts.values) == {"device.tpm_version": 2.0}

    def edit(data):  # only TPM 2.0 counts
        fact = next(f for f in data["facts"] if f["name"] == "device.tpm_present")
        for alt in fact["origins"]["also"]:
            alt["pattern"] = r"^\s*2\.0"

    vocabulary = _vocabulary_with(edit)
    assert (
        import_device(md(hardwareInformation={"tpmSpecificationVersion": "2.0"}), vocabulary).facts.get(
            "device.tpm_present"
        )
        is True
    )
    with pytest.raises(InputError):
        import_device(md(hardwareInformation={"tpmSpecificationVersion": "1.2"}), vocabulary)


def test_a_bad_pattern_in_the_vocabulary_is_a_vocabulary_error():
    from bitlocker_rules import VocabularyError
    from bitlocker_rules.importers import index_for

    def edit(data):
        fact = next(f for f in data["facts"] if f["name"] == "device.tpm_present")
        fact["origins"]["also"][0]["pattern"] = "(unclosed"

    with pytest.raises(VocabularyError) as info:
        index_for(_vocabulary_with(edit))
    assert "device.tpm_present" in info.value.diagnostics[0].message


def test_reasons_for_unread_properties_come_from_the_vocabulary():
    def edit(data):
        fact = next(f for f in data["facts"] if f["name"] == "device.tpm_version")
        for item in fact["origins"]["not_read"]:
            item["why"] = "a reason written in the vocabulary"

    dev = import_device(md(hardwareInformation={"tpmVersion": "7.2"}), _vocabulary_with(edit))
    assert "a reason written in the vocabulary" in dev.notices[0].message


def test_values_that_mean_unknown_come_from_the_vocabulary():
    def edit(data):
        fact = next(f for f in data["facts"] if f["name"] == "device.kernel_dma_protection")
        fact["origins"]["also"][0]["unknown"] = []

    with pytest.raises(InputError):
        import_device(
            md(deviceHealthAttestationState={"memoryAccessProtection": "notApplicable"}), _vocabulary_with(edit)
        )


def test_a_page_of_thousands_of_unreadable_items_stops_after_a_hundred_problems():
    # 400,000 items that are not objects once took 25 s and 1.5 GB: each item's error was made
    # and rendered. Reading stops at the hundredth problem and says the rest was not checked.
    import time

    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        import_devices({"value": [1] * 400_000}, VOCABULARY, origin="page.json")
    assert time.monotonic() - started < 5
    diagnostics = caught.value.diagnostics
    assert [d.code for d in diagnostics] == ["I407"] * 100 + ["I010"]
    assert diagnostics[-1].render() == (
        "page.json: error[I010]: reading stopped after 100 problems, the first 100 listed: the rest was not checked"
    )
    with pytest.raises(InputError) as caught:  # exactly a hundred: all read, nothing more to say
        import_devices({"value": [1] * 100}, VOCABULARY, origin="page.json")
    assert [d.code for d in caught.value.diagnostics] == ["I407"] * 100


# --- claims the mutation run found unchecked ------------------------------------------------


@pytest.mark.parametrize(
    "data, kind",
    [
        # deviceManagementIntent listed without $expand=settings, stored without @odata.type
        ({"id": "i-1", "displayName": "Disk encryption", "templateId": "t-1"}, "endpoint-security-intent"),
        # configurationPolicy listed without $expand=settings: settingCount is a property of it (reference 2.8)
        ({"id": "c-1", "name": "Catalog", "platforms": "windows10", "settingCount": 3}, "settings-catalog"),
        # a resource's own properties beside a `value` list: a resource, not a Graph page
        ({"value": [], "omaSettings": [oma_int("RequireDeviceEncryption", 1)]}, "custom-oma-uri"),
    ],
)
def test_detection_of_a_resource_by_its_own_properties(data, kind):
    """A resource without ``@odata.type`` is recognised by a property only it has: an intent by its
    ``templateId``, a catalog policy listed without its settings by ``settingCount``; a ``value``
    list beside such properties does not make it a page. Each is otherwise undetectable."""
    assert detect(data).kind == kind


@pytest.mark.parametrize("version", ["beta", "v1.0"])
def test_api_version_of_a_page_named_only_by_its_next_link(version):
    """A page without ``@odata.context`` still names its endpoint in ``@odata.nextLink``."""
    link = f"https://graph.microsoft.com/{version}/deviceManagement/deviceConfigurations?$skiptoken=x"
    assert detect({"@odata.nextLink": link, "value": [ep()]}).api_version == version


def test_oma_uri_with_a_trailing_slash_is_the_same_node():
    """``…/RequireDeviceEncryption/`` names the same CSP node as without the slash."""
    got = values(oma(oma_int("RequireDeviceEncryption/", 1)))
    assert got["policy.require_device_encryption"] == "Require"


@pytest.mark.parametrize(("value", "member"), [(True, "Require"), (False, "NotConfigured")])
def test_oma_uri_boolean_setting_is_read_as_1_or_0(value, member):
    """An ``omaSettingBoolean`` (Graph: ``value`` Boolean) sets the node as 1 or 0: CSP
    RequireDeviceEncryption 1 = require, 0 = not configured (vocabulary member values)."""
    setting = {**oma_int("RequireDeviceEncryption", value), "@odata.type": "#microsoft.graph.omaSettingBoolean"}
    assert values(oma(setting))["policy.require_device_encryption"] == member


def test_admx_payload_element_and_attribute_names_in_another_case():
    """The tokenizer matches names whatever their case (re.IGNORECASE), so ``<Enabled/>`` must read as
    enabled and ``ID``/``Value`` as the data id and its value, not be dropped or read as disabled."""
    payload = parse_admx('<Enabled/><data ID="MinPINLength" Value="8"/>')
    assert payload.enabled is True
    assert payload.data == (("MinPINLength", "8"),)


@pytest.mark.parametrize("written", ["True", "TRUE"])
def test_admx_boolean_data_written_in_capitals_is_true(written):
    """An ADMX boolean data id written ``True`` is true, as ``true`` is: OSAllowDRA_Name true is
    Not configured (the inverted data recovery agent, as test_inverted_data_recovery_agent)."""
    got = values(oma(oma_str("SystemDrivesRecoveryOptions", admx(("OSAllowDRA_Name", written)))))
    assert got["policy.os_recovery_block_dra"] == "NotConfigured"


def test_empty_template_family_is_plain_settings_catalog_without_a_notice():
    """``templateFamily: ""`` is no family at all, read as ``none``: Settings catalog, and no N407
    (which says the family is one the vocabulary does not name)."""
    policy = import_policy(catalog(choice("requiredeviceencryption", 1), family=""), VOCABULARY)
    assert policy.policy_type == "SettingsCatalog"
    assert "N407" not in [n.code for n in policy.notices]


def test_a_bare_setting_instance_in_settings_is_placed_where_it_is():
    """A ``settings`` entry that is the instance itself (no ``settingInstance`` wrapper) is read, and
    its value is placed at that entry: a path through ``settingInstance`` names nothing there."""
    policy = import_policy(
        {**catalog(), "settings": [choice("requiredeviceencryption", 1)]}, VOCABULARY, origin="test.json"
    )
    (place,) = policy.facts.origins["policy.require_device_encryption"]
    assert json_path_text(place.path) == "$.settings[0].choiceSettingValue.value"


def test_an_empty_policy_string_is_a_value_not_missing():
    """An empty string in a policy setting is what the policy sets (an empty recovery message); only a
    device fact's empty Graph string is missing (vocabulary: "An empty Graph string is always missing
    for a device fact")."""
    got = values(system(prebootRecoveryMessage=""))
    assert got["policy.preboot_recovery_message"] == ""


def test_a_bitlocker_recovery_password_field_is_dropped_as_a_secret():
    """A ``bitLockerRecoveryPassword`` field is a recovery secret: dropped with N405, not merely
    skipped as an unknown property (N401)."""
    device = {"@odata.type": "#microsoft.graph.managedDevice", "id": "d-1", "bitLockerRecoveryPassword": KEY}
    notices = import_device(device, VOCABULARY).notices
    assert ("N405", "$.bitLockerRecoveryPassword") in codes(notices)


def test_graph_strings_mapped_by_values_match_whatever_their_case():
    """An alternate origin's ``values`` match as Graph enum members do (``_graph_key`` casefolds):
    ``Encrypted`` is ``encrypted``, not an error."""
    state = {"@odata.type": "#microsoft.graph.managedDeviceEncryptionState", "id": "d", "encryptionState": "Encrypted"}
    assert device_values(state)["device.encrypted"] is True


def test_device_parts_whose_entra_ids_differ_only_in_case_are_one_device():
    """Entra device ids are GUIDs, which RFC 4122 (section 3) makes case-insensitive on input: a
    managedDevice's ``azureADDeviceId`` and its recovery key's ``deviceId`` in another case are the
    same device, not an I405."""
    guid = "6f9a3b2e-1c4d-4e5f-8a7b-9c0d1e2f3a4b"
    md = {**example("managed-device.json"), "azureADDeviceId": guid.upper()}
    key = {"id": "k-1", "volumeType": "1", "deviceId": guid, "createdDateTime": "2024-01-01T00:00:00Z"}
    device = import_device({"value": [md, key]}, VOCABULARY)
    assert device.azure_ad_device_id.casefold() == guid


def test_inverted_applies_to_the_graph_boolean_only():
    """``inverted`` is declared as "a Graph Boolean has the opposite polarity of the CSP value"
    (vocabulary header): with it, Graph ``true`` reads false, while the CSP's 1 still reads true."""

    def edit(data):
        next(f for f in data["facts"] if f["name"] == "device.encrypted")["origins"]["inverted"] = True

    vocabulary = _vocabulary_with(edit)
    graph = {"@odata.type": "#microsoft.graph.managedDevice", "id": "d-1", "isEncrypted": True}
    csp = {"./Vendor/MSFT/DeviceStatus/Compliance/EncryptionCompliance": 1}
    assert import_device(graph, vocabulary).facts.get("device.encrypted") is False
    assert import_device(csp, vocabulary).facts.get("device.encrypted") is True


def test_an_admx_payload_after_a_line_break_is_still_a_payload():
    """A payload pasted with a leading line break or spaces (``\\n  <enabled/>``) is the same payload;
    read as a plain string it would be refused for a node that takes an ADMX payload."""
    got = values(oma(oma_str("SystemDrivesEnhancedPIN", "\n  <enabled/>")))
    assert got["policy.enhanced_pin"] == "Enabled"
