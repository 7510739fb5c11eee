"""Built-in role -> permission grants: data in the vocabulary, applied when facts are read.

Built-in roles are a closed list: every built-in role the rules know is listed with what it
grants, possibly nothing. When every role an actor has is a listed one and no permissions are
given, the permissions fact holds exactly what the roles grant; a role the list does not know
(a custom role, or a name that is not an Intune role) leaves a permissions fact nobody gave
missing, so the rules that read it are unknown, never failed on a guess.
"""

from __future__ import annotations

import pytest

from bitlocker_rules import VocabularyError, facts_from_mapping, shipped_vocabulary
from bitlocker_rules.outcome import origins_text
from bitlocker_rules.vocabulary import build_vocabulary

VOCABULARY = shipped_vocabulary()
KEY_READ = "microsoft.directory/bitlockerKeys/key/read"
ROTATE = "Rotate BitLocker Keys"
INTUNE = ("actor.intune_roles", "actor.intune_permissions")
ENTRA = ("actor.entra_roles", "actor.entra_permissions")


def names(facts, fact):
    return [p["name"] for p in facts.get(fact)]


def held(roles_fact: str, permissions_fact: str, *roles: str):
    """The permissions fact an actor with ``roles`` (and no permissions given) ends up with.

    For Intune permissions the actor's Microsoft Entra roles are given as none: Global
    Administrator and Intune Administrator carry Intune permissions too, so without them
    the Intune list is not closed.
    """
    other = {"actor.entra_roles": []} if roles_fact == "actor.intune_roles" else {}
    facts = facts_from_mapping({**other, roles_fact: [{"name": r} for r in roles]}, VOCABULARY)
    value = facts.get(permissions_fact)
    return None if value is None else [p["name"] for p in value]


def test_the_shipped_grants_are_the_documented_ones():
    grants = {(g.role, g.roles_fact): (g.permissions_fact, g.permissions) for g in VOCABULARY.grants}
    none = ()
    assert grants == {
        # Intune built-in roles (Built-in role permissions for Microsoft Intune).
        ("Help Desk Operator", "actor.intune_roles"): ("actor.intune_permissions", (ROTATE,)),
        ("Endpoint Security Manager", "actor.intune_roles"): ("actor.intune_permissions", (ROTATE,)),
        ("Read Only Operator", "actor.intune_roles"): ("actor.intune_permissions", none),
        ("School Administrator", "actor.intune_roles"): ("actor.intune_permissions", none),
        ("Intune Role Administrator", "actor.intune_roles"): ("actor.intune_permissions", none),
        ("Policy and Profile Manager", "actor.intune_roles"): ("actor.intune_permissions", none),
        ("Application Manager", "actor.intune_roles"): ("actor.intune_permissions", none),
        # Microsoft Entra built-in roles with (or, for Security Operator, without) the key-read permission.
        ("Cloud Device Administrator", "actor.entra_roles"): ("actor.entra_permissions", (KEY_READ,)),
        ("Helpdesk Administrator", "actor.entra_roles"): ("actor.entra_permissions", (KEY_READ,)),
        ("Global Administrator", "actor.entra_roles"): ("actor.entra_permissions", (KEY_READ,)),
        ("Intune Administrator", "actor.entra_roles"): ("actor.entra_permissions", (KEY_READ,)),
        ("Intune Service Administrator", "actor.entra_roles"): ("actor.entra_permissions", (KEY_READ,)),
        ("Security Administrator", "actor.entra_roles"): ("actor.entra_permissions", (KEY_READ,)),
        ("Security Reader", "actor.entra_roles"): ("actor.entra_permissions", (KEY_READ,)),
        ("Global Reader", "actor.entra_roles"): ("actor.entra_permissions", (KEY_READ,)),
        ("Security Operator", "actor.entra_roles"): ("actor.entra_permissions", none),
    }
    assert all(g.reference for g in VOCABULARY.grants)
    assert all(g.description for g in VOCABULARY.grants)


def test_every_grant_cites_a_listed_document():
    from rule_cases import citable_ids

    known = citable_ids()
    assert {ref for g in VOCABULARY.grants for ref in g.reference} <= known


def test_endpoint_security_administrator_is_not_a_granting_role():
    """Some versions of the Intune page say Endpoint Security Administrator; the built-in roles
    and key rotation pages name Endpoint Security Manager, the role that grants rotation."""
    assert "Endpoint Security Administrator" not in {g.role for g in VOCABULARY.grants}
    assert held(*INTUNE, "Endpoint Security Administrator") is None
    assert held(*INTUNE, "Endpoint Security Manager") == [ROTATE]


def test_a_granting_role_adds_its_permission():
    facts = facts_from_mapping({"actor.intune_roles": [{"name": "Help Desk Operator"}]}, VOCABULARY)
    assert names(facts, "actor.intune_permissions") == [ROTATE]
    assert "Help Desk Operator" in origins_text(facts.origins["actor.intune_permissions"])


def test_role_names_match_without_regard_to_case():
    assert held(*INTUNE, "help desk operator") == [ROTATE]
    assert held(*ENTRA, "SECURITY READER") == [KEY_READ]
    assert held(*INTUNE, "read only operator") == []


def test_granted_permissions_join_the_given_ones_without_duplicates():
    facts = facts_from_mapping(
        {
            "actor.entra_roles": [{"name": "helpdesk administrator"}, {"name": "Cloud Device Administrator"}],
            "actor.entra_permissions": [{"name": "microsoft.directory/devices/standard/read"}],
        },
        VOCABULARY,
        name="admin",
    )
    assert names(facts, "actor.entra_permissions") == ["microsoft.directory/devices/standard/read", KEY_READ]
    assert origins_text(facts.origins["actor.entra_permissions"]).startswith("admin ")
    given = facts_from_mapping(
        {
            "actor.intune_roles": [{"name": "Help Desk Operator"}],
            "actor.intune_permissions": [{"name": "rotate bitlocker keys"}],
        },
        VOCABULARY,
    )
    assert names(given, "actor.intune_permissions") == ["rotate bitlocker keys"]


@pytest.mark.parametrize(
    "roles", [("Read Only Operator",), ("School Administrator",), ("Read Only Operator", "Application Manager")]
)
def test_listed_built_in_roles_that_grant_nothing_hold_nothing(roles):
    """A closed list: the admin holds exactly what the listed roles grant."""
    facts = facts_from_mapping(
        {"actor.intune_roles": [{"name": r} for r in roles], "actor.entra_roles": []}, VOCABULARY
    )
    assert facts.get("actor.intune_permissions") == ()
    assert "which grant only what the vocabulary lists" in origins_text(facts.origins["actor.intune_permissions"])


def test_intune_permissions_stay_open_while_the_entra_roles_are_not_known():
    """Global Administrator and Intune Administrator may rotate keys without an Intune role."""
    alone = facts_from_mapping({"actor.intune_roles": [{"name": "Read Only Operator"}]}, VOCABULARY)
    assert alone.get("actor.intune_permissions") is None
    helpdesk = facts_from_mapping(
        {
            "actor.intune_roles": [{"name": "Read Only Operator"}],
            "actor.entra_roles": [{"name": "Helpdesk Administrator"}],
        },
        VOCABULARY,
    )
    assert helpdesk.get("actor.intune_permissions") is None  # an Entra role not listed for Intune: open
    for role in ("Intune Administrator", "Global Administrator"):
        admin = facts_from_mapping({"actor.intune_roles": [], "actor.entra_roles": [{"name": role}]}, VOCABULARY)
        assert names(admin, "actor.intune_permissions") == ["Rotate BitLocker Keys"]


def test_security_operator_alone_holds_no_key_read_permission():
    assert held(*ENTRA, "Security Operator") == []
    assert held(*ENTRA, "Security Operator", "Security Reader") == [KEY_READ]


@pytest.mark.parametrize(
    "role",
    [
        "Security Reader",
        "Global Reader",
        "Intune Administrator",
        "Intune Service Administrator",
        "Security Administrator",
        "Global Administrator",
        "Cloud Device Administrator",
        "Helpdesk Administrator",
    ],
)
def test_entra_roles_that_carry_the_key_read_permission(role):
    assert held(*ENTRA, role) == [KEY_READ]


@pytest.mark.parametrize(
    ("facts", "roles"),
    [
        (INTUNE, ("Contoso custom role",)),
        (INTUNE, ("Read Only Operator", "Contoso custom role")),
        (ENTRA, ("Contoso key readers",)),
        (ENTRA, ("Security Operator", "Contoso key readers")),
    ],
)
def test_a_role_the_list_does_not_know_leaves_missing_permissions_missing(facts, roles):
    assert held(*facts, *roles) is None


def test_a_known_granting_role_beside_an_unknown_one_still_grants():
    assert held(*INTUNE, "Contoso custom role", "Help Desk Operator") == [ROTATE]


def test_roles_not_given_add_nothing():
    facts = facts_from_mapping({"actor.intune_permissions": [{"name": "View BitLocker keys"}]}, VOCABULARY)
    assert names(facts, "actor.intune_permissions") == ["View BitLocker keys"]
    assert facts_from_mapping({}, VOCABULARY).get("actor.entra_permissions") is None


def test_a_grant_needs_no_python():
    vocabulary = build_vocabulary(
        {
            "facts": [
                {
                    "name": "actor.groups",
                    "type": "collection",
                    "label": "Groups",
                    "fields": [{"name": "name", "type": "string", "label": "Group"}],
                },
                {
                    "name": "actor.rights",
                    "type": "collection",
                    "label": "Rights",
                    "fields": [{"name": "name", "type": "string", "label": "Right"}],
                },
            ],
            "grants": [
                {
                    "role": "Key admins",
                    "roles_fact": "actor.groups",
                    "permissions_fact": "actor.rights",
                    "permissions": ["read keys", "rotate keys"],
                },
                {
                    "role": "Readers",
                    "roles_fact": "actor.groups",
                    "permissions_fact": "actor.rights",
                    "permissions": [],
                },
            ],
        }
    )
    facts = facts_from_mapping({"actor.groups": [{"name": "Key admins"}]}, vocabulary)
    assert names(facts, "actor.rights") == ["read keys", "rotate keys"]
    assert facts_from_mapping({"actor.groups": [{"name": "Readers"}]}, vocabulary).get("actor.rights") == ()
    assert facts_from_mapping({"actor.groups": [{"name": "Others"}]}, vocabulary).get("actor.rights") is None


def test_bad_grants_are_reported_together():
    with pytest.raises(VocabularyError) as info:
        build_vocabulary(
            {
                "facts": [
                    {"name": "device.tpm_present", "type": "bool", "label": "TPM"},
                    {
                        "name": "actor.roles",
                        "type": "collection",
                        "label": "Roles",
                        "fields": [{"name": "name", "type": "string", "label": "Role"}],
                    },
                ],
                "grants": [
                    {"role": "", "roles_fact": "actor.roles", "permissions_fact": "actor.roles", "permissions": ["x"]},
                    {"role": "A", "roles_fact": "actor.roles", "permissions_fact": "actor.roles", "permissions": [""]},
                    {"role": "B", "roles_fact": "actor.rols", "permissions_fact": "actor.roles", "permissions": ["x"]},
                    {
                        "role": "C",
                        "roles_fact": "actor.roles",
                        "permissions_fact": "device.tpm_present",
                        "permissions": ["x"],
                    },
                    {"role": "D", "roles_fact": "actor.roles", "permissions_fact": "actor.roles", "permissions": ["x"]},
                    {"role": "d", "roles_fact": "actor.roles", "permissions_fact": "actor.roles", "permissions": ["y"]},
                    {"role": "E", "roles_fact": "actor.roles", "permissions_fact": "actor.roles", "permissions": []},
                ],
            }
        )
    codes = [d.code for d in info.value.diagnostics]
    assert codes == ["V010", "V011", "V012", "V013", "V014"]
    assert info.value.diagnostics[2].help == "did you mean `actor.roles`?"
