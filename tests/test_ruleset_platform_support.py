"""The shipped ``platform_support`` ruleset, rule by rule (see ``rule_cases`` for the shape)."""

from __future__ import annotations

from rule_cases import RulesetCases, failing, install, outcome

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
# No setting that needs a TPM.
NO_TPM_SETTING = {
    "policy.tpm_startup": "Allowed",
    "policy.tpm_startup_pin": "Blocked",
    "policy.tpm_startup_key": "Blocked",
    "policy.tpm_startup_key_and_pin": "Blocked",
    "policy.block_without_compatible_tpm": "NotConfigured",
}

PASSING = {
    "PS-01": [{"device.os_version": "1703"}, {"device.os_version": "Windows 11"}],
    "PS-02": [
        {"device.os_edition": "Pro", "device.os_version": "1809"},
        {"device.os_edition": "Pro", "device.os_version": "Windows 11 23H2"},
    ],
    "PS-03": [{"device.os_edition": e} for e in ("Pro", "Education", "SE", "IoTEnterprise", "ProEducation")],
    "PS-04": [
        {"device.tpm_version": 1.2},
        {"policy.tpm_startup": "Allowed", "policy.block_without_compatible_tpm": "Block"},
        {"policy.tpm_startup": "Allowed", "policy.tpm_startup_pin": "Required"},
    ],
}

FAILING = {
    "PS-01": ({"device.os_version": "1607"}, "OS version"),
    "PS-02": ({"device.os_edition": "Pro", "device.os_version": "1803"}, "OS version"),
    "PS-03": ({"device.os_edition": "Home"}, "Operating system edition"),
    "PS-04": ({"device.tpm_present": False}, "TPM present"),
}

NOTES = {
    "PS-05": [
        ({}, False),
        ({"device.user_has_bitlocker_management_license": False}, True),
        ({"device.user_has_bitlocker_management_license": None}, None),
    ]
}

CASES = RulesetCases("platform_support", BASE, PASSING, FAILING, notes=NOTES)
install(globals(), CASES)


def test_no_rule_is_about_a_scenario():
    assert all(not r.scenarios for r in CASES.loaded.ruleset.rules)


def test_tpm_rule_does_not_apply_when_no_setting_needs_a_tpm():
    report = CASES.evaluate({**NO_TPM_SETTING, "device.tpm_present": False})
    assert outcome(report, "PS-04").status is Status.NOT_APPLICABLE
    assert failing(report) == set()


def test_each_setting_that_needs_a_tpm_applies_the_tpm_rule():
    for setting, value in (
        ("policy.tpm_startup", "Required"),
        ("policy.tpm_startup_pin", "Required"),
        ("policy.tpm_startup_key", "Required"),
        ("policy.tpm_startup_key_and_pin", "Required"),
        ("policy.block_without_compatible_tpm", "Block"),
    ):
        changes = {**NO_TPM_SETTING, setting: value, "device.tpm_present": False}
        assert CASES.status("PS-04", changes) is Status.FAIL, setting


def test_tpm_older_than_1_2_fails():
    assert CASES.status("PS-04", {"device.tpm_version": 1.1}) is Status.FAIL


def test_pro_before_1809_fails_only_the_pro_rule_even_on_1703():
    report = CASES.evaluate({"device.os_edition": "Pro", "device.os_version": "1703"})
    assert failing(report) == {"PS-02"}


def test_the_pro_rule_does_not_apply_to_editions_the_sources_do_not_name():
    for edition in ("ProEducation", "ProForWorkstations", "Enterprise"):
        report = CASES.evaluate({"device.os_edition": edition, "device.os_version": "1803"})
        assert outcome(report, "PS-02").status is Status.NOT_APPLICABLE, edition


def test_the_licence_note_does_not_fail_anything():
    report = CASES.evaluate({"device.user_has_bitlocker_management_license": False})
    assert failing(report) == set()
    (note,) = report.notes
    assert (note.rule, note.applies) == ("PS-05", True)
