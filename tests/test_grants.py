"""Built-in role -> permission grants: data in the vocabulary, applied when facts are read."""

from __future__ import annotations

import pytest

from bitlocker_rules import VocabularyError, facts_from_mapping, shipped_vocabulary
from bitlocker_rules.vocabulary import build_vocabulary

VOCABULARY = shipped_vocabulary()
KEY_READ = "microsoft.directory/bitlockerKeys/key/read"


def names(facts, fact):
    return [p["name"] for p in facts.get(fact)]


def test_the_shipped_grants_are_the_documented_ones():
    grants = {(g.role, g.roles_fact): (g.permissions_fact, g.permissions) for g in VOCABULARY.grants}
    assert grants == {
        ("Help Desk Operator", "actor.intune_roles"): ("actor.intune_permissions", ("Rotate BitLocker Keys",)),
        ("Endpoint Security Administrator", "actor.intune_roles"):
            ("actor.intune_permissions", ("Rotate BitLocker Keys",)),
        ("Cloud Device Administrator", "actor.entra_roles"): ("actor.entra_permissions", (KEY_READ,)),
        ("Helpdesk Administrator", "actor.entra_roles"): ("actor.entra_permissions", (KEY_READ,)),
    }
    assert all(g.reference for g in VOCABULARY.grants)


def test_a_granting_role_adds_its_permission():
    facts = facts_from_mapping({"actor.intune_roles": [{"name": "Help Desk Operator"}]}, VOCABULARY)
    assert names(facts, "actor.intune_permissions") == ["Rotate BitLocker Keys"]
    assert "Help Desk Operator" in facts.origins["actor.intune_permissions"]


def test_granted_permissions_join_the_given_ones_without_duplicates():
    facts = facts_from_mapping({
        "actor.entra_roles": [{"name": "helpdesk administrator"}, {"name": "Cloud Device Administrator"}],
        "actor.entra_permissions": [{"name": "microsoft.directory/devices/standard/read"}],
    }, VOCABULARY, name="admin")
    assert names(facts, "actor.entra_permissions") == ["microsoft.directory/devices/standard/read", KEY_READ]
    assert facts.origins["actor.entra_permissions"].startswith("admin ")
    given = facts_from_mapping({"actor.intune_roles": [{"name": "Help Desk Operator"}],
                                "actor.intune_permissions": [{"name": "rotate bitlocker keys"}]}, VOCABULARY)
    assert names(given, "actor.intune_permissions") == ["rotate bitlocker keys"]


def test_roles_without_a_grant_add_nothing_and_leave_missing_permissions_missing():
    facts = facts_from_mapping({"actor.intune_roles": [{"name": "Read Only Operator"}],
                                "actor.entra_roles": []}, VOCABULARY)
    assert facts.get("actor.intune_permissions") is None
    assert facts.get("actor.entra_permissions") is None


def test_a_grant_needs_no_python():
    vocabulary = build_vocabulary({
        "facts": [
            {"name": "actor.groups", "type": "collection", "label": "Groups",
             "fields": [{"name": "name", "type": "string", "label": "Group"}]},
            {"name": "actor.rights", "type": "collection", "label": "Rights",
             "fields": [{"name": "name", "type": "string", "label": "Right"}]},
        ],
        "grants": [{"role": "Key admins", "roles_fact": "actor.groups", "permissions_fact": "actor.rights",
                    "permissions": ["read keys", "rotate keys"]}],
    })
    facts = facts_from_mapping({"actor.groups": [{"name": "Key admins"}]}, vocabulary)
    assert names(facts, "actor.rights") == ["read keys", "rotate keys"]


def test_bad_grants_are_reported_together():
    with pytest.raises(VocabularyError) as info:
        build_vocabulary({
            "facts": [{"name": "device.tpm_present", "type": "bool", "label": "TPM"},
                      {"name": "actor.roles", "type": "collection", "label": "Roles",
                       "fields": [{"name": "name", "type": "string", "label": "Role"}]}],
            "grants": [
                {"role": "", "roles_fact": "actor.roles", "permissions_fact": "actor.roles", "permissions": ["x"]},
                {"role": "A", "roles_fact": "actor.roles", "permissions_fact": "actor.roles", "permissions": []},
                {"role": "B", "roles_fact": "actor.rols", "permissions_fact": "actor.roles", "permissions": ["x"]},
                {"role": "C", "roles_fact": "actor.roles", "permissions_fact": "device.tpm_present",
                 "permissions": ["x"]},
                {"role": "D", "roles_fact": "actor.roles", "permissions_fact": "actor.roles", "permissions": ["x"]},
                {"role": "d", "roles_fact": "actor.roles", "permissions_fact": "actor.roles", "permissions": ["y"]},
            ],
        })
    codes = [d.code for d in info.value.diagnostics]
    assert codes == ["V010", "V011", "V012", "V013", "V014"]
    assert info.value.diagnostics[2].help == "did you mean `actor.roles`?"
