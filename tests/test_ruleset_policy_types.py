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


# --- several assigned policies: the rules that read the profile type are decided per policy

import pytest  # noqa: E402

from bitlocker_rules import Engine, facts_from_mapping, merge_facts  # noqa: E402


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load(["policy_types", "silent_enablement"])


def profile(engine: Engine, name: str, settings: dict):
    return facts_from_mapping(settings, engine.vocabulary, origin=f"{name}.json", name=f"policy '{name}'")


def statuses(engine: Engine, *policies) -> dict:
    facts = merge_facts([merge_facts(list(policies), name="policies"),
                         facts_from_mapping({"device.os_version": "22H2"}, engine.vocabulary, name="device 'PC'")])
    report = engine.evaluate(facts)
    return {o.rule: o for o in report.outcomes}


def test_a_baseline_requiring_a_startup_pin_fails_beside_the_silent_profile(engine):
    """F19: the baseline comes on top of the BitLocker profile; its own PIN setting is what fails."""
    found = statuses(engine, profile(engine, "EP", BASE),
                     profile(engine, "Baseline", {**BASELINE, "policy.tpm_startup_pin": "Required"}))
    assert found["PT-03"].status is Status.FAIL
    assert found["PT-03"].reasons[0].source == "policy 'Baseline' $[\"policy.tpm_startup_pin\"]"
    # The profile type differs, but no policy is in conflict over it: the silent settings come
    # from the Endpoint protection profile, so the rules on where they come from pass.
    assert found["PT-01"].status is found["PT-02"].status is found["SE-P2"].status is Status.PASS
    # The PIN setting itself is in conflict between the two, as Intune reports it.
    assert found["SE-09"].status is Status.UNKNOWN and found["SE-09"].reasons[0].conflict


def test_silent_settings_in_a_disk_encryption_profile_fail_even_beside_the_template(engine):
    found = statuses(engine, profile(engine, "EP", BASE),
                     profile(engine, "ESDE", {**BASE, "policy.policy_type": "EndpointSecurityDiskEncryption"}))
    assert found["PT-02"].status is Status.FAIL
    assert found["PT-02"].reasons[0].source == "policy 'ESDE' $[\"policy.policy_type\"]"


def test_an_incomplete_oma_uri_payload_is_not_hidden_by_another_profile(engine):
    """PT-04 reads the custom profile's own payload: another profile's methods do not complete it."""
    oma = {**CUSTOM, **METHODS, "policy.fixed_encryption_method": None}
    found = statuses(engine, profile(engine, "EP", {**BASE, **METHODS}), profile(engine, "OMA", oma))
    assert found["PT-04"].status is Status.FAIL


def test_one_policy_is_decided_as_before(engine):
    found = statuses(engine, profile(engine, "Baseline", {**BASELINE, "policy.tpm_startup_pin": "Required"}))
    assert found["PT-03"].status is Status.FAIL and found["SE-09"].status is Status.FAIL


def test_profile_types_that_differ_are_not_a_conflict(engine):
    policies = merge_facts([profile(engine, "EP", BASE),
                            profile(engine, "Baseline", {**BASELINE, "policy.tpm_startup_pin": "Required"})])
    report = engine.evaluate(policies)
    assert [c.fact for c in report.conflicts] == ["policy.require_device_encryption", "policy.tpm_startup_pin"]
    assert "policy.policy_type" in {c.fact for c in policies.conflicts}  # the merge itself keeps it


def test_the_command_line_neither_lists_nor_repairs_the_profile_type(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "bitlocker_rules", "check", "--format", "json",
         "--policy", "examples/graph/endpoint-protection-beta.json",
         "--policy", "examples/graph/settings-catalog-bitlocker.json", "--device", "examples/device-ready.json"],
        capture_output=True, text=True, cwd=root,
    )
    report = json.loads(result.stdout)
    assert "policy.policy_type" not in {c["fact"] for c in report["conflicts"]}
    assert "policy.policy_type" not in {c["fact"] for c in report["suggested_changes"]}
    se_p2 = next(o for o in report["results"] if o["rule"] == "SE-P2")
    assert se_p2["status"] == "fail"  # the settings-catalog (endpoint security) profile also sets the silent settings
    assert "ES - Disk encryption - BitLocker (OS)" in json.dumps(se_p2["reasons"])
