"""The shipped ``platform_support`` ruleset, rule by rule (see ``rule_cases`` for the shape)."""

from __future__ import annotations

from rule_cases import RulesetCases, install, outcome

from bitlocker_rules import Status

# A Windows 11 Enterprise device with a TPM 2.0, a licensed user, and a policy that requires
# TPM startup (so the TPM rule applies).
BASE = {
    "device.os_version": "10.0.22631.3593",
    "device.os_edition": "Enterprise",
    "device.tpm_present": True,
    "device.tpm_version": 2.0,
    "device.user_has_bitlocker_management_license": True,
    "policy.tpm_startup": "Required",
}

PASSING = {
    "PS-01": [{"device.os_version": "1703"}, {"device.os_version": "Windows 11"}],
    "PS-02": [{"device.os_edition": "Pro", "device.os_version": "1809"},
              {"device.os_edition": "Pro", "device.os_version": "Windows 11 23H2"}],
    "PS-03": [{"device.os_edition": e} for e in ("Pro", "Education", "SE", "IoTEnterprise")],
    "PS-04": [{"device.tpm_version": 1.2},
              {"policy.tpm_startup": "Allowed", "policy.block_without_compatible_tpm": "Block"},
              {"policy.tpm_startup": "Allowed", "policy.tpm_startup_pin": "Required"}],
}

FAILING = {
    "PS-01": ({"device.os_version": "1607"}, "OS version"),
    "PS-02": ({"device.os_edition": "Pro", "device.os_version": "1803"}, "OS version"),
    "PS-03": ({"device.os_edition": "Home"}, "Operating system edition"),
    "PS-04": ({"device.tpm_present": False}, "TPM present"),
}

CASES = RulesetCases("platform_support", BASE, PASSING, FAILING, notes=["PS-05"])
install(globals(), CASES)


def test_tpm_rule_does_not_apply_when_no_setting_needs_a_tpm():
    report = CASES.evaluate({"device.tpm_present": False, "policy.tpm_startup": "Allowed",
                             "policy.tpm_startup_pin": "Blocked", "policy.tpm_startup_key": "Blocked",
                             "policy.tpm_startup_key_and_pin": "Blocked",
                             "policy.block_without_compatible_tpm": "NotConfigured"})
    assert outcome(report, "PS-04").status is Status.NOT_APPLICABLE


def test_tpm_older_than_1_2_fails():
    report = CASES.evaluate({"device.tpm_version": 1.1})
    assert outcome(report, "PS-04").status is Status.FAIL


def test_pro_before_1809_fails_only_the_pro_rule_even_on_1703():
    report = CASES.evaluate({"device.os_edition": "Pro", "device.os_version": "1703"})
    assert outcome(report, "PS-01").status is Status.PASS
    assert outcome(report, "PS-02").status is Status.FAIL


def test_licensing_note_applies_to_unlicensed_users():
    def note(changes):
        (found,) = [n for n in CASES.evaluate(changes).notes if n.rule == "PS-05"]
        return found.applies

    assert note({}) is False
    assert note({"device.user_has_bitlocker_management_license": False}) is True
    assert note({"device.user_has_bitlocker_management_license": None}) is None
