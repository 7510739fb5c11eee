"""The shipped ``encryption_readiness`` ruleset, rule by rule (see ``rule_cases`` for the shape).

One failing variant per documented failure cause (reference 4.1, F1-F19) that device facts can
show, plus the encryption report's status details and readiness.
"""

from __future__ import annotations

from rule_cases import RulesetCases, install, outcome, with_status

from bitlocker_rules import Status

# A silent policy with no startup PIN/key and consistent recovery options, on a healthy,
# encrypted Windows 11 Autopilot device whose report shows nothing wrong.
BASE = {
    "policy.require_device_encryption": "Require",
    "policy.warning_for_other_disk_encryption": "Block",
    "policy.allow_standard_user_encryption": "Allow",
    "policy.tpm_startup_pin": "Blocked",
    "policy.tpm_startup_key": "Blocked",
    "policy.tpm_startup_key_and_pin": "Blocked",
    "policy.os_recovery_password_usage": "Allowed",
    "policy.os_require_recovery_backup_before_enabling": "Required",
    "policy.os_encryption_method": "XtsAes256",
    "device.os_version": "10.0.22631.3593",
    "device.user_role": "StandardUser",
    "device.join_type": "AzureADJoined",
    "device.tpm_present": True,
    "device.tpm_ready": True,
    "device.bootable_media_present": False,
    "device.winre_configured": True,
    "device.firmware_mode": "UEFI",
    "device.secure_boot": "On",
    "device.pcr7_in_validation_profile": True,
    "device.pcr7_binding_supported": True,
    "device.installed_updates": [],
    "device.bitlocker_events": [{"event_id": 768}, {"event_id": 845}],
    "device.unallowed_dma_buses": False,
    "device.encrypted": True,
    "device.autopilot_enrolled": True,
    "device.os_volume_encryption_method": "XtsAes256",
    "device.network_available": True,
    "device.os_drive_ntfs": True,
    "device.system_partition_mb": 500,
    "device.encryption_status_details": [],
    "device.encryption_readiness": "Ready",
}
ADMIN = {"device.user_role": "Administrator"}
WIN10_1809 = {"device.os_version": "10.0.17763.107"}


def details(*names: str) -> dict:
    return {"device.encryption_status_details": [{"detail": n} for n in names]}


PASSING = {
    "ER-01": [{}],
    "ER-02": [{}, details("FixedDriveNotEncrypted")],
    "ER-03": [{}],
    "ER-04": [{}, details("NoUserConsent")],
    "ER-05": [{}],
    "ER-06": [{}],
    "ER-07": [{}, details("FixedDriveNotEncrypted")],
    "ER-08": [{}],
    "ER-09": [{}],
    "ER-10": [{}],
    "ER-11": [{}],
    "ER-12": [{**WIN10_1809, "device.installed_updates": [{"kb": "KB4497934"}]}],
    "ER-13": [{}, {"device.bitlocker_events": [{"event_id": 851, "error_code": "0x80310001"}]}],
    "ER-14": [{}, {"policy.os_recovery_password_usage": "Blocked",
                   "policy.os_require_recovery_backup_before_enabling": "NotConfigured"}],
    "ER-15": [{}, {"policy.tpm_startup_pin": "Allowed"}],
    "ER-16": [{}, {"device.os_version": "1809", "device.installed_updates": [{"kb": "KB4497934"}]}],
    "ER-17": [{}],
    "ER-18": [{}],
    "ER-19": [{"device.os_version": "1809", "device.installed_updates": [{"kb": "KB4497934"}]},
              {**ADMIN, "device.os_version": "1803"}],
    "ER-20": [{"device.autopilot_enrolled": False}],
    "ER-21": [{"device.os_volume_encryption_method": "XtsAes128", "policy.os_encryption_method": "XtsAes128"}],
    "ER-22": [{}],
    "ER-23": [{}],
    "ER-24": [{}],
    "ER-25": [{}, {"device.join_type": "HybridAzureADJoined"}],
    "ER-26": [{}],
    "ER-27": [{}, {"device.system_partition_mb": 350}],
    "ER-28": [{}, {"device.encryption_readiness": "NotApplicable"}],
}

FAILING = {
    "ER-01": ({"device.tpm_present": False}, "TPM present"),
    "ER-02": (details("TpmNotAvailable"), "Status detail"),
    "ER-03": ({"device.tpm_ready": False}, "TPM ready"),
    "ER-04": (details("TpmNotReady"), "Status detail"),
    "ER-05": ({"device.bootable_media_present": True}, "Bootable media present"),
    "ER-06": ({"device.winre_configured": False}, "WinRE configured"),
    "ER-07": (details("WindowsRecoveryEnvironmentNotConfigured"), "Status detail"),
    "ER-08": ({"device.firmware_mode": "LegacyBIOS"}, "BIOS Mode"),
    "ER-09": ({"device.secure_boot": "Off"}, "Secure Boot State"),
    "ER-10": ({"device.pcr7_in_validation_profile": False}, "PCR 7 in validation profile"),
    "ER-11": ({"device.pcr7_binding_supported": False}, "PCR7 Configuration"),
    "ER-12": ({**WIN10_1809, "device.installed_updates": [{"kb": "KB4489899"}]}, "KB"),
    "ER-13": ({"device.bitlocker_events": [{"event_id": 846, "error_code": "0x80072f9a"},
                                           {"event_id": 778}, {"event_id": 851, "error_code": "0x80072F9A"}]},
              "Error code"),
    "ER-14": ({"policy.os_recovery_password_usage": "Blocked"}, "User creation of recovery password"),
    "ER-15": ({"policy.tpm_startup_key_and_pin": "Required"}, "Compatible TPM startup key and PIN"),
    "ER-16": ({"device.unallowed_dma_buses": True}, "Un-allowed DMA capable bus/device(s) detected"),
    "ER-17": ({"policy.allow_standard_user_encryption": "NotConfigured"},
              "Allow standard users to enable encryption during Azure AD Join"),
    "ER-18": (details("LoggedOnUserNonAdmin"), "Status detail"),
    "ER-19": ({"device.os_version": "1803"}, "OS version"),
    "ER-20": ({"device.autopilot_enrolled": False, "device.os_volume_encryption_method": "AesCbc128"},
              "OS drive encryption method"),
    "ER-21": ({"device.os_volume_encryption_method": "XtsAes128"}, "OS drive encryption method"),
    "ER-22": (details("OsVolumeEncryptionMethodMismatch"), "Status detail"),
    "ER-23": ({"device.network_available": False}, "Network available"),
    "ER-24": (details("NetworkError"), "Status detail"),
    "ER-25": ({"device.join_type": "AzureADRegistered"}, "Join type"),
    "ER-26": ({"device.os_drive_ntfs": False}, "OS drive is NTFS"),
    "ER-27": ({"device.system_partition_mb": 300}, "System partition size (MB)"),
    "ER-28": ({"device.encryption_readiness": "NotReady"}, "Encryption readiness"),
}

CASES = RulesetCases("encryption_readiness", BASE, PASSING, FAILING, notes=["ER-29"])
install(globals(), CASES)


def test_baseline_leaves_only_the_1809_and_autopilot_cipher_rules_not_applicable():
    assert with_status(CASES.evaluate(), Status.NOT_APPLICABLE) == {"ER-12", "ER-21"}


def test_report_rules_do_not_apply_without_the_report():
    report = CASES.evaluate({"device.encryption_status_details": None, "device.bitlocker_events": None,
                             "device.encryption_readiness": None})
    assert {"ER-02", "ER-04", "ER-07", "ER-13", "ER-18", "ER-22", "ER-24", "ER-28"} <= with_status(
        report, Status.NOT_APPLICABLE)
    assert with_status(report, Status.UNKNOWN) == set()


def test_dma_rule_does_not_apply_from_windows_11_24h2():
    report = CASES.evaluate({"device.os_version": "Windows 11 24H2", "device.unallowed_dma_buses": True})
    assert outcome(report, "ER-16").status is Status.NOT_APPLICABLE


def test_tpm_readiness_is_not_asked_of_a_device_without_a_tpm():
    report = CASES.evaluate({"device.tpm_present": False, "device.tpm_ready": False})
    assert outcome(report, "ER-03").status is Status.NOT_APPLICABLE


def test_autopilot_default_cipher_is_told_apart_from_another_tool_s_cipher():
    autopilot = CASES.evaluate({"device.os_volume_encryption_method": "XtsAes128"})
    assert outcome(autopilot, "ER-20").status is Status.NOT_APPLICABLE
    other = CASES.evaluate({"device.os_volume_encryption_method": "AesCbc256"})
    assert outcome(other, "ER-21").status is Status.NOT_APPLICABLE
    assert outcome(other, "ER-20").status is Status.FAIL


def test_standard_user_on_1803_fails_but_administrator_passes():
    assert outcome(CASES.evaluate({"device.os_version": "1803"}), "ER-19").status is Status.FAIL
    assert outcome(CASES.evaluate({**ADMIN, "device.os_version": "1709"}), "ER-19").status is Status.FAIL
    unknown_role = CASES.evaluate({"device.user_role": None, "device.os_version": "1903"})
    assert outcome(unknown_role, "ER-19").status is Status.PASS


def test_every_failure_cause_rule_carries_its_documented_event_ids():
    events = {r.id: r.events for r in CASES.loaded.rules}
    assert events["ER-01"] == (853,) and events["ER-05"] == (853,)
    assert events["ER-06"] == (854,) and events["ER-08"] == (851,) and events["ER-25"] == (852,)
    assert events["ER-12"] == (846, 778, 851) and events["ER-23"] == (846, 847)
