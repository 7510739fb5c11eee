"""The shipped ``tenant_attach`` ruleset, beyond the verdict cases of
``rulesets/tenant_attach.tests.toml`` (``rule_cases`` reads its baseline), and the tenant-attach
scenario: the rules apply only when the check is about viewing the recovery key of a
Configuration Manager tenant-attached device (declared, or inferred from that action)."""

from __future__ import annotations

from rule_cases import RulesetCases, failing, outcome, unknown, with_status

from bitlocker_rules import Status

CASES = RulesetCases("tenant_attach")
INFERRED = CASES.undeclared
TA = {"TA-01", "TA-02", "TA-03"}
# A 2107 site without the rollup, tenant attach not set up: every TA rule would fail.
UNFIT = {"tenant.tenant_attach_configured": False, "tenant.configmgr_kb11121541_installed": False}


def scenario(report):
    (found,) = [s for s in report.scenarios if s.name == "tenant_attach"]
    return found


def test_every_rule_is_about_tenant_attached_keys():
    assert CASES.loaded.ruleset.scenarios == ("tenant_attach",)
    assert all(r.scenarios == ("tenant_attach",) for r in CASES.loaded.rules)


def test_a_site_without_a_key_viewing_action_fails_no_rule():
    """Nothing says tenant-attached keys are viewed: unknown where a rule would fail, never failed."""
    report = CASES.evaluate({**UNFIT, "action.kind": None}, engine=INFERRED)
    assert failing(report) == set()
    assert unknown(report) == {"TA-01", "TA-03"}  # TA-02 holds: the site runs 2107
    assert all("scenario.tenant_attach" in outcome(report, r).missing_facts for r in ("TA-01", "TA-03"))
    assert scenario(report).state == "not known"
    report = CASES.evaluate({"action.kind": None, "tenant.configmgr_site_version": 2010}, engine=INFERRED)
    assert outcome(report, "TA-02").status is Status.UNKNOWN


def test_another_action_puts_the_site_rules_out_of_scope():
    for action in ("ReadRecoveryKey", "RotateKeys", "DeleteAzureADObject"):
        report = CASES.evaluate(
            {**UNFIT, "action.kind": action, "tenant.configmgr_site_version": 2010}, engine=INFERRED
        )
        assert with_status(report, Status.NOT_APPLICABLE) == TA, action
        record = scenario(report)
        assert (record.holds, record.how) == (False, "inferred")


def test_viewing_a_tenant_attached_key_puts_every_rule_in_scope():
    report = CASES.evaluate(UNFIT, engine=INFERRED)
    assert failing(report) == {"TA-01", "TA-03"}
    report = CASES.evaluate({**UNFIT, "tenant.configmgr_site_version": 2010}, engine=INFERRED)
    assert failing(report) == {"TA-01", "TA-02"}
    assert scenario(report).holds is True and scenario(report).how == "inferred"
