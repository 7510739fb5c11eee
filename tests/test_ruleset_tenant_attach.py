"""The shipped ``tenant_attach`` ruleset, rule by rule (see ``rule_cases`` for the shape)."""

from __future__ import annotations

from rule_cases import RulesetCases, install, outcome, with_status

from bitlocker_rules import Status

# Tenant attach set up on a 2107 site with KB11121541; an admin views the key of an Azure AD
# joined tenant-attached device.
BASE = {
    "action.kind": "ReadTenantAttachedKey",
    "tenant.tenant_attach_configured": True,
    "tenant.configmgr_site_version": 2107,
    "tenant.configmgr_kb11121541_installed": True,
    "device.join_type": "AzureADJoined",
}

PASSING = {
    "TA-01": [{}],
    "TA-02": [{}, {"tenant.configmgr_site_version": 2203}],
    "TA-03": [{}],
}

FAILING = {
    "TA-01": ({"tenant.tenant_attach_configured": False}, "Tenant attach configured"),
    "TA-02": ({"tenant.configmgr_site_version": 2103}, "Configuration Manager site version"),
    "TA-03": ({"tenant.configmgr_kb11121541_installed": False}, "KB11121541 installed"),
}

CASES = RulesetCases("tenant_attach", BASE, PASSING, FAILING)
install(globals(), CASES)


def test_rollup_is_needed_only_on_2107_and_only_for_azure_ad_joined_devices():
    later = CASES.evaluate({"tenant.configmgr_site_version": 2111, "tenant.configmgr_kb11121541_installed": False})
    assert outcome(later, "TA-03").status is Status.NOT_APPLICABLE
    hybrid = CASES.evaluate({"device.join_type": "HybridAzureADJoined",
                             "tenant.configmgr_kb11121541_installed": False})
    assert outcome(hybrid, "TA-03").status is Status.NOT_APPLICABLE


def test_site_rules_apply_when_tenant_attach_is_configured_without_an_action():
    report = CASES.evaluate({"action.kind": None, "tenant.configmgr_site_version": 2010})
    assert outcome(report, "TA-01").status is Status.NOT_APPLICABLE
    assert outcome(report, "TA-02").status is Status.FAIL


def test_nothing_applies_without_tenant_attach_or_a_key_view():
    report = CASES.evaluate({"action.kind": "RotateKeys", "tenant.tenant_attach_configured": False})
    assert with_status(report, Status.NOT_APPLICABLE) == {"TA-01", "TA-02", "TA-03"}
