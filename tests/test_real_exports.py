"""The importers on real exports: files Microsoft Graph and the admins' export tools wrote
(tests/fixtures/real/README.md says where each comes from and what was cut).

Each test checks the facts read with their exact typed values, that no OData annotation is
reported, and which notices remain and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bitlocker_rules import InputError, WindowsVersion, shipped_vocabulary
from bitlocker_rules.importers import load_devices, load_policies

VOCABULARY = shipped_vocabulary()
REAL = Path(__file__).resolve().parent / "fixtures" / "real"


def one(loaded):
    (item,) = loaded
    return item


def annotation_paths(notices):
    """JSON paths of notices about an annotation key (`@odata.…`, `x@odata.…`, `#action`)."""
    found = []
    for notice in notices:
        last = notice.path.rsplit('["', 1)[-1] if notice.path.endswith('"]') else notice.path.rsplit(".", 1)[-1]
        if "@odata." in last or last.startswith(("@", "#")):
            found.append(notice.path)
    return found


def raw(name):
    return json.loads((REAL / name).read_text(encoding="utf-8"))


# --- policies -------------------------------------------------------------------------------


def test_intunemanagement_export_of_an_endpoint_security_bitlocker_profile():
    # 18 annotation keys at the top alone (createdDateTime@odata.type, settings@odata.navigationLink,
    # #microsoft.graph.assign, ...), more on every setting: none is a notice.
    policy = one(load_policies(REAL / "oib-settings-catalog-bitlocker.json", VOCABULARY))
    assert (policy.kind, policy.api_version, policy.policy_type) == (
        "settings-catalog",
        "beta",
        "EndpointSecurityDiskEncryption",
    )
    assert (
        policy.name == "policy 'Win - OIB - ES - Encryption - D - BitLocker (OS Disk) - v3.7' "
        "(16c73d84-c3bd-4145-b0b5-a57bd3273ca1)"
    )
    assert dict(policy.facts.values) == {
        "policy.policy_type": "EndpointSecurityDiskEncryption",
        "policy.os_encryption_type": "FullDisk",
        "policy.additional_authentication_at_startup": "Require",
        "policy.tpm_startup_key_and_pin": "Blocked",
        "policy.tpm_startup_pin": "Blocked",
        "policy.tpm_startup": "Required",
        "policy.block_without_compatible_tpm": "Block",
        "policy.tpm_startup_key": "Blocked",
        "policy.disallow_standard_users_change_pin": "Enabled",
        "policy.os_recovery": "Enabled",
        "policy.os_hide_recovery_options": "Block",
        "policy.os_recovery_block_dra": "Block",
        "policy.os_recovery_information_to_store": "PasswordAndKey",
        "policy.os_require_recovery_backup_before_enabling": "Required",
        "policy.os_save_recovery_to_azure_ad": "Enabled",
        "policy.os_recovery_password_usage": "Required",
        "policy.os_recovery_key_usage": "Blocked",
        "policy.configure_encryption_methods": "Enabled",
        "policy.removable_encryption_method": "AesCbc256",
        "policy.fixed_encryption_method": "XtsAes256",
        "policy.os_encryption_method": "XtsAes256",
        "policy.require_device_encryption": "Require",
        "policy.warning_for_other_disk_encryption": "Block",
        "policy.allow_standard_user_encryption": "Allow",
        "policy.recovery_password_rotation": "AzureAD",
    }
    assert policy.notices == ()  # every property is either read, bookkeeping or an annotation


def test_intunecd_backup_of_an_endpoint_security_bitlocker_profile():
    # IntuneCD drops ids and @odata.type at the top, so the kind is told by the shape.
    policy = one(load_policies(REAL / "intunecd-settings-catalog-bitlocker.json", VOCABULARY))
    assert (policy.kind, policy.api_version, policy.policy_type) == (
        "settings-catalog",
        None,
        "EndpointSecurityDiskEncryption",
    )
    assert policy.name == "policy 'POC_WIN_D_CO_SBL_MSZT_BitLocker'"
    assert dict(policy.facts.values) == {
        "policy.policy_type": "EndpointSecurityDiskEncryption",
        "policy.additional_authentication_at_startup": "Require",
        "policy.block_without_compatible_tpm": "Block",
        "policy.tpm_startup_key_and_pin": "Blocked",
        "policy.tpm_startup_key": "Blocked",
        "policy.tpm_startup_pin": "Blocked",
        "policy.tpm_startup": "Required",
        "policy.require_device_encryption": "Require",
        "policy.warning_for_other_disk_encryption": "Block",
        "policy.allow_standard_user_encryption": "Allow",
        "policy.recovery_password_rotation": "AzureAD",
    }
    assert policy.notices == ()


def test_secured_workstation_export_of_an_endpoint_protection_profile():
    # A PowerShell export: nested drive policies carry no @odata.type, null applicability rules.
    policy = one(load_policies(REAL / "securedworkstation-endpoint-protection.json", VOCABULARY))
    assert (policy.kind, policy.api_version, policy.policy_type) == (
        "graph-endpoint-protection",
        None,
        "EndpointProtectionTemplate",
    )
    assert dict(policy.facts.values) == {
        "policy.allow_standard_user_encryption": "Allow",
        "policy.warning_for_other_disk_encryption": "Block",
        "policy.storage_card_encryption": "NotConfigured",
        "policy.require_device_encryption": "Require",
        "policy.recovery_password_rotation": "AzureAD",
        "policy.os_encryption_method": "XtsAes128",
        "policy.additional_authentication_at_startup": "Require",
        "policy.block_without_compatible_tpm": "Block",
        "policy.tpm_startup": "Allowed",
        "policy.tpm_startup_pin": "Allowed",
        "policy.tpm_startup_key": "Blocked",
        "policy.tpm_startup_key_and_pin": "Blocked",
        "policy.minimum_pin_length": 9,
        "policy.preboot_recovery_message_and_url": "NotConfigured",
        "policy.os_recovery_block_dra": "NotConfigured",
        "policy.os_recovery_password_usage": "Allowed",
        "policy.os_recovery_key_usage": "Blocked",
        "policy.os_hide_recovery_options": "Block",
        "policy.os_save_recovery_to_azure_ad": "Enabled",
        "policy.os_recovery_information_to_store": "PasswordAndKey",
        "policy.os_require_recovery_backup_before_enabling": "Required",
        "policy.fixed_encryption_method": "XtsAes128",
        "policy.fixed_unprotected_write_access": "NotConfigured",
        "policy.fdv_recovery_block_dra": "Block",
        "policy.fdv_recovery_password_usage": "Allowed",
        "policy.fdv_recovery_key_usage": "Blocked",
        "policy.fdv_hide_recovery_options": "Block",
        "policy.fdv_save_recovery_to_azure_ad": "Enabled",
        "policy.fdv_recovery_information_to_store": "PasswordAndKey",
        "policy.fdv_require_recovery_backup_before_enabling": "Required",
        "policy.removable_encryption_method": "AesCbc128",
        "policy.removable_unprotected_write_access": "Block",
        "policy.removable_cross_org_write_access": "Block",
        "policy.policy_type": "EndpointProtectionTemplate",
    }
    # What remains are the template's other areas, each named.
    assert [(n.code, n.path) for n in policy.notices] == [
        ("N401", "$.dmaGuardDeviceEnumerationPolicy"),
        ("N401", "$.xboxServicesEnableXboxGameSaveTask"),
        ("N401", "$.localSecurityOptionsBlockMicrosoftAccounts"),
    ]


def test_graph_documentation_example_of_one_endpoint_protection_profile_in_value():
    # Graph's reference shows GET responses as {"value": {...}}: one policy, paths under $.value.
    policy = one(load_policies(REAL / "graph-docs-endpoint-protection-get.json", VOCABULARY))
    assert (policy.kind, policy.policy_type, policy.policy_id) == (
        "graph-endpoint-protection",
        "EndpointProtectionTemplate",
        "09709403-9403-0970-0394-700903947009",
    )
    got = dict(policy.facts.values)
    assert got == {
        "policy.allow_standard_user_encryption": "Allow",
        "policy.warning_for_other_disk_encryption": "Block",
        "policy.storage_card_encryption": "Require",
        "policy.require_device_encryption": "Require",
        "policy.os_encryption_method": "AesCbc256",
        "policy.additional_authentication_at_startup": "Require",
        "policy.block_without_compatible_tpm": "Block",
        "policy.tpm_startup": "Required",
        "policy.tpm_startup_pin": "Required",
        "policy.tpm_startup_key": "Required",
        "policy.tpm_startup_key_and_pin": "Required",
        "policy.minimum_pin_length": 0,
        "policy.os_recovery_block_dra": "Block",
        "policy.os_recovery_password_usage": "Required",
        "policy.os_recovery_key_usage": "Required",
        "policy.os_hide_recovery_options": "Block",
        "policy.os_save_recovery_to_azure_ad": "Enabled",
        "policy.os_recovery_information_to_store": "PasswordOnly",
        "policy.os_require_recovery_backup_before_enabling": "Required",
        "policy.preboot_recovery_message_and_url": "Enabled",
        "policy.preboot_recovery_message": "Preboot Recovery Message value",
        "policy.preboot_recovery_url": "https://example.com/prebootRecoveryUrl/",
        "policy.fixed_encryption_method": "AesCbc256",
        "policy.fixed_unprotected_write_access": "Block",
        "policy.fdv_recovery_block_dra": "Block",
        "policy.fdv_recovery_password_usage": "Required",
        "policy.fdv_recovery_key_usage": "Required",
        "policy.fdv_hide_recovery_options": "Block",
        "policy.fdv_save_recovery_to_azure_ad": "Enabled",
        "policy.fdv_recovery_information_to_store": "PasswordOnly",
        "policy.fdv_require_recovery_backup_before_enabling": "Required",
        "policy.removable_encryption_method": "AesCbc256",
        "policy.removable_unprotected_write_access": "Block",
        "policy.removable_cross_org_write_access": "Block",
        "policy.recovery_password_rotation": "Disabled",
        "policy.policy_type": "EndpointProtectionTemplate",
    }
    assert policy.facts.origins["policy.os_encryption_method"][0].path == (
        "value",
        "bitLockerSystemDrivePolicy",
        "encryptionMethod",
    )
    assert annotation_paths(policy.notices) == []
    assert [(n.code, n.path) for n in policy.notices] == [
        ("N401", "$.value.applicationGuardEnabled"),
        ("N401", "$.value.applicationGuardEnabledOptions"),
        ("N401", "$.value.appLockerApplicationControl"),
    ]


# --- devices --------------------------------------------------------------------------------


def test_a_real_v1_managed_device_record():
    # v1.0 carries no joinType, skuFamily, hardwareInformation or autopilotEnrolled: those facts
    # stay unknown, and the null deviceHealthAttestationState says nothing either.
    device = one(load_devices(REAL / "rapid7-managed-device-v1.json", VOCABULARY))
    assert (device.kind, device.api_version, device.device_name) == ("managed-device", "v1.0", "INTUNE-W10-C")
    assert dict(device.facts.values) == {
        "device.os_version": WindowsVersion(10, 0, 19044, 3084),
        "device.enrollment_type": "UserEnrollment",
        "device.azure_ad_device_id": "a8dc01bc-1c11-337b-8d63-82f03f5cb111",
        "device.encrypted": False,
    }
    read = {
        "@odata.context",
        "id",
        "deviceName",
        "osVersion",
        "deviceEnrollmentType",
        "azureADDeviceId",
        "isEncrypted",
        "deviceHealthAttestationState",
    }
    data = raw("rapid7-managed-device-v1.json")
    assert {n.path for n in device.notices} == {f"$.{key}" for key in data if key not in read}
    assert all(n.code == "N401" for n in device.notices)
    why = next(n for n in device.notices if n.path == "$.azureADRegistered")
    assert "device.join_type" in why.message  # a registration flag, not the join type


def test_graph_documentation_example_of_one_encryption_report_row_in_value():
    # The documentation's placeholder strings are no Windows version and no TPM version: the
    # row is refused, each bad value with its path under $.value, once.
    with pytest.raises(InputError) as info:
        load_devices(REAL / "graph-docs-encryption-state-get.json", VOCABULARY)
    assert [(d.code, d.path) for d in info.value.diagnostics] == [
        ("I401", "$.value.osVersion"),
        ("I401", "$.value.tpmSpecificationVersion"),
    ]
    assert '"Os Version value"' in info.value.diagnostics[0].message


def test_graph_documentation_example_of_one_encryption_report_row_with_real_values():
    # The same row with values of the documented kinds reads every BitLocker fact it carries.
    data = raw("graph-docs-encryption-state-get.json")
    data["value"].update(osVersion="10.0.22631.3593", tpmSpecificationVersion="2.0, 0, 1.59")
    from bitlocker_rules.importers import import_device

    device = import_device(data, VOCABULARY, origin="report.json")
    assert (device.kind, device.device_name) == ("encryption-state", "Device Name value")
    assert dict(device.facts.values) == {
        "device.os_version": WindowsVersion(10, 0, 22631, 3593),
        "device.tpm_present": True,
        "device.tpm_version": 2.0,
        "device.encryption_readiness": "Ready",
        "device.encrypted": True,
        "device.encryption_status_details": ({"detail": "NoUserConsent"},),
        "device.encryption_policies": ({"policy_id": "Policy Id value", "policy_name": "Policy Name value"},),
    }
    assert [(n.code, n.path) for n in device.notices] == [
        ("N401", "$.value.userPrincipalName"),
        ("N401", "$.value.deviceType"),
        ("N401", "$.value.encryptionPolicySettingState"),
        ("N401", "$.value.fileVaultStates"),
    ]


def test_graph_documentation_example_of_one_devices_recovery_keys():
    device = one(load_devices(REAL / "graph-docs-recovery-keys-by-device.json", VOCABULARY))
    assert (device.kind, device.azure_ad_device_id) == ("recovery-key", "1ab40ab2-32a8-4b00-b6b5-ba724e407de9")
    assert dict(device.facts.values) == {
        "device.recovery_keys": (
            {
                "key_id": "b465e4e8-e4e8-b465-e8e4-65b4e8e465b4",
                "volume_type": "OperatingSystem",
                "created": "2020-06-15T13:45:30.0000000Z",
            },
        )
    }
    assert device.notices == ()


def test_graph_documentation_example_of_a_tenants_recovery_keys_is_refused_as_one_device():
    with pytest.raises(InputError) as info:
        load_devices(REAL / "graph-docs-recovery-keys-list.json", VOCABULARY)
    assert [(d.code, d.path) for d in info.value.diagnostics] == [("I405", "$.value")]


@pytest.mark.parametrize("name", sorted(p.name for p in REAL.glob("*.json")))
def test_no_real_export_gets_a_notice_about_an_annotation(name):
    loader = (
        load_policies
        if "managed-device" not in name and "recovery" not in name and "encryption-state" not in name
        else load_devices
    )
    try:
        results = loader(REAL / name, VOCABULARY)
    except InputError as exc:
        assert not any("@odata" in d.message or "#microsoft.graph" in d.message for d in exc.diagnostics)
        return
    for result in results:
        assert annotation_paths(result.notices) == [], name
