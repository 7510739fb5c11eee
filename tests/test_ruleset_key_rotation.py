"""The shipped ``key_rotation`` ruleset, beyond the verdict cases of
``rulesets/key_rotation.tests.toml`` (``rule_cases`` reads its baseline), and the key-rotation
scenario: every rule applies only when the check is about rotating recovery passwords (declared,
or inferred from Client-driven recovery password rotation or a rotation action)."""

from __future__ import annotations

from rule_cases import RulesetCases, failing, outcome, unknown, with_status

from bitlocker_rules import Engine, Status

HYBRID = {"device.join_type": "HybridAzureADJoined"}

CASES = RulesetCases("key_rotation")
# No scenario declared: rotation is in scope only when the facts show it.
INFERRED = CASES.undeclared

# A tenant that does not use rotation, and a device that would fail every rotation requirement.
NO_ROTATION = {"policy.recovery_password_rotation": "NotConfigured", "action.kind": None}
UNFIT = {
    "device.os_version": "1809",
    "policy.os_save_recovery_to_azure_ad": "NotConfigured",
    "policy.os_require_recovery_backup_before_enabling": "NotConfigured",
    "policy.fdv_require_recovery_backup_before_enabling": "NotConfigured",
}
CORE = {"KR-01", "KR-02", "KR-04", "KR-05"}


def scenario(report, name="key_rotation"):
    (found,) = [s for s in report.scenarios if s.name == name]
    return found


def test_every_rule_is_about_key_rotation():
    assert CASES.loaded.ruleset.scenarios == ("key_rotation",)
    assert all(r.scenarios == ("key_rotation",) for r in CASES.loaded.rules)


# --- the scenario --------------------------------------------------------------------------------------


def test_a_tenant_that_does_not_rotate_fails_no_rotation_requirement():
    for setting in ("NotConfigured", "Disabled"):
        report = CASES.evaluate({**UNFIT, **NO_ROTATION, "policy.recovery_password_rotation": setting}, engine=INFERRED)
        assert failing(report) == set(), setting
        assert with_status(report, Status.NOT_APPLICABLE) >= CORE
        record = scenario(report)
        assert (record.holds, record.how) == (False, "inferred"), setting
        assert "Client-driven recovery password rotation is" in record.because


def test_rotation_enabled_by_the_policy_puts_the_requirements_in_scope():
    report = CASES.evaluate(
        {**UNFIT, "action.kind": None, "policy.recovery_password_rotation": "AzureAD"}, engine=INFERRED
    )
    assert failing(report) == {"KR-01", "KR-04", "KR-05", "KR-06"}
    record = scenario(report)
    assert (record.holds, record.how) == (True, "inferred")
    assert record.because == (
        "Client-driven recovery password rotation is Key rotation enabled for Microsoft "
        "Entra joined devices; Join type is Microsoft Entra joined"
    )


def test_rotation_for_entra_joined_devices_only_leaves_a_hybrid_device_out_of_scope():
    """The admin left hybrid joined devices out of rotation: KR-03 does not fail them on a guess."""
    report = CASES.evaluate(
        {
            **UNFIT,
            "action.kind": None,
            "policy.recovery_password_rotation": "AzureAD",
            "device.join_type": "HybridAzureADJoined",
        },
        engine=INFERRED,
    )
    assert failing(report) == set()
    assert scenario(report).holds is False
    requested = CASES.evaluate(
        {
            "action.kind": "RotateKeys",
            "policy.recovery_password_rotation": "AzureAD",
            "device.join_type": "HybridAzureADJoined",
        },
        engine=INFERRED,
    )
    assert "KR-03" in failing(requested)


def test_a_rotation_action_puts_the_requirements_in_scope_whatever_the_setting():
    report = CASES.evaluate({**UNFIT, "policy.recovery_password_rotation": "NotConfigured"}, engine=INFERRED)
    assert failing(report) == CORE | {"KR-06"}
    assert scenario(report).holds is True


def test_without_the_rotation_setting_and_an_action_the_rules_are_unknown_never_failed():
    report = CASES.evaluate(
        {**UNFIT, "action.kind": None}, remove=("policy.recovery_password_rotation",), engine=INFERRED
    )
    assert failing(report) == set()
    assert {"KR-01", "KR-04", "KR-05"} <= unknown(report)
    assert "scenario.key_rotation" in outcome(report, "KR-01").missing_facts
    assert scenario(report).state == "not known"


def test_declaring_the_scenario_asks_for_rotation_even_when_the_policy_has_it_off():
    report = CASES.evaluate({**UNFIT, **NO_ROTATION})
    assert failing(report) == CORE | {"KR-06"}
    assert scenario(report).how == "declared"
    engine = Engine([CASES.loaded], scenarios=["key_rotation"])
    assert failing(CASES.evaluate({**UNFIT, **NO_ROTATION}, engine=engine)) == CORE | {"KR-06"}


# --- the rules -----------------------------------------------------------------------------------------


def test_event_858_names_the_failed_event():
    report = CASES.failing_report("KR-09")
    (reason,) = outcome(report, "KR-09").reasons
    assert reason.fact == "device.bitlocker_events[1].event_id" and reason.actual == "858"
    assert outcome(report, "KR-09").events == (856, 858, 859)


def test_a_missing_rotation_setting_is_unknown_not_false():
    report = CASES.evaluate(remove=("policy.recovery_password_rotation",))
    assert outcome(report, "KR-02").status is Status.UNKNOWN
    assert outcome(report, "KR-02").missing_facts == ("policy.recovery_password_rotation",)


def test_fixed_drive_backup_is_a_warning():
    report = CASES.failing_report("KR-06")
    assert report.exit_code("error") == 0 and report.exit_code("warning") == 1


def test_the_rules_cite_the_intune_page_items_for_rotation():
    sources = {r.id: r.encodes for r in CASES.loaded.rules}
    assert sources["KR-01"] == ("Q1",) and sources["KR-02"] == sources["KR-03"] == ("Q2",)
    assert sources["KR-04"] == ("Q3",) and sources["KR-05"] == ("Q4", "F16")
