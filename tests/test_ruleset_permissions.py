"""The shipped ``permissions`` ruleset, rule by rule (see ``rule_cases`` for the shape).

Built-in roles count through the vocabulary's ``[[grants]]``: the baseline admin holds the
Intune role Help Desk Operator and the Azure AD role Cloud Device Administrator and lists no
rotate or key-read permission of their own.
"""

from __future__ import annotations

import json

from rule_cases import RulesetCases, install, outcome, with_status

from bitlocker_rules import Status, load_device_file

ROTATE = {"action.kind": "RotateKeys"}
READ = {"action.kind": "ReadRecoveryKey"}
TENANT = {"action.kind": "ReadTenantAttachedKey"}

BASE = {
    **ROTATE,
    "actor.intune_roles": [{"name": "Help Desk Operator"}],
    "actor.intune_permissions": [{"name": "View BitLocker keys"}],
    "actor.entra_roles": [{"name": "Cloud Device Administrator"}],
    "actor.has_onprem_user": True,
    "actor.configmgr_collection_permissions": [{"name": "Read BitLocker Recovery Key"}],
}

PASSING = {
    "PM-01": [{}, {"actor.intune_roles": [{"name": "Endpoint Security Administrator"}]},
              {"actor.intune_roles": [], "actor.intune_permissions": [{"name": "Rotate BitLockerKeys (preview)"}]},
              {"actor.intune_roles": [{"name": "help desk operator"}], "actor.intune_permissions": None}],
    "PM-02": [READ, {**READ, "actor.entra_roles": [{"name": "Helpdesk Administrator"}]},
              {**READ, "actor.entra_roles": [],
               "actor.entra_permissions": [{"name": "microsoft.directory/bitlockerKeys/key/read"}]}],
    "PM-03": [TENANT],
    "PM-04": [TENANT],
    "PM-05": [TENANT],
}

FAILING = {
    "PM-01": ({"actor.intune_roles": [{"name": "Read Only Operator"}]}, "Permission"),
    "PM-02": ({**READ, "actor.entra_roles": [{"name": "Global Reader"}],
               "actor.entra_permissions": [{"name": "microsoft.directory/devices/standard/read"}]}, "Permission"),
    "PM-03": ({**TENANT, "actor.intune_permissions": []}, "Permission"),
    "PM-04": ({**TENANT, "actor.has_onprem_user": False}, "Associated on-premises user"),
    "PM-05": ({**TENANT, "actor.configmgr_collection_permissions": [{"name": "Read"}]}, "Permission"),
}

CASES = RulesetCases("permissions", BASE, PASSING, FAILING)
install(globals(), CASES)


def test_each_action_checks_only_its_own_rules():
    assert with_status(CASES.evaluate(), Status.NOT_APPLICABLE) == {"PM-02", "PM-03", "PM-04", "PM-05"}
    assert with_status(CASES.evaluate(READ), Status.NOT_APPLICABLE) == {"PM-01", "PM-03", "PM-04", "PM-05"}
    assert with_status(CASES.evaluate(TENANT), Status.NOT_APPLICABLE) == {"PM-01", "PM-02"}
    report = CASES.evaluate({"action.kind": None})
    assert with_status(report, Status.NOT_APPLICABLE) == set(CASES.rule_ids)


def test_a_role_without_a_grant_leaves_the_permission_unknown():
    """Custom roles may carry permissions nobody listed: no permissions given is not no permission."""
    report = CASES.evaluate({**READ, "actor.entra_roles": [{"name": "Global Reader"}]})
    assert outcome(report, "PM-02").status is Status.UNKNOWN
    assert outcome(report, "PM-02").missing_facts == ("actor.entra_permissions",)


def test_the_rotate_reason_names_the_permissions_held():
    report = CASES.evaluate(FAILING["PM-01"][0])
    found = outcome(report, "PM-01")
    assert [c.actual for c in found.reasons] == ["View BitLocker keys"]


def test_grants_apply_to_device_files(tmp_path):
    path = tmp_path / "helpdesk.json"
    path.write_text(json.dumps({"deviceName": "operator", "facts": {
        "action.kind": "RotateKeys", "actor.intune_roles": [{"name": "Help Desk Operator"}]}}))
    facts = load_device_file(path, CASES.engine.vocabulary)
    assert [p["name"] for p in facts.get("actor.intune_permissions")] == ["Rotate BitLocker Keys"]
    report = CASES.engine.evaluate(facts)
    assert outcome(report, "PM-01").status is Status.PASS
