"""The shipped ``silent_enablement`` ruleset, rule by rule.

A baseline policy + device passes every rule. Each rule then gets a passing variant and a
failing variant of the baseline; a failing variant changes as little as possible, so that
it fails that rule and no other (the set of failing rule ids is exactly ``{rule id}``).
Further tests cover unknown verdicts (a missing fact is unknown, never false, with Kleene
``and``), not-applicable verdicts, Windows versions written as release names, builds and
dotted strings, and the reasons a reviewer reads (Intune label and the actual value).

Every evaluation also runs with ``explain_all=True`` and checks that the compiled verdict
function and the explaining interpreter agree on every rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bitlocker_rules import (Engine, InputError, Report, RuleOutcome, Status, load_device_file, load_policy_file,
                             merge_facts)
from rule_cases import failing, with_status

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

ENGINE = Engine.load(["silent_enablement"])

RULE_IDS = ["SE-00", "SE-P2", "SE-01", "SE-02", "SE-03", "SE-04", "SE-05",
            "SE-06", "SE-07", "SE-08", "SE-09", "SE-10", "SE-11"]

# A policy that enables BitLocker silently, and a standard-user device that is ready for it.
BASE_POLICY = {
    "policy.policy_type": "EndpointProtectionTemplate",
    "policy.require_device_encryption": "Require",
    "policy.warning_for_other_disk_encryption": "Block",
    "policy.allow_standard_user_encryption": "Allow",
    "policy.tpm_startup": "Allowed",
    "policy.tpm_startup_pin": "Blocked",
    "policy.tpm_startup_key": "Blocked",
    "policy.tpm_startup_key_and_pin": "Blocked",
}
BASE_DEVICE = {
    "device.os_version": "10.0.22631.3593",
    "device.join_type": "AzureADJoined",
    "device.user_role": "StandardUser",
    "device.tpm_present": True,
    "device.tpm_version": 2.0,
    "device.firmware_mode": "UEFI",
}
BASE = {**BASE_POLICY, **BASE_DEVICE}

ADMIN = {"device.user_role": "Administrator"}


def facts(changes: Mapping[str, Any] | None = None, remove: tuple[str, ...] = ()) -> dict[str, Any]:
    """The baseline with ``changes`` applied and the ``remove`` facts left out."""
    result = {**BASE, **(changes or {})}
    for name in remove:
        result.pop(name, None)
    return result


def evaluate(changes: Mapping[str, Any] | None = None, remove: tuple[str, ...] = ()) -> Report:
    """Evaluate the changed baseline; the fast path and the full interpreter must agree."""
    values = facts(changes, remove)
    report = ENGINE.evaluate(ENGINE.facts(values))
    explained = ENGINE.evaluate(ENGINE.facts(values), explain_all=True)
    fast = {o.rule: o.status for o in report.outcomes}
    slow = {o.rule: o.status for o in explained.outcomes}
    assert fast == slow, f"compiled and interpreted verdicts differ for {values}"
    return report




def shows(shown: str | None, expected: str) -> bool:
    """Whether a displayed value is ``expected``; a version may add the release name in brackets."""
    return shown == expected or (shown or "").startswith(expected + " (")


def outcome(report: Report, rule: str) -> RuleOutcome:
    (found,) = [o for o in report.outcomes if o.rule == rule]
    return found


# ---------------------------------------------------------------------------------------------
# The baseline


def test_ruleset_has_the_expected_rules():
    (loaded,) = ENGINE.rulesets
    assert loaded.id == "silent_enablement"
    assert [r.id for r in loaded.rules] == RULE_IDS
    assert [r.id for r in loaded.notes] == ["SE-12"]


def test_baseline_passes_every_rule_that_applies():
    report = evaluate()
    assert failing(report) == set()
    assert with_status(report, Status.UNKNOWN) == set()
    # The baseline user is a standard user, so the administrator rule does not apply.
    assert with_status(report, Status.NOT_APPLICABLE) == {"SE-01"}
    assert with_status(report, Status.PASS) == set(RULE_IDS) - {"SE-01"}
    assert report.passed
    assert report.exit_code() == 0


def test_administrator_baseline_passes_every_rule_that_applies():
    report = evaluate(ADMIN)
    assert failing(report) == set()
    assert with_status(report, Status.NOT_APPLICABLE) == {"SE-02"}


def test_example_files_are_the_baseline_shape():
    """The shipped examples evaluate like the baseline (policy-silent + device-ready)."""
    policy = load_policy_file(EXAMPLES / "policy-silent.json", ENGINE.vocabulary)
    device = load_device_file(EXAMPLES / "device-ready.json", ENGINE.vocabulary)
    assert {k: v for k, v in policy.values.items() if k in BASE} == ENGINE.facts(BASE_POLICY).values
    report = ENGINE.evaluate(merge_facts([policy, device]))
    assert failing(report) == set()
    assert with_status(report, Status.NOT_APPLICABLE) == {"SE-01"}


def test_legacy_example_device_fails_the_device_rules():
    policy = load_policy_file(EXAMPLES / "policy-silent.json", ENGINE.vocabulary)
    device = load_device_file(EXAMPLES / "device-legacy.json", ENGINE.vocabulary)
    report = ENGINE.evaluate(merge_facts([policy, device]))
    assert failing(report) == {"SE-02", "SE-03", "SE-05"}


# ---------------------------------------------------------------------------------------------
# One passing and one failing variant per rule.
#
# rule id -> (passing variants, failing variant, label of the deciding setting, actual value)

PASSING: dict[str, list[dict[str, Any]]] = {
    "SE-00": [{}],
    "SE-P2": [{}],
    "SE-01": [{**ADMIN, "device.os_version": "1803"}, {**ADMIN, "device.os_version": "Windows 11"}],
    "SE-02": [{"device.os_version": "1809"}, {"device.os_version": "Windows 11"}],
    "SE-03": [{"device.join_type": "AzureADJoined"}, {"device.join_type": "HybridAzureADJoined"}],
    "SE-04": [{"device.tpm_version": 1.2}, {"device.tpm_version": 2.0}],
    "SE-05": [{"device.firmware_mode": "UEFI"}],
    "SE-06": [{}],
    "SE-07": [{}],
    "SE-08": [{"policy.tpm_startup": "Allowed"}, {"policy.tpm_startup": "Required"}],
    "SE-09": [{"policy.tpm_startup_pin": v} for v in ("Blocked", "Allowed", "NotConfigured")],
    "SE-10": [{"policy.tpm_startup_key": v} for v in ("Blocked", "Allowed", "NotConfigured")],
    "SE-11": [{"policy.tpm_startup_key_and_pin": v} for v in ("Blocked", "Allowed", "NotConfigured")],
}

FAILING: dict[str, tuple[dict[str, Any], str, str]] = {
    "SE-00": ({"policy.require_device_encryption": "NotConfigured"}, "Encrypt devices", "Not configured"),
    "SE-P2": ({"policy.policy_type": "EndpointSecurityDiskEncryption"}, "Policy type",
              "Endpoint security > Disk encryption > BitLocker"),
    "SE-01": ({**ADMIN, "device.os_version": "1709"}, "OS version", "10.0.16299.0"),
    "SE-02": ({"device.os_version": "1803"}, "OS version", "10.0.17134.0"),
    "SE-03": ({"device.join_type": "AzureADRegistered"}, "Join type", "Azure AD registered"),
    "SE-04": ({"device.tpm_version": 1.1}, "TPM version", "1.1"),
    "SE-05": ({"device.firmware_mode": "LegacyBIOS"}, "BIOS Mode", "Legacy"),
    "SE-06": ({"policy.warning_for_other_disk_encryption": "NotConfigured"},
              "Warning for other disk encryption", "Not configured"),
    "SE-07": ({"policy.allow_standard_user_encryption": "NotConfigured"},
              "Allow standard users to enable encryption during Azure AD Join", "Not configured"),
    "SE-08": ({"policy.tpm_startup": "Blocked"}, "Compatible TPM startup", "Do not allow TPM"),
    "SE-09": ({"policy.tpm_startup_pin": "Required"}, "Compatible TPM startup PIN", "Require startup PIN with TPM"),
    "SE-10": ({"policy.tpm_startup_key": "Required"}, "Compatible TPM startup key", "Require startup key with TPM"),
    "SE-11": ({"policy.tpm_startup_key_and_pin": "Required"}, "Compatible TPM startup key and PIN",
              "Require startup key and PIN with TPM"),
}

def test_every_rule_has_a_passing_and_a_failing_case():
    assert set(PASSING) == set(RULE_IDS) == set(FAILING)


def check_passes(rule: str, changes: Mapping[str, Any]) -> None:
    report = evaluate(changes)
    assert outcome(report, rule).status is Status.PASS
    assert failing(report) == set()


def check_fails_alone(rule: str, changes: Mapping[str, Any], label: str, actual: str) -> None:
    report = evaluate(changes)
    assert failing(report) == {rule}
    assert with_status(report, Status.UNKNOWN) == set()
    found = outcome(report, rule)
    assert found.status is Status.FAIL
    assert found.remediation
    assert "silent_enablement.rules:" in found.location
    # The reason names the Intune label and the value the setting actually has.
    assert [c.label for c in found.reasons] == [label]
    reason = found.reasons[0]
    assert shows(reason.actual, actual)
    assert reason.status is Status.FAIL
    assert not reason.missing
    assert reason.sentence().startswith(f"{label} is {reason.actual}; the rule needs ")
    assert report.exit_code() == 1


# Named per rule so a failure report reads "test_SE_09_fails" and so on.

def _pass(rule: str) -> None:
    for changes in PASSING[rule]:
        check_passes(rule, changes)


def _fail(rule: str) -> None:
    check_fails_alone(rule, *FAILING[rule])


def test_SE_00_passes(): _pass("SE-00")
def test_SE_00_fails(): _fail("SE-00")
def test_SE_P2_passes(): _pass("SE-P2")
def test_SE_P2_fails(): _fail("SE-P2")
def test_SE_01_passes(): _pass("SE-01")
def test_SE_01_fails(): _fail("SE-01")
def test_SE_02_passes(): _pass("SE-02")
def test_SE_02_fails(): _fail("SE-02")
def test_SE_03_passes(): _pass("SE-03")
def test_SE_03_fails(): _fail("SE-03")
def test_SE_04_passes(): _pass("SE-04")
def test_SE_04_fails(): _fail("SE-04")
def test_SE_05_passes(): _pass("SE-05")
def test_SE_05_fails(): _fail("SE-05")
def test_SE_06_passes(): _pass("SE-06")
def test_SE_06_fails(): _fail("SE-06")
def test_SE_07_passes(): _pass("SE-07")
def test_SE_07_fails(): _fail("SE-07")
def test_SE_08_passes(): _pass("SE-08")
def test_SE_08_fails(): _fail("SE-08")
def test_SE_09_passes(): _pass("SE-09")
def test_SE_09_fails(): _fail("SE-09")
def test_SE_10_passes(): _pass("SE-10")
def test_SE_10_fails(): _fail("SE-10")
def test_SE_11_passes(): _pass("SE-11")
def test_SE_11_fails(): _fail("SE-11")


# ---------------------------------------------------------------------------------------------
# Further failing variants and exact reason texts


def test_SE_09_reason_names_the_intune_setting_and_value():
    found = outcome(evaluate({"policy.tpm_startup_pin": "Required"}), "SE-09")
    (reason,) = found.reasons
    assert reason.fact == "policy.tpm_startup_pin"
    assert reason.label == "Compatible TPM startup PIN"
    assert reason.actual == "Require startup PIN with TPM"
    assert reason.required == "anything but Require startup PIN with TPM"
    assert reason.text == "policy.tpm_startup_pin != Required"
    assert reason.sentence() == (
        "Compatible TPM startup PIN is Require startup PIN with TPM; "
        "the rule needs anything but Require startup PIN with TPM"
    )
    assert "Compatible TPM startup PIN" in found.remediation
    assert found.sources == ("S9", "F8", "F19")


def test_SE_08_fails_when_not_configured():
    report = evaluate({"policy.tpm_startup": "NotConfigured"})
    assert failing(report) == {"SE-08"}
    (reason,) = outcome(report, "SE-08").reasons
    assert (reason.label, reason.actual) == ("Compatible TPM startup", "Not configured")
    assert reason.required == "one of: Allow TPM, Require TPM"


@pytest.mark.parametrize("join", ["NotJoined", "Unknown", "AzureADRegistered"])
def test_SE_03_fails_for_every_other_join_type(join):
    report = evaluate({"device.join_type": join})
    assert failing(report) == {"SE-03"}
    found = outcome(report, "SE-03")
    assert found.events == (852,)
    assert found.reasons[0].required == "one of: Azure AD joined, Hybrid Azure AD joined"


def test_SE_04_fails_without_a_tpm():
    report = evaluate({"device.tpm_present": False})
    assert failing(report) == {"SE-04"}
    found = outcome(report, "SE-04")
    assert [(c.label, c.actual) for c in found.reasons] == [("TPM present", "No")]
    assert found.events == (853,)


def test_SE_04_boundary_is_tpm_1_2():
    assert outcome(evaluate({"device.tpm_version": 1.2}), "SE-04").status is Status.PASS
    assert outcome(evaluate({"device.tpm_version": "1.2"}), "SE-04").status is Status.PASS
    found = outcome(evaluate({"device.tpm_version": 1.19}), "SE-04")
    assert found.status is Status.FAIL
    assert found.reasons[0].required == "at least 1.2"


def test_SE_05_reason_uses_the_msinfo32_words():
    found = outcome(evaluate({"device.firmware_mode": "LegacyBIOS"}), "SE-05")
    assert found.reasons[0].sentence() == "BIOS Mode is Legacy; the rule needs UEFI"
    assert found.events == (851,)


def test_SE_P2_passes_outside_silent_policies_only_by_not_applying():
    report = evaluate({"policy.policy_type": "SecurityBaseline", "policy.require_device_encryption": "NotConfigured"})
    assert outcome(report, "SE-P2").status is Status.NOT_APPLICABLE
    assert failing(report) == {"SE-00"}


@pytest.mark.parametrize("kind", ["EndpointSecurityDiskEncryption", "SettingsCatalog", "CustomOmaUri",
                                  "SecurityBaseline"])
def test_SE_P2_fails_for_every_other_policy_type(kind):
    report = evaluate({"policy.policy_type": kind})
    assert failing(report) == {"SE-P2"}


def test_the_startup_pin_example_policy_fails_three_rules():
    report = evaluate({
        "policy.warning_for_other_disk_encryption": "NotConfigured",
        "policy.allow_standard_user_encryption": "NotConfigured",
        "policy.tpm_startup_pin": "Required",
    })
    assert failing(report) == {"SE-06", "SE-07", "SE-09"}
    # Not a silent policy any more, so the template rule does not apply.
    assert outcome(report, "SE-P2").status is Status.NOT_APPLICABLE


# ---------------------------------------------------------------------------------------------
# Unknown: a missing fact is unknown, never false (Kleene three-valued logic)


def test_SE_04_unknown_without_tpm_version():
    report = evaluate(remove=("device.tpm_version",))
    found = outcome(report, "SE-04")
    assert found.status is Status.UNKNOWN
    assert found.missing_facts == ("device.tpm_version",)
    (reason,) = found.reasons
    assert reason.missing and reason.actual is None
    assert reason.label == "TPM version"
    assert reason.sentence() == ("TPM version is not known (fact device.tpm_version is missing); "
                                 "the rule needs at least 1.2")
    assert with_status(report, Status.UNKNOWN) == {"SE-04"}
    assert failing(report) == set()
    assert report.exit_code() == 0


def test_SE_04_unknown_tpm_version_given_as_null():
    report = evaluate({"device.tpm_version": None})
    assert outcome(report, "SE-04").missing_facts == ("device.tpm_version",)


def test_SE_04_fails_without_a_tpm_even_when_the_version_is_missing():
    """false and unknown is false: no TPM decides the verdict whatever the version."""
    report = evaluate({"device.tpm_present": False}, remove=("device.tpm_version",))
    found = outcome(report, "SE-04")
    assert found.status is Status.FAIL
    assert found.missing_facts == ()
    assert [(c.fact, c.actual) for c in found.reasons] == [("device.tpm_present", "No")]


def test_SE_04_fails_on_an_old_tpm_even_when_presence_is_missing():
    report = evaluate({"device.tpm_version": 1.1}, remove=("device.tpm_present",))
    found = outcome(report, "SE-04")
    assert found.status is Status.FAIL
    assert [(c.fact, c.actual) for c in found.reasons] == [("device.tpm_version", "1.1")]


def test_SE_04_unknown_without_tpm_present():
    found = outcome(evaluate(remove=("device.tpm_present",)), "SE-04")
    assert found.status is Status.UNKNOWN
    assert found.missing_facts == ("device.tpm_present",)


def test_SE_04_unknown_names_both_missing_facts():
    found = outcome(evaluate(remove=("device.tpm_present", "device.tpm_version")), "SE-04")
    assert found.status is Status.UNKNOWN
    assert found.missing_facts == ("device.tpm_present", "device.tpm_version")


@pytest.mark.parametrize(("fact", "rule"), [
    ("policy.require_device_encryption", "SE-00"),
    ("policy.policy_type", "SE-P2"),
    ("device.join_type", "SE-03"),
    ("device.firmware_mode", "SE-05"),
    ("policy.warning_for_other_disk_encryption", "SE-06"),
    ("policy.allow_standard_user_encryption", "SE-07"),
    ("policy.tpm_startup", "SE-08"),
    ("policy.tpm_startup_pin", "SE-09"),
    ("policy.tpm_startup_key", "SE-10"),
    ("policy.tpm_startup_key_and_pin", "SE-11"),
], ids=lambda v: v.replace("-", "_") if v.startswith("SE-") else v)
def test_missing_setting_makes_its_rule_unknown(fact, rule):
    report = evaluate(remove=(fact,))
    found = outcome(report, rule)
    assert found.status is Status.UNKNOWN
    assert fact in found.missing_facts
    assert failing(report) == set()


def test_SE_P2_unknown_when_the_policy_may_be_silent_and_the_type_is_missing():
    report = evaluate(remove=("policy.policy_type", "policy.warning_for_other_disk_encryption"))
    found = outcome(report, "SE-P2")
    assert found.status is Status.UNKNOWN
    assert set(found.missing_facts) == {"policy.policy_type", "policy.warning_for_other_disk_encryption"}


def test_SE_P2_passes_when_applicability_is_unknown_but_the_requirement_holds():
    report = evaluate(remove=("policy.warning_for_other_disk_encryption",))
    assert outcome(report, "SE-P2").status is Status.PASS


def test_SE_02_unknown_without_os_version():
    report = evaluate(remove=("device.os_version",))
    found = outcome(report, "SE-02")
    assert found.status is Status.UNKNOWN
    assert found.missing_facts == ("device.os_version",)
    assert found.reasons[0].required == "1809 (10.0.17763.0) or later"
    # The administrator rule does not apply, whatever the version.
    assert outcome(report, "SE-01").status is Status.NOT_APPLICABLE


def test_unknown_user_role_with_a_new_windows_passes_both_version_rules():
    report = evaluate({"device.os_version": "1809"}, remove=("device.user_role",))
    assert outcome(report, "SE-01").status is Status.PASS
    assert outcome(report, "SE-02").status is Status.PASS


def test_unknown_user_role_with_1803_leaves_the_standard_user_rule_unknown():
    report = evaluate({"device.os_version": "1803"}, remove=("device.user_role",))
    assert outcome(report, "SE-01").status is Status.PASS
    found = outcome(report, "SE-02")
    assert found.status is Status.UNKNOWN
    assert found.missing_facts == ("device.user_role",)
    # The reasons show both the unknown role and the version that falls short.
    assert {(c.fact, c.status) for c in found.reasons} == {
        ("device.user_role", Status.UNKNOWN), ("device.os_version", Status.FAIL)}
    assert failing(report) == set()


def test_nothing_known_is_unknown_never_fail():
    report = ENGINE.evaluate({})
    assert failing(report) == set()
    assert with_status(report, Status.UNKNOWN) == set(RULE_IDS)
    for found in report.outcomes:
        assert found.missing_facts, found.rule
    assert report.exit_code() == 0


# ---------------------------------------------------------------------------------------------
# Not applicable


def test_SE_01_not_applicable_for_a_standard_user():
    report = evaluate({"device.os_version": "1507"})  # far too old, but the rule does not apply
    found = outcome(report, "SE-01")
    assert found.status is Status.NOT_APPLICABLE
    assert [(c.label, c.actual) for c in found.reasons] == [("Signed-in user role", "Standard user")]
    assert failing(report) == {"SE-02"}


def test_SE_01_not_applicable_even_when_the_version_is_missing():
    report = evaluate(remove=("device.os_version",))
    assert outcome(report, "SE-01").status is Status.NOT_APPLICABLE
    assert outcome(report, "SE-01").missing_facts == ()


def test_SE_02_not_applicable_for_an_administrator():
    report = evaluate({**ADMIN, "device.os_version": "1803"})
    found = outcome(report, "SE-02")
    assert found.status is Status.NOT_APPLICABLE
    assert [(c.label, c.actual) for c in found.reasons] == [("Signed-in user role", "Administrator")]
    assert outcome(report, "SE-01").status is Status.PASS
    assert failing(report) == set()


def test_SE_P2_not_applicable_when_the_policy_does_not_require_encryption():
    report = evaluate({"policy.require_device_encryption": "NotConfigured",
                       "policy.policy_type": "EndpointSecurityDiskEncryption"})
    assert outcome(report, "SE-P2").status is Status.NOT_APPLICABLE
    assert failing(report) == {"SE-00"}


def test_note_SE_12_applies_only_to_silent_policies():
    (note,) = evaluate().notes
    assert note.rule == "SE-12" and note.applies is True
    (note,) = evaluate({"policy.warning_for_other_disk_encryption": "NotConfigured"}).notes
    assert note.applies is False
    (note,) = evaluate(remove=("policy.warning_for_other_disk_encryption",)).notes
    assert note.applies is None


# ---------------------------------------------------------------------------------------------
# Windows versions: release names, builds, dotted strings, Windows 11

STANDARD_USER_PASSES = [
    "1809", 1809, "10.0.17763", "10.0.17763.0", "10.0.17763.1", 17763, "17763", "1903", "1909",
    "2004", "20H2", "21H1", "21H2", "22H2", "Windows 10 22H2", "Windows 11", "windows 11",
    "Windows 11 21H2", "Windows 11 22H2", "Windows 11 23H2", "Windows 11 24H2", "10.0.22000",
    "10.0.22631.3593", 22631, "10.0.26100.1",
]
STANDARD_USER_FAILS = ["1507", "1607", "1703", "1709", "1803", 1803, "10.0.17134.1", 17134, "17762",
                       "10.0.17762.9999"]


@pytest.mark.parametrize("version", STANDARD_USER_PASSES, ids=repr)
def test_SE_02_passes_from_1809(version):
    report = evaluate({"device.os_version": version})
    assert outcome(report, "SE-02").status is Status.PASS
    assert failing(report) == set()


@pytest.mark.parametrize("version", STANDARD_USER_FAILS, ids=repr)
def test_SE_02_fails_before_1809(version):
    report = evaluate({"device.os_version": version})
    assert failing(report) == {"SE-02"}
    (reason,) = outcome(report, "SE-02").reasons
    assert reason.label == "OS version"
    assert reason.required == "1809 (10.0.17763.0) or later"


@pytest.mark.parametrize("version", ["1803", "10.0.17134", 17134, "1809", "Windows 11", "Windows 11 24H2"], ids=repr)
def test_SE_01_passes_from_1803(version):
    report = evaluate({**ADMIN, "device.os_version": version})
    assert outcome(report, "SE-01").status is Status.PASS
    assert failing(report) == set()


@pytest.mark.parametrize("version", ["1709", "10.0.17133.9999", 16299, "1507"], ids=repr)
def test_SE_01_fails_before_1803(version):
    report = evaluate({**ADMIN, "device.os_version": version})
    assert failing(report) == {"SE-01"}
    assert outcome(report, "SE-01").reasons[0].required == "1803 (10.0.17134.0) or later"


def test_version_reason_shows_the_dotted_version_of_a_release_name():
    (reason,) = outcome(evaluate({"device.os_version": "1803"}), "SE-02").reasons
    assert shows(reason.actual, "10.0.17134.0")
    assert reason.sentence() == f"OS version is {reason.actual}; the rule needs 1809 (10.0.17763.0) or later"
    (reason,) = outcome(evaluate({"device.os_version": "10.0.17134.5"}), "SE-02").reasons
    assert shows(reason.actual, "10.0.17134.5")


def test_windows_11_passes_for_both_roles():
    for role in ("StandardUser", "Administrator"):
        report = evaluate({"device.user_role": role, "device.os_version": "Windows 11"})
        assert failing(report) == set(), role


@pytest.mark.parametrize("version", ["Windows 7", "10.0", "banana", "", 1234, True, "Windows 11 25H9"], ids=repr)
def test_invalid_versions_are_input_errors(version):
    with pytest.raises(InputError) as info:
        ENGINE.facts(facts({"device.os_version": version}))
    (diagnostic,) = info.value.diagnostics
    assert "device.os_version" in diagnostic.message
    assert "OS version" in diagnostic.message
