"""The shipped ``platform_support`` ruleset, beyond the verdict cases of
``rulesets/platform_support.tests.toml`` (``rule_cases`` reads its baseline)."""

from __future__ import annotations

from rule_cases import RulesetCases, failing, outcome

from bitlocker_rules import Status

# No setting that needs a TPM.
NO_TPM_SETTING = {
    "policy.tpm_startup": "Allowed",
    "policy.tpm_startup_pin": "Blocked",
    "policy.tpm_startup_key": "Blocked",
    "policy.tpm_startup_key_and_pin": "Blocked",
    "policy.block_without_compatible_tpm": "NotConfigured",
}

CASES = RulesetCases("platform_support")


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
