"""The shipped vocabulary is well formed and covers what the rules and the seed need."""

from __future__ import annotations

import pytest

from bitlocker_rules import VocabularyError, WindowsVersion, parse_windows_version, shipped_vocabulary
from bitlocker_rules.vocabulary import build_vocabulary

VOCABULARY = shipped_vocabulary()

REQUIRED_FACTS = [
    # Endpoint protection > Windows Encryption (seed S6-S11, Q2-Q4)
    "policy.require_device_encryption", "policy.warning_for_other_disk_encryption",
    "policy.allow_standard_user_encryption", "policy.tpm_startup", "policy.tpm_startup_pin",
    "policy.tpm_startup_key", "policy.tpm_startup_key_and_pin", "policy.recovery_password_rotation",
    "policy.os_save_recovery_to_azure_ad", "policy.os_require_recovery_backup_before_enabling",
    # device facts the seed and the failure causes need
    "device.os_version", "device.os_edition", "device.join_type", "device.user_role", "device.tpm_present",
    "device.tpm_version", "device.tpm_ready", "device.firmware_mode", "device.secure_boot",
    "device.winre_configured", "device.recovery_keys", "device.bootable_media_present",
]


@pytest.mark.parametrize("name", REQUIRED_FACTS)
def test_required_fact_is_declared_with_a_label(name):
    fact = VOCABULARY.fact(name)
    assert fact is not None and fact.label and fact.description


def test_policy_settings_have_origins():
    for fact in VOCABULARY.facts.values():
        if fact.namespace == "policy" and fact.name != "policy.policy_type":
            assert set(fact.origins) & {"csp", "graph", "catalog"}, fact.name


def test_labels_as_intune_shows_them():
    assert VOCABULARY.fact("policy.tpm_startup_pin").label == "Compatible TPM startup PIN"
    assert VOCABULARY.fact("policy.tpm_startup_pin").member_label("Required") == "Require startup PIN with TPM"


def test_no_recovery_key_value_is_declared():
    fields = VOCABULARY.fact("device.recovery_keys").type.fields
    assert "key" not in {f.name for f in fields}


@pytest.mark.parametrize(
    "raw, build",
    [("1703", 15063), ("1809", 17763), ("1909", 18363), ("21H2", 19044), ("22H2", 19045),
     ("Windows 11", 22000), ("windows 11 23h2", 22631), ("10.0.17763.1234", 17763), (17763, 17763)],
)
def test_release_names_builds_and_dotted_versions(raw, build):
    assert parse_windows_version(raw, VOCABULARY.releases).build == build


def test_versions_compare_as_versions_not_strings():
    low = parse_windows_version("10.0.9999.0", {})
    high = parse_windows_version("10.0.10000.0", {})
    assert low < high and "10.0.9999.0" > "10.0.10000.0"
    assert WindowsVersion(10, 0, 17763, 99) > WindowsVersion(10, 0, 17763, 9)


def test_adding_a_fact_needs_no_python():
    vocabulary = build_vocabulary({"facts": [{"name": "device.fan_speed", "type": "integer", "label": "Fan"}]})
    assert vocabulary.fact("device.fan_speed").type.ordered


def test_bad_declarations_are_reported_together():
    with pytest.raises(VocabularyError) as info:
        build_vocabulary({
            "enums": {"E": {"members": [{"name": "bad name"}]}},
            "facts": [{"name": "Device.X", "type": "bool"}, {"name": "device.y", "type": "enum Nope"},
                      {"name": "device.z", "type": "float"}],
        })
    assert [d.code for d in info.value.diagnostics] == ["V004", "V005", "V006", "V007"]
