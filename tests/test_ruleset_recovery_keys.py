"""The shipped ``recovery_keys`` ruleset, beyond the verdict cases of
``rulesets/recovery_keys.tests.toml`` (``rule_cases`` reads its baseline)."""

from __future__ import annotations

from rule_cases import RulesetCases, failing, outcome, unknown, with_status

from bitlocker_rules import Status


def keys(count: int, volume_type: str = "OperatingSystem") -> list[dict[str, str]]:
    """``count`` escrowed recovery keys (ids only: rules never see the key itself)."""
    return [{"key_id": f"key-{i}", "volume_type": volume_type} for i in range(count)]


DELETE = {"action.kind": "DeleteAzureADObject"}

CASES = RulesetCases("recovery_keys")
ADVICE = {"RK-02", "RK-04", "RK-08"}


def test_no_rule_is_about_a_scenario():
    assert all(not r.scenarios for r in CASES.loaded.ruleset.rules)


def test_advice_rules_are_related_to_their_item_and_information_only():
    rules = {r.id: r for r in CASES.loaded.rules}
    assert {r for r, rule in rules.items() if rule.related} == ADVICE
    assert {r: rules[r].related for r in ADVICE} == {"RK-02": ("K1",), "RK-04": ("K3",), "RK-08": ("K4",)}
    assert all(rules[r].encodes == () and rules[r].severity == "info" for r in ADVICE)
    report = CASES.evaluate(
        {"device.recovery_keys": keys(195, "FixedData"), "device.os_volume_protection_status": "Suspended"}
    )
    assert failing(report) == ADVICE
    assert all(o.advice for o in report.failed)
    assert report.exit_code("warning") == 0


def test_key_limit_boundaries():
    assert with_status(CASES.evaluate({"device.recovery_keys": keys(199)}), Status.FAIL) == {"RK-04"}
    at_limit = CASES.evaluate({"device.recovery_keys": keys(200)})
    assert outcome(at_limit, "RK-04").status is Status.NOT_APPLICABLE
    assert failing(at_limit) == {"RK-03"}
    assert with_status(CASES.evaluate({"device.recovery_keys": keys(190)}), Status.FAIL) == {"RK-04"}
    assert with_status(CASES.evaluate({"device.recovery_keys": keys(250)}), Status.FAIL) == {"RK-03"}


def test_the_key_limit_applies_whatever_the_action():
    report = CASES.evaluate({"device.recovery_keys": keys(200), "action.kind": None})
    assert failing(report) == {"RK-03"}
    assert outcome(report, "RK-03").events == (846, 847)


def test_no_key_escrowed_explains_what_the_admin_sees():
    report = CASES.failing_report("RK-01")
    found = outcome(report, "RK-01")
    assert "No BitLocker key found for this device" in CASES.rule("RK-01").rationale
    (reason,) = found.reasons
    assert reason.actual == "0" and reason.required == "at least 1"


def test_deleting_the_object_of_a_hybrid_device_is_not_flagged():
    report = CASES.evaluate({**DELETE, "device.join_type": "HybridAzureADJoined"})
    assert outcome(report, "RK-07").status is Status.NOT_APPLICABLE


def test_a_suspended_drive_is_advice_only_when_the_device_is_encrypted():
    assert (
        CASES.status("RK-08", {"device.encrypted": False, "device.os_volume_protection_status": "Suspended"})
        is Status.NOT_APPLICABLE
    )


def test_missing_keys_are_unknown_not_zero():
    report = CASES.evaluate(remove=("device.recovery_keys",))
    assert {"RK-01", "RK-03", "RK-04"} <= unknown(report)
    assert failing(report) == set()
