"""The shipped ``permissions`` ruleset, beyond the verdict cases of
``rulesets/permissions.tests.toml`` (``rule_cases`` reads its baseline).

Built-in roles count through the vocabulary's ``[[grants]]``, a closed list: an actor whose
roles are all listed built-in roles, and who gives no permissions, holds exactly what they
grant (possibly nothing). A role the list does not know (a custom role) leaves the permission
unknown. The baseline admin holds the Intune role Help Desk Operator and the Microsoft Entra
role Cloud Device Administrator and lists no rotate or key-read permission of their own.
"""

from __future__ import annotations

import json

import pytest
from rule_cases import RulesetCases, failing, outcome, unknown, with_status

from bitlocker_rules import Status, load_device_file
from bitlocker_rules import nodes as n
from bitlocker_rules.outcome import origins_text

ROTATE = {"action.kind": "RotateKeys"}
READ = {"action.kind": "ReadRecoveryKey"}
TENANT = {"action.kind": "ReadTenantAttachedKey"}
KEY_READ = "microsoft.directory/bitlockerKeys/key/read"


def intune(*roles: str) -> dict:
    """An admin with these Intune roles, no Microsoft Entra role, and no permissions given (the grants
    decide: with every role known, the built-in roles are a closed list)."""
    return {
        "actor.intune_roles": [{"name": r} for r in roles],
        "actor.intune_permissions": None,
        "actor.entra_roles": [],
    }


def entra(*roles: str) -> dict:
    """An admin with these Microsoft Entra roles and no permissions given (the grants decide)."""
    return {"actor.entra_roles": [{"name": r} for r in roles], "actor.entra_permissions": None}


ENTRA_KEY_READERS = (
    "Cloud Device Administrator",
    "Helpdesk Administrator",
    "Global Administrator",
    "Intune Administrator",
    "Intune Service Administrator",
    "Security Administrator",
    "Security Reader",
    "Global Reader",
)

CASES = RulesetCases("permissions")


def status(rule: str, changes: dict) -> Status:
    return CASES.status(rule, changes)


def test_without_an_action_no_access_rule_fails():
    """No action: the rotate and read rules do not apply; whether tenant-attached keys are
    viewed cannot be told, so the tenant-attach rules are unknown where they would fail."""
    report = CASES.evaluate(
        {
            "action.kind": None,
            "actor.intune_roles": [],
            "actor.has_onprem_user": False,
            "actor.configmgr_collection_permissions": [],
        }
    )
    assert failing(report) == set()
    assert with_status(report, Status.NOT_APPLICABLE) == {"PM-01", "PM-02"}
    assert unknown(report) == {"PM-03", "PM-04", "PM-05"}
    assert all("scenario.tenant_attach" in outcome(report, r).missing_facts for r in ("PM-03", "PM-04", "PM-05"))


def test_the_tenant_attach_rules_follow_the_scenario():
    assert {r.id for r in CASES.loaded.rules if r.scenarios} == {"PM-03", "PM-04", "PM-05"}


# --- PM-01: Intune permission to rotate keys -------------------------------------------------------------


def test_PM_01_read_only_operator_is_denied_rotation():
    """Read Only Operator is a listed built-in role that grants no BitLocker permission."""
    report = CASES.evaluate(intune("Read Only Operator"))
    found = outcome(report, "PM-01")
    assert found.status is Status.FAIL
    (reason,) = found.reasons
    assert (reason.label, reason.actual) == ("Intune RBAC permissions", "no Intune permissions")
    source = origins_text(reason.origins)
    assert "Read Only Operator" in source and "grant only what the vocabulary lists" in source


@pytest.mark.parametrize(
    "roles",
    [("Contoso key rotators",), ("Read Only Operator", "Contoso key rotators"), ("Endpoint Security Administrator",)],
)
def test_PM_01_a_role_the_list_does_not_know_leaves_rotation_unknown(roles):
    """A custom role may carry the permission; Endpoint Security Administrator is not an Intune
    role (the built-in roles page names Endpoint Security Manager)."""
    found = outcome(CASES.evaluate(intune(*roles)), "PM-01")
    assert found.status is Status.UNKNOWN
    assert found.missing_facts == ("actor.intune_permissions",)


def test_PM_01_permissions_given_are_not_completed_by_the_closed_list():
    """Permissions given explicitly are what the admin holds, plus what listed roles grant."""
    given = {
        "actor.intune_roles": [{"name": "Read Only Operator"}],
        "actor.intune_permissions": [{"name": "View BitLocker keys"}],
    }
    found = outcome(CASES.evaluate(given), "PM-01")
    assert found.status is Status.FAIL
    assert [c.actual for c in found.reasons] == ["View BitLocker keys"]


# --- PM-02: Microsoft Entra permission to read keys ------------------------------------------------------


def test_PM_02_security_operator_alone_may_not_read_a_key():
    found = outcome(CASES.evaluate({**READ, **entra("Security Operator")}), "PM-02")
    assert found.status is Status.FAIL
    assert [(c.label, c.actual) for c in found.reasons] == [
        ("Microsoft Entra permissions", "no Microsoft Entra permissions")
    ]


def test_PM_02_an_unknown_entra_role_leaves_the_permission_unknown():
    for roles in (("Contoso key readers",), ("Security Operator", "Contoso key readers")):
        found = outcome(CASES.evaluate({**READ, **entra(*roles)}), "PM-02")
        assert found.status is Status.UNKNOWN, roles
        assert found.missing_facts == ("actor.entra_permissions",)


# --- PM-03: an Intune role for tenant-attached keys (unconfirmed) ----------------------------------------


def test_PM_03_an_admin_with_an_intune_role_is_unknown_with_a_caveat_never_failed():
    report = CASES.evaluate({**TENANT, **intune("Help Desk Operator")})
    found = outcome(report, "PM-03")
    assert found.status is Status.UNKNOWN
    assert found.caveat.startswith("not confirmed by the sources: ")
    assert "does not name the Intune permission" in found.caveat
    assert found.short_reason() == found.caveat
    assert failing(report) == set()


def test_PM_03_an_admin_without_an_intune_role_fails():
    found = outcome(CASES.evaluate({**TENANT, "actor.intune_roles": []}), "PM-03")
    assert found.status is Status.FAIL and found.caveat == ""
    assert [(c.label, c.actual) for c in found.reasons] == [("Number of Intune roles (Intune roles)", "0")]


def test_PM_03_never_asks_for_a_guessed_permission_name():
    rule = CASES.rule("PM-03")
    assert set(n.facts_read(rule.applicability, *rule.requires)) == {"scenario.tenant_attach", "actor.intune_roles"}


# --- device files ------------------------------------------------------------------------------------


def test_grants_apply_to_device_files(tmp_path):
    path = tmp_path / "helpdesk.json"
    path.write_text(
        json.dumps(
            {
                "deviceName": "operator",
                "facts": {"action.kind": "RotateKeys", "actor.intune_roles": [{"name": "Help Desk Operator"}]},
            }
        )
    )
    facts = load_device_file(path, CASES.engine.vocabulary)
    assert [p["name"] for p in facts.get("actor.intune_permissions")] == ["Rotate BitLocker Keys"]
    assert outcome(CASES.engine.evaluate(facts), "PM-01").status is Status.PASS


def test_the_closed_list_applies_to_device_files(tmp_path):
    path = tmp_path / "reader.json"
    path.write_text(
        json.dumps(
            {
                "deviceName": "reader",
                "facts": {
                    "action.kind": "RotateKeys",
                    "actor.intune_roles": [{"name": "Read Only Operator"}],
                    "actor.entra_roles": [],
                },
            }
        )
    )
    facts = load_device_file(path, CASES.engine.vocabulary)
    assert facts.get("actor.intune_permissions") == ()
    assert outcome(CASES.engine.evaluate(facts), "PM-01").status is Status.FAIL


def test_PM_01_an_entra_intune_administrator_may_rotate_without_an_intune_role():
    for role in ("Intune Administrator", "Global Administrator"):
        assert status("PM-01", {**intune(), "actor.entra_roles": [{"name": role}]}) is Status.PASS


def test_PM_01_is_unknown_while_the_admin_s_entra_roles_are_not_known():
    """Read Only Operator alone is denied only when the Entra roles are known too."""
    assert status("PM-01", {**intune("Read Only Operator"), "actor.entra_roles": None}) is Status.UNKNOWN
    assert (
        status("PM-01", {**intune("Read Only Operator"), "actor.entra_roles": [{"name": "Helpdesk Administrator"}]})
        is Status.UNKNOWN
    )
