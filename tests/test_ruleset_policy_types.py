"""The shipped ``policy_types`` ruleset, rule by rule (see ``rule_cases`` for the shape)."""

from __future__ import annotations

from rule_cases import RulesetCases, install, outcome, with_status

from bitlocker_rules import Status

# A silent-enablement policy in the Endpoint protection template with no startup PIN or key.
BASE = {
    "policy.policy_type": "EndpointProtectionTemplate",
    "policy.require_device_encryption": "Require",
    "policy.warning_for_other_disk_encryption": "Block",
    "policy.tpm_startup_pin": "Blocked",
    "policy.tpm_startup_key": "Blocked",
    "policy.tpm_startup_key_and_pin": "Blocked",
}
# A profile that does not enable BitLocker silently (so the silent rule PT-02 does not apply).
NOT_SILENT = {"policy.require_device_encryption": "NotConfigured"}
BASELINE = {**NOT_SILENT, "policy.policy_type": "SecurityBaseline"}
CUSTOM = {**NOT_SILENT, "policy.policy_type": "CustomOmaUri"}
METHODS = {"policy.configure_encryption_methods": "Enabled", "policy.os_encryption_method": "XtsAes256",
           "policy.fixed_encryption_method": "XtsAes256", "policy.removable_encryption_method": "AesCbc256"}
MESSAGE = {"policy.preboot_recovery_message_and_url": "Enabled", "policy.preboot_recovery_message_type": "CustomUrl",
           "policy.preboot_recovery_message": "", "policy.preboot_recovery_url": "https://contoso.example/recovery"}

PASSING = {
    "PT-01": [{}, {"policy.policy_type": "EndpointSecurityDiskEncryption", **NOT_SILENT}],
    "PT-02": [{}],
    "PT-03": [BASELINE, {**BASELINE, "policy.tpm_startup_pin": "Allowed"}],
    "PT-04": [{**CUSTOM, **METHODS}],
    "PT-05": [{**CUSTOM, **MESSAGE}],
}

FAILING = {
    "PT-01": ({**NOT_SILENT, "policy.policy_type": "SettingsCatalog"}, "Policy type"),
    "PT-02": ({"policy.policy_type": "EndpointSecurityDiskEncryption"}, "Policy type"),
    "PT-03": ({**BASELINE, "policy.tpm_startup_key": "Required"}, "Compatible TPM startup key"),
    "PT-04": ({**CUSTOM, **METHODS, "policy.fixed_encryption_method": None}, "Encryption for fixed data-drives"),
    "PT-05": ({**CUSTOM, **MESSAGE, "policy.preboot_recovery_message": None}, "Custom recovery message option"),
}

CASES = RulesetCases("policy_types", BASE, PASSING, FAILING)
install(globals(), CASES)


def test_baseline_applies_only_the_generic_rules():
    assert with_status(CASES.evaluate(), Status.NOT_APPLICABLE) == {"PT-03", "PT-04", "PT-05"}


def test_custom_and_baseline_profiles_are_not_judged_by_the_documented_types_rule():
    for changes in (CUSTOM, BASELINE):
        assert outcome(CASES.evaluate(changes), "PT-01").status is Status.NOT_APPLICABLE


def test_silent_settings_in_a_settings_catalog_policy_fail_the_silent_rule():
    report = CASES.evaluate({"policy.policy_type": "SettingsCatalog"})
    assert {"PT-01", "PT-02"} == with_status(report, Status.FAIL)


def test_a_baseline_requiring_a_startup_pin_names_the_setting():
    report = CASES.evaluate({**BASELINE, "policy.tpm_startup_pin": "Required"})
    (reason,) = outcome(report, "PT-03").reasons
    assert reason.label == "Compatible TPM startup PIN" and reason.actual == "Require startup PIN with TPM"
