"""The shipped ``key_rotation`` ruleset, rule by rule (see ``rule_cases`` for the shape)."""

from __future__ import annotations

from rule_cases import RulesetCases, failing, install, outcome, with_status

from bitlocker_rules import Status

# Client-driven rotation on for Azure AD and hybrid joined devices, backup to Azure AD required
# for OS and fixed drives; an Azure AD joined Windows 11 device; a remote rotation is planned.
BASE = {
    "policy.recovery_password_rotation": "AzureADAndHybrid",
    "policy.os_save_recovery_to_azure_ad": "Enabled",
    "policy.os_require_recovery_backup_before_enabling": "Required",
    "policy.fdv_save_recovery_to_azure_ad": "Enabled",
    "policy.fdv_require_recovery_backup_before_enabling": "Required",
    "device.os_version": "10.0.22631.3593",
    "device.join_type": "AzureADJoined",
    "device.enrollment_type": "WindowsAzureADJoin",
    "device.bitlocker_events": [{"event_id": 845}],
    "device.rotate_recovery_passwords_status": 0,
    "action.kind": "RotateKeys",
}
HYBRID = {"device.join_type": "HybridAzureADJoined"}

PASSING = {
    "KR-01": [{"device.os_version": "1909"}, {"device.os_version": "Windows 11"}],
    "KR-02": [{"policy.recovery_password_rotation": "AzureAD"}, {}],
    "KR-03": [HYBRID],
    "KR-04": [{}],
    "KR-05": [{}],
    "KR-06": [{}],
    "KR-07": [{}, HYBRID],
    "KR-08": [{"device.enrollment_type": t} for t in ("WindowsAzureADJoin", "WindowsBulkAzureDomainJoin",
                                                       "WindowsAzureADJoinUsingDeviceAuth", "WindowsCoManagement")],
    "KR-09": [{"device.bitlocker_events": []}, {"device.bitlocker_events": [{"event_id": 768}, {"event_id": 845}]}],
    "KR-10": [{"device.rotate_recovery_passwords_status": s} for s in (0, 1, 2)],
}

FAILING = {
    "KR-01": ({"device.os_version": "1903"}, "OS version"),
    "KR-02": ({"policy.recovery_password_rotation": "Disabled"}, "Client-driven recovery password rotation"),
    "KR-03": ({**HYBRID, "policy.recovery_password_rotation": "AzureAD"}, "Client-driven recovery password rotation"),
    "KR-04": ({"policy.os_save_recovery_to_azure_ad": "NotConfigured"},
              "Save BitLocker recovery information to Azure Active Directory"),
    "KR-05": ({"policy.os_require_recovery_backup_before_enabling": "NotConfigured"},
              "Store recovery information in Azure Active Directory before enabling BitLocker"),
    "KR-06": ({"policy.fdv_require_recovery_backup_before_enabling": "NotConfigured"},
              "Store recovery information in Azure Active Directory before enabling BitLocker"),
    "KR-07": ({"device.join_type": "AzureADRegistered"}, "Join type"),
    "KR-08": ({"device.enrollment_type": "WindowsAutoEnrollment"}, "Enrollment type"),
    "KR-09": ({"device.bitlocker_events": [{"event_id": 845}, {"event_id": 858}]}, None),
    "KR-10": ({"device.rotate_recovery_passwords_status": -2147024809}, "Rotate recovery passwords status"),
}

CASES = RulesetCases("key_rotation", BASE, PASSING, FAILING)
install(globals(), CASES)


def test_baseline_has_the_hybrid_rule_not_applicable():
    report = CASES.evaluate()
    assert with_status(report, Status.NOT_APPLICABLE) == {"KR-03"}


def test_without_a_planned_action_the_remote_rules_do_not_apply():
    report = CASES.evaluate(remove=("action.kind",))
    assert {"KR-07", "KR-08"} <= with_status(report, Status.NOT_APPLICABLE)
    report = CASES.evaluate({"action.kind": "ReadRecoveryKey", "device.join_type": "AzureADRegistered"})
    assert failing(report) == set()


def test_event_858_names_the_failed_event():
    report = CASES.evaluate(FAILING["KR-09"][0])
    (reason,) = outcome(report, "KR-09").reasons
    assert reason.fact == "device.bitlocker_events[1].event_id" and reason.actual == "858"
    assert outcome(report, "KR-09").events == (856, 858, 859)


def test_hybrid_device_with_rotation_off_fails_only_the_hybrid_rule():
    report = CASES.evaluate({**HYBRID, "policy.recovery_password_rotation": "Disabled"})
    assert failing(report) == {"KR-03"}


def test_a_missing_rotation_setting_is_unknown_not_false():
    report = CASES.evaluate(remove=("policy.recovery_password_rotation",))
    assert outcome(report, "KR-02").status is Status.UNKNOWN
    assert outcome(report, "KR-02").missing_facts == ("policy.recovery_password_rotation",)
