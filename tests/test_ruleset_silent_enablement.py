"""The shipped ``silent_enablement`` ruleset, beyond the verdict cases of
``rulesets/silent_enablement.tests.toml`` (``rule_cases`` reads its baseline), and the
silent-enablement scenario: declared, excluded by interactive startup, inferred, or not known.

Every rule of the ruleset is about silent enablement (its header says ``scenario
silent_enablement``). ``Engine.load(["silent_enablement"])`` declares that scenario, as naming
the ruleset on the command line does; other engines below declare another scenario or none.
Further tests cover unknown verdicts (a missing fact is unknown, never false, with Kleene
``and``), not-applicable verdicts, Windows versions written as release names, builds and
dotted strings, and the reasons a reviewer reads (Intune label and the actual value).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from rule_cases import RulesetCases, failing, outcome, unknown, with_status

from bitlocker_rules import (
    Engine,
    InputError,
    Report,
    Status,
    load_device_file,
    load_policy_file,
    load_ruleset,
    merge_facts,
)
from bitlocker_rules.importers import load_policies

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
REAL = ROOT / "tests" / "fixtures" / "real"

RULE_IDS = ["SE-00", "SE-01", "SE-02", "SE-03", "SE-04", "SE-05", "SE-06", "SE-07", "SE-08", "SE-09", "SE-10", "SE-11"]

CASES = RulesetCases("silent_enablement")
# The case file's baseline: a policy that enables BitLocker silently, and a standard-user device
# that is ready for it.
BASE = CASES.base
BASE_POLICY = {name: value for name, value in BASE.items() if name.startswith("policy.")}
ADMIN = {"device.user_role": "Administrator"}
PIN = {"policy.tpm_startup_pin": "Required"}
# A policy for BitLocker with a startup PIN: the other-encryption warning is not suppressed.
INTERACTIVE = {**PIN, "policy.warning_for_other_disk_encryption": "NotConfigured"}

# rule id -> (label of the deciding setting, the value the reason shows) on the case that fails it
FAILS: dict[str, tuple[str, str]] = {
    "SE-00": ("Encrypt devices", "Not configured"),
    "SE-01": ("OS version", "10.0.16299.0"),
    "SE-02": ("OS version", "10.0.17134.0"),
    "SE-03": ("Join type", "Microsoft Entra registered"),
    "SE-04": ("TPM version", "1.1"),
    "SE-05": ("BIOS Mode", "Legacy"),
    "SE-06": ("Warning for other disk encryption", "Not configured"),
    "SE-07": ("Allow standard users to enable encryption during Microsoft Entra join", "Not configured"),
    "SE-08": ("Compatible TPM startup", "Do not allow TPM"),
    "SE-09": ("Compatible TPM startup PIN", "Require startup PIN with TPM"),
    "SE-10": ("Compatible TPM startup key", "Require startup key with TPM"),
    "SE-11": ("Compatible TPM startup key and PIN", "Require startup key and PIN with TPM"),
}

ENGINE = CASES.engine


def evaluate(changes: Mapping[str, Any] | None = None, remove: tuple[str, ...] = ()) -> Report:
    return CASES.evaluate(changes, remove)


def shows(shown: str | None, expected: str) -> bool:
    """Whether a displayed value is ``expected``; a version may add the release name in brackets."""
    return shown == expected or (shown or "").startswith(expected + " (")


# ---------------------------------------------------------------------------------------------
# The ruleset and its baseline


def test_ruleset_has_the_expected_rules_and_declares_its_scenario():
    loaded = CASES.loaded
    assert loaded.id == "silent_enablement"
    assert [r.id for r in loaded.rules] == RULE_IDS
    assert [r.id for r in loaded.notes] == ["SE-12"]
    assert loaded.ruleset.scenarios == ("silent_enablement",)
    assert all(r.scenarios == ("silent_enablement",) for r in loaded.ruleset.rules)


def test_SE_P2_is_gone_from_every_shipped_ruleset():
    """It duplicated PT-02, which now reports the disputed policy-type question."""
    assert "SE-P2" not in {r.id for loaded in Engine.load().rulesets for r in loaded.ruleset.rules}


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
# Reasons: the Intune label and the value the setting actually has


@pytest.mark.parametrize("rule", RULE_IDS, ids=lambda r: r.replace("-", "_"))
def test_failing_reason_names_the_intune_setting_and_its_value(rule):
    label, actual = FAILS[rule]
    report = CASES.failing_report(rule)
    found = outcome(report, rule)
    assert [c.label for c in found.reasons] == [label]
    (reason,) = found.reasons
    assert shows(reason.actual, actual), reason.actual
    assert reason.status is Status.FAIL and not reason.missing
    assert reason.sentence().startswith(f"{label} is {reason.actual}; the rule needs ")
    assert report.exit_code() == 1


def test_SE_09_reason_names_the_intune_setting_and_value():
    found = outcome(evaluate(PIN), "SE-09")
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
    assert found.encodes == ("S9", "F8", "F19")
    assert [c.fact for c in found.applies_because] == ["scenario.silent_enablement"]


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
    assert found.reasons[0].required == "one of: Microsoft Entra joined, Microsoft Entra hybrid joined"


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


# ---------------------------------------------------------------------------------------------
# The scenario: declared, excluded, inferred, not known

# The device-side and policy-side silent rules of both rulesets, checked together.
BOTH = [load_ruleset("silent_enablement"), load_ruleset("encryption_readiness")]
ER_SILENT = {r.id for r in BOTH[1].rules if r.scenarios == ("silent_enablement",)}
# Everything a silent check could fault on the device, and a PIN required by the policy.
BROKEN_DEVICE = {
    "device.os_version": "1709",
    "device.join_type": "AzureADRegistered",
    "device.tpm_present": False,
    "device.firmware_mode": "LegacyBIOS",
    "device.winre_configured": False,
    "device.bootable_media_present": True,
    "device.network_available": False,
    "device.secure_boot": "Off",
}


def scenario(report: Report, name: str):
    (found,) = [s for s in report.scenarios if s.name == name]
    return found


def test_declared_silent_enablement_with_a_pin_required_fails_SE_09():
    engine = Engine.load(["silent_enablement"])
    report = engine.evaluate(engine.facts({**BASE, **INTERACTIVE}))
    assert outcome(report, "SE-09").status is Status.FAIL
    assert "SE-09" in failing(report)
    record = scenario(report, "silent_enablement")
    assert (record.holds, record.how) == (True, "declared")
    assert record.sentence() == "Silent enablement: in scope, declared with --rules silent_enablement"
    assert scenario(report, "interactive_startup").holds is False
    # Declared in the Python API, with the rules of both rulesets.
    engine = Engine(BOTH, scenarios=["silent_enablement"])
    report = engine.evaluate(engine.facts({**BASE, **INTERACTIVE}))
    assert {"SE-09", "ER-15"} <= failing(report)


def test_declared_interactive_startup_puts_every_silent_rule_out_of_scope():
    engine = Engine(BOTH, scenarios=["interactive_startup"])
    report = engine.evaluate(engine.facts({**BASE, **PIN, **BROKEN_DEVICE}))
    silent = set(RULE_IDS) | ER_SILENT
    assert failing(report) & silent == set()
    assert silent <= with_status(report, Status.NOT_APPLICABLE)
    record = scenario(report, "silent_enablement")
    assert (record.holds, record.state, record.how) == (False, "out of scope", "excluded")
    assert record.because == "Interactive startup authentication is declared in the Python API"
    assert record.sentence() == (
        "Silent enablement: out of scope, because Interactive startup authentication is declared in the Python API"
    )
    (note,) = report.notes[:1]
    assert (note.rule, note.applies) == ("SE-12", False)


def test_interactive_startup_and_silent_enablement_cannot_both_be_declared():
    with pytest.raises(InputError) as info:
        Engine.load(["silent_enablement"], scenarios=["interactive_startup"])
    assert [d.code for d in info.value.diagnostics] == ["I602"]


def test_not_declared_and_not_inferable_no_silent_rule_fails_at_error_level():
    """No Warning for other disk encryption value and no PIN: whether the check is about silent
    enablement cannot be told, so the silent rules are unknown where they would fail."""
    engine = Engine(BOTH)
    values = {
        k: v
        for k, v in {**BASE, **BROKEN_DEVICE}.items()
        if k not in ("policy.warning_for_other_disk_encryption", "policy.tpm_startup_pin")
    }
    report = engine.evaluate(engine.facts(values))
    silent = set(RULE_IDS) | ER_SILENT
    assert not [o.rule for o in report.failed if o.rule in silent and o.severity == "error"]
    assert failing(report) & silent == set()
    for rule in ("SE-02", "SE-03", "SE-04", "SE-05", "ER-01", "ER-06", "ER-23"):
        found = outcome(report, rule)
        assert found.status is Status.UNKNOWN, rule
        assert "scenario.silent_enablement" in found.missing_facts, rule
    record = scenario(report, "silent_enablement")
    assert (record.holds, record.state, record.how) == (None, "not known", "unknown")
    assert record.because == "Warning for other disk encryption is not known"
    assert record.sentence().startswith("Silent enablement: not known, not declared")


def test_silent_enablement_is_inferred_from_warning_for_other_disk_encryption_block():
    engine = Engine(BOTH)
    report = engine.evaluate(engine.facts({**BASE, "device.firmware_mode": "LegacyBIOS"}))
    record = scenario(report, "silent_enablement")
    assert (record.holds, record.how) == (True, "inferred")
    assert record.sentence() == "Silent enablement: in scope, inferred from Warning for other disk encryption is Block"
    assert failing(report) == {"SE-05", "ER-08"}
    assert scenario(report, "interactive_startup").holds is False


def test_a_startup_pin_without_the_silent_warning_setting_is_inferred_interactive():
    engine = Engine(BOTH)
    report = engine.evaluate(engine.facts({**BASE, **INTERACTIVE, **BROKEN_DEVICE}))
    assert scenario(report, "interactive_startup").holds is True
    assert scenario(report, "silent_enablement").holds is False
    assert failing(report) & (set(RULE_IDS) | ER_SILENT) == set()


def test_a_scenario_given_by_the_input_decides_for_the_undeclared_engine():
    engine = Engine(BOTH)
    values = {**BASE, **PIN, "policy.warning_for_other_disk_encryption": None}
    report = engine.evaluate(engine.facts({**values, "scenario.silent_enablement": True}))
    assert "SE-09" in failing(report)
    report = engine.evaluate(engine.facts({**values, "scenario.silent_enablement": False}))
    assert outcome(report, "SE-09").status is Status.NOT_APPLICABLE


def test_a_real_endpoint_security_silent_policy_on_a_ready_device_fails_no_rule():
    """An Endpoint security > Disk encryption BitLocker profile as IntuneManagement exported it
    (settings catalog shape, template family endpointSecurityDiskEncryption, every silent
    setting right), with every shipped ruleset and nothing declared."""
    engine = Engine.load()
    (policy,) = load_policies(REAL / "oib-settings-catalog-bitlocker.json", engine.vocabulary)
    assert policy.policy_type == "EndpointSecurityDiskEncryption"
    device = load_device_file(EXAMPLES / "device-ready.json", engine.vocabulary)
    report = engine.evaluate(merge_facts([policy.facts, device]))
    assert report.failed == ()
    assert scenario(report, "silent_enablement").holds is True
    assert set(RULE_IDS) - {"SE-01"} <= with_status(report, Status.PASS)
    # The only verdict the policy type decides is PT-02's, and the sources disagree on it.
    found = outcome(report, "PT-02")
    assert found.status is Status.UNKNOWN and found.caveat.startswith("the sources disagree: ")


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
    assert reason.sentence() == (
        "TPM version is not known (fact device.tpm_version is missing); the rule needs at least 1.2"
    )
    assert unknown(report) == {"SE-04"}
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


def test_SE_04_unknown_names_both_missing_facts():
    found = outcome(evaluate(remove=("device.tpm_present", "device.tpm_version")), "SE-04")
    assert found.status is Status.UNKNOWN
    assert found.missing_facts == ("device.tpm_present", "device.tpm_version")


@pytest.mark.parametrize(
    ("fact", "rule"),
    [
        ("policy.require_device_encryption", "SE-00"),
        ("device.join_type", "SE-03"),
        ("device.firmware_mode", "SE-05"),
        ("policy.warning_for_other_disk_encryption", "SE-06"),
        ("policy.allow_standard_user_encryption", "SE-07"),
        ("policy.tpm_startup", "SE-08"),
        ("policy.tpm_startup_pin", "SE-09"),
        ("policy.tpm_startup_key", "SE-10"),
        ("policy.tpm_startup_key_and_pin", "SE-11"),
    ],
    ids=lambda v: v.replace("-", "_") if v.startswith("SE-") else v,
)
def test_missing_setting_makes_its_rule_unknown(fact, rule):
    report = evaluate(remove=(fact,))
    found = outcome(report, rule)
    assert found.status is Status.UNKNOWN
    assert found.missing_facts == (fact,)
    assert failing(report) == set()


def test_SE_02_unknown_without_os_version():
    report = evaluate(remove=("device.os_version",))
    found = outcome(report, "SE-02")
    assert found.status is Status.UNKNOWN
    assert found.missing_facts == ("device.os_version",)
    assert found.reasons[0].required == "1809 (10.0.17763.0) or later"
    assert outcome(report, "SE-01").status is Status.NOT_APPLICABLE


def test_unknown_user_role_with_1803_leaves_the_standard_user_rule_unknown():
    report = evaluate({"device.os_version": "1803"}, remove=("device.user_role",))
    assert outcome(report, "SE-01").status is Status.PASS
    found = outcome(report, "SE-02")
    assert found.status is Status.UNKNOWN
    assert found.missing_facts == ("device.user_role",)
    assert {(c.fact, c.status) for c in found.reasons} == {
        ("device.user_role", Status.UNKNOWN),
        ("device.os_version", Status.FAIL),
    }
    assert failing(report) == set()


def test_nothing_known_is_unknown_never_fail():
    report = ENGINE.evaluate({})
    assert failing(report) == set()
    assert unknown(report) == set(RULE_IDS)
    for found in report.outcomes:
        assert found.missing_facts, found.rule
    assert report.exit_code() == 0


# ---------------------------------------------------------------------------------------------
# Not applicable


def test_SE_01_not_applicable_for_a_standard_user():
    report = evaluate({"device.os_version": "1507"})  # far too old, but the rule does not apply
    found = outcome(report, "SE-01")
    assert found.status is Status.NOT_APPLICABLE
    assert [(c.label, c.actual) for c in found.reasons if c.fact != "scenario.silent_enablement"] == [
        ("Signed-in user role", "Standard user")
    ]
    assert failing(report) == {"SE-02"}


def test_SE_01_not_applicable_even_when_the_version_is_missing():
    report = evaluate(remove=("device.os_version",))
    assert outcome(report, "SE-01").status is Status.NOT_APPLICABLE
    assert outcome(report, "SE-01").missing_facts == ()


def test_SE_02_not_applicable_for_an_administrator():
    report = evaluate({**ADMIN, "device.os_version": "1803"})
    found = outcome(report, "SE-02")
    assert found.status is Status.NOT_APPLICABLE
    assert ("Signed-in user role", "Administrator") in [(c.label, c.actual) for c in found.reasons]
    assert outcome(report, "SE-01").status is Status.PASS
    assert failing(report) == set()


# ---------------------------------------------------------------------------------------------
# Windows versions: release names, builds, dotted strings, Windows 11

STANDARD_USER_FAILS = ["1507", "1607", "1703", "1709", "1803", 1803, "10.0.17134.1", 17134, "17762", "10.0.17762.9999"]


@pytest.mark.parametrize("version", STANDARD_USER_FAILS, ids=repr)
def test_SE_02_fails_before_1809(version):
    report = evaluate({"device.os_version": version})
    assert failing(report) == {"SE-02"}
    (reason,) = outcome(report, "SE-02").reasons
    assert reason.label == "OS version"
    assert reason.required == "1809 (10.0.17763.0) or later"


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


@pytest.mark.parametrize("version", ["Windows 7", "10.0", "banana", "", 1234, True, "Windows 11 25H9"], ids=repr)
def test_invalid_versions_are_input_errors(version):
    with pytest.raises(InputError) as info:
        ENGINE.facts({**BASE, "device.os_version": version})
    (diagnostic,) = info.value.diagnostics
    assert "device.os_version" in diagnostic.message
    assert "OS version" in diagnostic.message


# ---------------------------------------------------------------------------------------------
# The text checks themselves catch what they guard (on copies of SE-09 compiled from a string)

SE_09 = """ruleset copy "A copy of SE-09"
rule SE-09 "A startup PIN is not required"
  severity error
  sources S9, F8, F19
  require policy.tpm_startup_pin != Required
  rationale "A required startup PIN needs the user at the keyboard."
  remediation "In Devices > Configuration > (the profile) > Windows Encryption, set Compatible TPM startup PIN"
              "to Do not allow startup PIN with TPM."
"""


def copy_problems(old: str = "", new: str = "") -> list[str]:
    from rule_cases import citable_ids, text_problems

    from bitlocker_rules import compile_text

    text = SE_09.replace(old, new) if old else SE_09
    assert text != SE_09 or not old
    (rule,) = compile_text(text, "copy.rules").ruleset.rules
    return text_problems(rule, ENGINE.vocabulary, citable_ids())


def test_the_text_checks_pass_the_copy_as_written():
    assert copy_problems() == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("A required startup PIN", "Seed S9: a required startup PIN", "rationale says 'Seed'"),
        ("at the keyboard.", "at the keyboard (reference 4.1).", "rationale says 'reference'"),
        ("at the keyboard.", "at the keyboard (see 5.3).", "rationale carries the section number 5.3"),
        ("sources S9, F8, F19", "sources S9, F8, Z99", "cites Z99, which rulesets/requirements.toml does not list"),
        ("sources S9, F8, F19", "related S9", ""),
        (
            "In Devices > Configuration > (the profile) > Windows Encryption, set",
            "Set",
            "remediation names 'Compatible TPM startup PIN' without the path to it in the admin center (A > B)",
        ),
        (
            '"A startup PIN is not required"',
            '"Azure AD devices need no startup PIN"',
            "title says 'Azure AD' instead of Microsoft Entra",
        ),
    ],
)
def test_the_text_checks_catch_a_broken_copy(old, new, problem):
    problems = copy_problems(old, new)
    if problem:
        assert problem in problems
    else:  # advice instead of an encoding is fine for the text checks
        assert problems == []


def test_the_text_checks_allow_versions_builds_and_the_old_name_in_brackets():
    versions = "at the keyboard on TPM 1.2 or TPM 2.0 from 10.0.17763 (build 17763.529)."
    assert copy_problems("at the keyboard.", versions) == []
    assert copy_problems("at the keyboard.", "at the keyboard of a Microsoft Entra (Azure AD) joined device.") == []
