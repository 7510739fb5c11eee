"""The shipped ``encryption_readiness`` ruleset, beyond the verdict cases of
``rulesets/encryption_readiness.tests.toml`` (``rule_cases`` reads its baseline).

One failing variant per documented failure cause (F1-F19) that device facts can show, plus the
encryption report's status details and readiness. The causes of failed silent encryption apply
only when the check is about silent enablement; the report and event-log rules apply whenever
the device reports the problem.
"""

from __future__ import annotations

from rule_cases import RulesetCases, failing, outcome, unknown, with_status

from bitlocker_rules import Status
from bitlocker_rules import nodes as n

WIN10_1809_UNPATCHED = {"device.os_version": "10.0.17763.107"}
# Not silent: a startup PIN is required and the other-encryption warning is not suppressed, so
# interactive startup authentication is inferred, and silent enablement is out of scope.
INTERACTIVE = {"policy.warning_for_other_disk_encryption": "NotConfigured", "policy.tpm_startup_pin": "Required"}


def details(*names: str) -> dict:
    return {"device.encryption_status_details": [{"detail": n} for n in names]}


CASES = RulesetCases("encryption_readiness")

# The rules about failed silent encryption, and those that read what the device reports.
SILENT = {
    "ER-01",
    "ER-03",
    "ER-05",
    "ER-06",
    "ER-08",
    "ER-09",
    "ER-10",
    "ER-11",
    "ER-16",
    "ER-12",
    "ER-15",
    "ER-30",
    "ER-32",
    "ER-17",
    "ER-19",
    "ER-23",
    "ER-25",
}
REPORTED = {"ER-02", "ER-04", "ER-07", "ER-13", "ER-18", "ER-22", "ER-24", "ER-28"}


def rule(rule_id: str) -> n.Rule:
    return CASES.rule(rule_id)


def status(rule_id: str, changes: dict | None = None, **kwargs) -> Status:
    return CASES.status(rule_id, changes, **kwargs)


# --- scenarios -------------------------------------------------------------------------------------


def test_the_silent_causes_are_exactly_the_rules_about_silent_enablement():
    assert {r.id for r in CASES.loaded.rules if r.scenarios} == SILENT
    assert all(rule(r).scenarios == ("silent_enablement",) for r in SILENT)


def test_the_device_s_own_reports_apply_whatever_the_scenario():
    for rule_id in REPORTED:
        assert rule(rule_id).scenarios == ()
    report = CASES.evaluate(
        {
            **INTERACTIVE,
            **details("TpmNotAvailable", "NetworkError"),
            "device.bitlocker_events": [{"event_id": 846, "error_code": "0x80072f9a"}],
            "device.encryption_readiness": "NotReady",
        }
    )
    assert failing(report) == {"ER-02", "ER-13", "ER-24", "ER-28"}


def test_a_device_failing_every_silent_cause_fails_none_when_the_policy_is_interactive():
    everything = {
        "device.tpm_present": False,
        "device.bootable_media_present": True,
        "device.winre_configured": False,
        "device.firmware_mode": "LegacyBIOS",
        "device.secure_boot": "Off",
        "device.pcr7_in_validation_profile": False,
        "device.pcr7_binding_supported": False,
        "device.unallowed_dma_buses": True,
        "device.os_version": "10.0.17763.107",
        "policy.tpm_startup_key": "Allowed",
        "policy.allow_standard_user_encryption": "NotConfigured",
        "device.network_available": False,
        "device.join_type": "AzureADRegistered",
    }
    # ER-32 is disputed: unknown, never failed.
    assert failing(CASES.evaluate(everything)) == SILENT - {"ER-03", "ER-12", "ER-15", "ER-19", "ER-32"}
    assert failing(
        CASES.evaluate({**everything, "policy.tpm_startup_pin": "Required", "device.os_version": "1803"})
    ) == SILENT - {"ER-03", "ER-12", "ER-32"}
    report = CASES.evaluate({**everything, **INTERACTIVE})
    assert failing(report) & SILENT == set()
    assert with_status(report, Status.NOT_APPLICABLE) >= SILENT


def test_silent_causes_are_unknown_never_failed_when_the_scenario_cannot_be_told():
    """Neither declared nor inferable: no warning setting, no startup PIN."""
    report = CASES.evaluate(
        {
            "device.tpm_present": False,
            "device.tpm_ready": None,
            "device.firmware_mode": "LegacyBIOS",
            "device.network_available": False,
        },
        remove=("policy.warning_for_other_disk_encryption", "policy.tpm_startup_pin"),
    )
    assert failing(report) & SILENT == set()
    assert {"ER-01", "ER-08", "ER-23"} <= unknown(report)
    for rule_id in ("ER-01", "ER-08", "ER-23"):
        assert "scenario.silent_enablement" in outcome(report, rule_id).missing_facts
    (silent,) = [s for s in report.scenarios if s.name == "silent_enablement"]
    assert silent.state == "not known" and "Warning for other disk encryption" in silent.because


def test_silent_enablement_is_inferred_from_warning_for_other_disk_encryption():
    report = CASES.evaluate({"device.winre_configured": False})
    (silent,) = [s for s in report.scenarios if s.name == "silent_enablement"]
    assert (silent.holds, silent.how) == (True, "inferred")
    assert silent.because == "Warning for other disk encryption is Block"
    assert failing(report) == {"ER-06"}


# --- warnings and advice -------------------------------------------------------------------------------


def test_secure_boot_pcr7_and_dma_are_warnings_and_all_but_secure_boot_are_advice():
    assert {r: rule(r).severity for r in ("ER-09", "ER-10", "ER-11", "ER-16")} == dict.fromkeys(
        ("ER-09", "ER-10", "ER-11", "ER-16"), "warning"
    )
    assert rule("ER-09").encodes == ("F5", "intune-bitlocker") and rule("ER-09").related == ()
    assert {r: rule(r).related for r in ("ER-10", "ER-11", "ER-16")} == {
        "ER-10": ("F5",),
        "ER-11": ("F5",),
        "ER-16": ("F10",),
    }
    assert all(rule(r).encodes == () for r in ("ER-10", "ER-11", "ER-16"))
    advice = {r.id for r in CASES.loaded.rules if r.related}
    assert advice == {"ER-10", "ER-11", "ER-16"}


def test_the_warnings_do_not_fail_a_check_at_error_level():
    report = CASES.evaluate(
        {
            "device.secure_boot": "Off",
            "device.pcr7_in_validation_profile": False,
            "device.pcr7_binding_supported": False,
            "device.unallowed_dma_buses": True,
        }
    )
    assert failing(report) == {"ER-09", "ER-10", "ER-11", "ER-16"}
    assert {o.rule for o in report.failed if o.advice} == {"ER-10", "ER-11", "ER-16"}
    assert report.exit_code("error") == 0 and report.exit_code("warning") == 1


# --- ER-12: the Windows 10 1809 key backup fix ----------------------------------------------------------


def test_ER_12_reads_the_build_revision_from_the_os_version():
    report = CASES.evaluate({**WIN10_1809_UNPATCHED, "device.installed_updates": []})
    (reason, *_) = [c for c in outcome(report, "ER-12").reasons if c.fact == "device.os_build_revision"]
    assert (reason.actual, reason.status) == ("107", Status.FAIL)
    assert reason.required == "at least 529"


# --- startup authentication: ER-15, ER-30, ER-31 ---------------------------------------------------------


def test_ER_15_fails_on_each_required_startup_option():
    for setting, label in (
        ("policy.tpm_startup_pin", "Compatible TPM startup PIN"),
        ("policy.tpm_startup_key", "Compatible TPM startup key"),
        ("policy.tpm_startup_key_and_pin", "Compatible TPM startup key and PIN"),
    ):
        report = CASES.evaluate({setting: "Required", "policy.removable_unprotected_write_access": "NotConfigured"})
        assert failing(report) == {"ER-15"}, setting
        assert [c.label for c in outcome(report, "ER-15").reasons if c.status is Status.FAIL] == [label]


def test_ER_30_reads_the_removable_write_access_with_the_startup_key_options():
    read = set(n.facts_read(rule("ER-30").applicability, *rule("ER-30").requires))
    assert read == {
        "scenario.silent_enablement",
        "policy.removable_unprotected_write_access",
        "policy.additional_authentication_at_startup",
        "policy.tpm_startup_key",
        "policy.tpm_startup_key_and_pin",
    }
    report = CASES.evaluate({"policy.tpm_startup_key": "Allowed"})
    found = outcome(report, "ER-30")
    assert found.status is Status.FAIL
    assert [(c.label, c.actual) for c in found.applies_because if c.fact.startswith("policy.")] == [
        ("Write access to removable data-drive not protected by BitLocker", "Block"),
        ("Additional authentication at startup", "Require"),
    ]
    assert [(c.label, c.actual) for c in found.reasons if c.status is Status.FAIL] == [
        ("Compatible TPM startup key", "Allow startup key with TPM")
    ]


def test_ER_30_asks_for_do_not_allow_only_while_unprotected_removable_drives_are_read_only():
    for value in ("Allowed", "NotConfigured"):
        assert status("ER-30", {"policy.tpm_startup_key": value}) is Status.FAIL, value
        assert (
            status(
                "ER-30", {"policy.tpm_startup_key": value, "policy.removable_unprotected_write_access": "NotConfigured"}
            )
            is Status.NOT_APPLICABLE
        ), value
    assert (
        status("ER-30", {"policy.tpm_startup_key": "Allowed", "policy.removable_unprotected_write_access": None})
        is Status.UNKNOWN
    )
    assert status("ER-30", {"policy.tpm_startup_pin": "Allowed"}) is Status.PASS  # the PIN needs no USB key
    # Without additional authentication at startup only the TPM is used: no startup key at all.
    assert (
        status(
            "ER-30",
            {
                "policy.tpm_startup_key": "NotConfigured",
                "policy.tpm_startup_key_and_pin": "NotConfigured",
                "policy.additional_authentication_at_startup": "NotConfigured",
            },
        )
        is Status.NOT_APPLICABLE
    )


def test_ER_32_an_allowed_pin_or_key_is_disputed_never_failed():
    for changes in ({"policy.tpm_startup_pin": "Allowed"}, {"policy.tpm_startup_key": "Allowed"}):
        found = outcome(CASES.evaluate(changes), "ER-32")
        assert found.status is Status.UNKNOWN and found.caveat.startswith("the sources disagree: the Intune page")
    assert status("ER-32", {"policy.tpm_startup_pin": "Required"}) is Status.PASS  # Require is ER-15's


def test_ER_31_allows_one_required_startup_option_at_most():
    pairs = [
        ("policy.tpm_startup", "policy.tpm_startup_pin"),
        ("policy.tpm_startup", "policy.tpm_startup_key"),
        ("policy.tpm_startup", "policy.tpm_startup_key_and_pin"),
        ("policy.tpm_startup_pin", "policy.tpm_startup_key"),
        ("policy.tpm_startup_pin", "policy.tpm_startup_key_and_pin"),
        ("policy.tpm_startup_key", "policy.tpm_startup_key_and_pin"),
    ]
    interactive = {"policy.warning_for_other_disk_encryption": "NotConfigured"}
    for first, second in pairs:
        assert status("ER-31", {**interactive, first: "Required", second: "Required"}) is Status.FAIL, (first, second)
    for only in (
        "policy.tpm_startup",
        "policy.tpm_startup_pin",
        "policy.tpm_startup_key",
        "policy.tpm_startup_key_and_pin",
    ):
        assert status("ER-31", {**interactive, only: "Required"}) is Status.PASS, only


def test_ER_31_applies_whatever_the_scenario():
    assert rule("ER-31").scenarios == () and rule("ER-31").applicability is None
    assert rule("ER-31").encodes == ("bitlocker-policy-settings", "bitlocker-csp")


# --- other applicability ---------------------------------------------------------------------------------


def test_baseline_leaves_only_the_1809_and_autopilot_cipher_rules_not_applicable():
    assert with_status(CASES.evaluate(), Status.NOT_APPLICABLE) == {"ER-12", "ER-21"}


def test_report_rules_do_not_apply_without_the_report():
    report = CASES.evaluate(
        {"device.encryption_status_details": None, "device.bitlocker_events": None, "device.encryption_readiness": None}
    )
    assert with_status(report, Status.NOT_APPLICABLE) >= REPORTED
    assert unknown(report) == set()


def test_every_failure_cause_rule_carries_its_documented_event_ids():
    events = {r.id: r.events for r in CASES.loaded.rules}
    assert events["ER-01"] == (853,) and events["ER-05"] == (853,)
    assert events["ER-06"] == (854,) and events["ER-08"] == (851,) and events["ER-25"] == (852,)
    assert events["ER-12"] == (846, 778, 851) and events["ER-23"] == (846, 847)
    assert events["ER-16"] == (4122,) and events["ER-09"] == events["ER-10"] == (812,)
