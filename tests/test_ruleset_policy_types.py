"""The shipped ``policy_types`` ruleset, beyond the verdict cases of
``rulesets/policy_types.tests.toml`` (``rule_cases`` reads its baseline).

PT-01 is a note (the settings catalog also configures BitLocker), never a failure. PT-02 encodes
the December 2021 Intune page's restriction of silent enablement to the Endpoint protection
template, which the page's earlier and later versions do not make: it is ``disputed``, so a
silent policy of another type is unknown with a caveat, never a failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rule_cases import DISPUTED, RulesetCases, failing, outcome, unknown

from bitlocker_rules import Engine, Status, facts_from_mapping, merge_facts
from bitlocker_rules.outcome import origins_text

ROOT = Path(__file__).resolve().parents[1]

# A profile that does not enable BitLocker silently (so PT-02's `when` does not hold).
NOT_SILENT = {"policy.require_device_encryption": "NotConfigured"}
BASELINE = {**NOT_SILENT, "policy.policy_type": "SecurityBaseline"}
CUSTOM = {**NOT_SILENT, "policy.policy_type": "CustomOmaUri"}
METHODS = {
    "policy.configure_encryption_methods": "Enabled",
    "policy.os_encryption_method": "XtsAes256",
    "policy.fixed_encryption_method": "XtsAes256",
    "policy.removable_encryption_method": "AesCbc256",
}

CASES = RulesetCases("policy_types")
BASE = CASES.base  # the case file's baseline


# --- PT-01: a note, not a failure ----------------------------------------------------------------------


def test_PT_01_is_a_note_and_fails_no_settings_catalog_policy():
    assert CASES.rule("PT-01").kind == "note"
    assert "PT-01" not in CASES.rule_ids
    for changes in ({"policy.policy_type": "SettingsCatalog"}, {**NOT_SILENT, "policy.policy_type": "SettingsCatalog"}):
        report = CASES.evaluate(changes)
        assert failing(report) == set()
        assert "PT-01" not in {o.rule for o in report.outcomes}


# --- PT-02: disputed -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["EndpointSecurityDiskEncryption", "SettingsCatalog", "CustomOmaUri", "SecurityBaseline"]
)
def test_PT_02_a_silent_policy_of_another_type_is_unknown_never_failed(kind):
    report = CASES.evaluate({"policy.policy_type": kind})
    found = outcome(report, "PT-02")
    assert found.status is Status.UNKNOWN
    assert found.caveat == DISPUTED + CASES.rule("PT-02").disputed
    assert "December 2021" in found.caveat
    assert failing(report) == set() and unknown(report) == {"PT-02"}
    # The reason still says what the 2021 page would object to.
    assert [(c.label, c.status) for c in found.reasons] == [("Policy type", Status.FAIL)]
    assert report.exit_code() == 0


def test_PT_02_is_information_that_cites_P2():
    rule = CASES.rule("PT-02")
    assert (rule.severity, rule.encodes, rule.scenarios) == ("info", ("P2",), ("silent_enablement",))


# --- PT-03 ... PT-05 -------------------------------------------------------------------------------------


def test_a_baseline_requiring_a_startup_pin_names_the_setting():
    report = CASES.evaluate({**BASELINE, "policy.tpm_startup_pin": "Required"})
    (reason,) = outcome(report, "PT-03").reasons
    assert reason.label == "Compatible TPM startup PIN" and reason.actual == "Require startup PIN with TPM"


# --- several assigned policies: the rules that read the profile type are decided per policy


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load(["policy_types", "silent_enablement"])


def profile(engine: Engine, name: str, settings: dict):
    return facts_from_mapping(settings, engine.vocabulary, origin=f"{name}.json", name=f"policy '{name}'")


def statuses(engine: Engine, *policies) -> dict:
    facts = merge_facts(
        [
            merge_facts(list(policies), name="policies"),
            facts_from_mapping({"device.os_version": "22H2"}, engine.vocabulary, name="device 'PC'"),
        ]
    )
    report = engine.evaluate(facts)
    return {o.rule: o for o in report.outcomes}


def test_a_baseline_requiring_a_startup_pin_fails_beside_the_silent_profile(engine):
    """F19: the baseline comes on top of the BitLocker profile; its own PIN setting is what fails."""
    found = statuses(
        engine,
        profile(engine, "EP", BASE),
        profile(engine, "Baseline", {**BASELINE, "policy.tpm_startup_pin": "Required"}),
    )
    assert found["PT-03"].status is Status.FAIL
    assert origins_text(found["PT-03"].reasons[0].origins) == "policy 'Baseline' $[\"policy.tpm_startup_pin\"]"
    # The silent settings come from the Endpoint protection profile, so PT-02 passes.
    assert found["PT-02"].status is Status.PASS
    # The PIN setting itself is in conflict between the two, as Intune reports it.
    assert found["SE-09"].status is Status.UNKNOWN and found["SE-09"].reasons[0].conflict


def test_silent_settings_in_a_disk_encryption_profile_never_fail_PT_02_beside_the_template(engine):
    found = statuses(
        engine,
        profile(engine, "EP", BASE),
        profile(engine, "ESDE", {**BASE, "policy.policy_type": "EndpointSecurityDiskEncryption"}),
    )
    assert found["PT-02"].status is not Status.FAIL


def test_silent_settings_in_a_disk_encryption_profile_beside_the_template_show_the_dispute(engine):
    found = statuses(
        engine,
        profile(engine, "EP", BASE),
        profile(engine, "ESDE", {**BASE, "policy.policy_type": "EndpointSecurityDiskEncryption"}),
    )
    assert found["PT-02"].status is Status.UNKNOWN
    assert found["PT-02"].caveat.startswith(DISPUTED)


def test_a_disk_encryption_profile_alone_is_unknown_with_the_dispute(engine):
    found = statuses(engine, profile(engine, "ESDE", {**BASE, "policy.policy_type": "EndpointSecurityDiskEncryption"}))
    assert found["PT-02"].status is Status.UNKNOWN and found["PT-02"].caveat.startswith(DISPUTED)


def test_an_incomplete_oma_uri_payload_is_not_hidden_by_another_profile(engine):
    """PT-04 reads the custom profile's own payload: another profile's methods do not complete it."""
    oma = {**CUSTOM, **METHODS, "policy.fixed_encryption_method": None}
    found = statuses(engine, profile(engine, "EP", {**BASE, **METHODS}), profile(engine, "OMA", oma))
    assert found["PT-04"].status is Status.FAIL


def test_one_policy_is_decided_as_before(engine):
    found = statuses(engine, profile(engine, "Baseline", {**BASELINE, "policy.tpm_startup_pin": "Required"}))
    assert found["PT-03"].status is Status.FAIL and found["SE-09"].status is Status.FAIL


def test_profile_types_that_differ_are_not_a_conflict(engine):
    policies = merge_facts(
        [profile(engine, "EP", BASE), profile(engine, "Baseline", {**BASELINE, "policy.tpm_startup_pin": "Required"})]
    )
    report = engine.evaluate(policies)
    assert [c.fact for c in report.conflicts] == ["policy.require_device_encryption", "policy.tpm_startup_pin"]
    assert "policy.policy_type" in {c.fact for c in policies.conflicts}  # the merge itself keeps it


def test_the_command_line_neither_lists_nor_repairs_the_profile_type():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bitlocker_rules",
            "check",
            "--format",
            "json",
            "--policy",
            "examples/graph/endpoint-protection-beta.json",
            "--policy",
            "examples/graph/settings-catalog-bitlocker.json",
            "--device",
            "examples/device-ready.json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    report = json.loads(result.stdout)
    assert "policy.policy_type" not in {c["fact"] for c in report["conflicts"]}
    assert "policy.policy_type" not in {c["fact"] for c in report["suggested_changes"]}
    results = {o["rule"]: o for o in report["results"]}
    assert "SE-P2" not in results and "PT-01" not in results
    assert results["PT-02"]["status"] != "fail"
    assert [o["rule"] for o in report["results"] if o["status"] == "fail"] == []
