"""The shipped ``recovery_keys`` ruleset, rule by rule (see ``rule_cases`` for the shape)."""

from __future__ import annotations

from rule_cases import RulesetCases, install, outcome, with_status

from bitlocker_rules import Status


def keys(count: int, volume_type: str = "OperatingSystem") -> list[dict[str, str]]:
    """``count`` escrowed recovery keys (ids only: rules never see the key itself)."""
    return [{"key_id": f"key-{i}", "volume_type": volume_type} for i in range(count)]


# An encrypted, protected, Azure AD joined device with its OS key escrowed; the report and the
# BitLocker log show nothing wrong; an admin is about to show the recovery key.
BASE = {
    "device.encrypted": True,
    "device.recovery_keys": keys(1),
    "device.join_type": "AzureADJoined",
    "device.os_volume_protection_status": "On",
    "device.encryption_status_details": [],
    "device.bitlocker_events": [{"event_id": 845}],
    "action.kind": "ReadRecoveryKey",
}
DELETE = {"action.kind": "DeleteAzureADObject"}

PASSING = {
    "RK-01": [{}, {"device.recovery_keys": keys(3)}],
    "RK-02": [{"device.recovery_keys": keys(1, "FixedData") + keys(1)}],
    "RK-03": [{"device.recovery_keys": keys(189)}],
    "RK-04": [{"device.recovery_keys": keys(189)}],
    "RK-05": [{}, {"device.encryption_status_details": [{"detail": "TpmNotReady"}]}],
    "RK-06": [{}, {"device.bitlocker_events": [{"event_id": 768}, {"event_id": 845}]}],
    "RK-07": [{**DELETE, "device.os_volume_protection_status": "Off"}],
    "RK-08": [{}, {"device.os_volume_protection_status": "Off"}],
}

FAILING = {
    "RK-01": ({"device.recovery_keys": []}, "Number of recovery keys (Recovery keys)"),
    "RK-02": ({"device.recovery_keys": keys(2, "FixedData")}, "Drive Type"),
    "RK-03": ({"device.recovery_keys": keys(200)}, "Number of recovery keys (Recovery keys)"),
    "RK-04": ({"device.recovery_keys": keys(195)}, "Number of recovery keys (Recovery keys)"),
    "RK-05": ({"device.encryption_status_details": [{"detail": "RecoveryKeyBackupFailed"}]}, "Status detail"),
    "RK-06": ({"device.bitlocker_events": [{"event_id": 846, "error_code": "0x801c0450"}]}, "Event ID"),
    "RK-07": (DELETE, "OS drive protection status"),
    "RK-08": ({"device.os_volume_protection_status": "Suspended"}, "OS drive protection status"),
}

CASES = RulesetCases("recovery_keys", BASE, PASSING, FAILING, notes=["RK-09"])
install(globals(), CASES)


def test_key_limit_boundaries():
    assert with_status(CASES.evaluate({"device.recovery_keys": keys(199)}), Status.FAIL) == {"RK-04"}
    at_limit = CASES.evaluate({"device.recovery_keys": keys(200)})
    assert outcome(at_limit, "RK-04").status is Status.NOT_APPLICABLE
    assert with_status(CASES.evaluate({"device.recovery_keys": keys(190)}), Status.FAIL) == {"RK-04"}
    assert with_status(CASES.evaluate({"device.recovery_keys": keys(250)}), Status.FAIL) == {"RK-03"}


def test_no_key_escrowed_explains_what_the_admin_sees():
    report = CASES.evaluate(FAILING["RK-01"][0])
    found = outcome(report, "RK-01")
    rule = next(r for r in CASES.loaded.rules if r.id == "RK-01")
    assert "No BitLocker key found for this device" in rule.rationale
    (reason,) = found.reasons
    assert reason.actual == "0" and reason.required == "at least 1"


def test_unencrypted_device_needs_no_escrowed_key():
    report = CASES.evaluate({"device.encrypted": False, "device.recovery_keys": []})
    assert outcome(report, "RK-01").status is Status.NOT_APPLICABLE


def test_deleting_the_object_of_a_hybrid_device_is_not_flagged():
    report = CASES.evaluate({**DELETE, "device.join_type": "HybridAzureADJoined"})
    assert outcome(report, "RK-07").status is Status.NOT_APPLICABLE


def test_key_access_note_applies_only_to_key_access():
    def note(changes):
        (found,) = [n for n in CASES.evaluate(changes).notes if n.rule == "RK-09"]
        return found.applies

    assert note({}) is True
    assert note({"action.kind": "ReadTenantAttachedKey"}) is True
    assert note({"action.kind": "RotateKeys"}) is False
    assert note({"action.kind": None}) is False


def test_missing_keys_are_unknown_not_zero():
    report = CASES.evaluate(remove=("device.recovery_keys",))
    assert {"RK-01", "RK-03", "RK-04"} <= with_status(report, Status.UNKNOWN)
