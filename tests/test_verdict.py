"""Verdict codes named: each code the compiled functions return stands for the status the report gives."""

from pathlib import Path

import pytest

from bitlocker_rules import Engine, compile_text, facts_from_mapping, load_device_file, load_policy_file, merge_facts
from bitlocker_rules.outcome import Status
from bitlocker_rules.verdict import CODES, STATUSES, Verdict

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_codes_and_statuses_are_one_table():
    # Every status but waived (set after evaluation by a waiver, never a code) has its code.
    assert (
        [Verdict(code).status for code in range(4)] == list(STATUSES) == [s for s in Status if s is not Status.WAIVED]
    )
    assert all(CODES[status] == code and CODES[status].status is status for code, status in enumerate(STATUSES))
    assert Verdict.FAIL == 1 and hash(Verdict.FAIL) == hash(1)  # compared and looked up as plain ints


@pytest.mark.parametrize("device", ["device-ready.json", "device-legacy.json"])
@pytest.mark.parametrize("policy", ["policy-silent.json", "policy-startup-pin.json"])
def test_each_compiled_code_names_the_status_of_the_reports_outcome(device, policy):
    engine = Engine.load()
    facts = merge_facts(
        [load_policy_file(EXAMPLES / policy, engine.vocabulary), load_device_file(EXAMPLES / device, engine.vocabulary)]
    )
    codes = [code for ruleset in engine.verdicts(facts.values) for code in ruleset]
    statuses = [o.status for o in engine.evaluate(facts).outcomes]
    assert [Verdict(code).status for code in codes] == statuses
    assert len(set(statuses)) >= 3  # the table is checked on more than one code


# A rule on the profile type (a per-policy fact: each policy has its own), read per policy.
PROFILE_RULES = """ruleset types "Types"

rule T-1 "Delivered by the Endpoint protection template"
  require policy.policy_type == EndpointProtectionTemplate

rule T-2 "Delivered by the Endpoint protection template, the sources disagree"
  disputed "one page requires the template, the other recommends endpoint security"
  require policy.policy_type == EndpointProtectionTemplate
"""
TEMPLATE = {"policy_type": "EndpointProtectionTemplate"}
CATALOG = {"policy_type": "SettingsCatalog"}
UNTYPED = {"tpm_startup_pin": "Blocked"}  # says nothing of its type: the rules are unknown on it


def per_policy_statuses(*policies: dict) -> dict[str, Status]:
    """Each rule's reported status, and its verdict code's, on these policies merged."""
    engine = Engine([compile_text(PROFILE_RULES, "types.rules")])
    parts = [
        facts_from_mapping(p, engine.vocabulary, default_namespace="policy", name=f"policy {i}")
        for i, p in enumerate(policies)
    ]
    facts = merge_facts(parts)
    report = engine.evaluate(facts)
    assert report.conflicts == ()  # cli.md: policies of different types are not in conflict over it
    statuses = {o.rule: o.status for o in report.outcomes}
    codes = engine.verdicts_per_policy(
        engine.rulesets[0], engine.resolved(facts.table), [p.table for p in facts.profiles]
    )[0]
    assert [Verdict(code).status for code in codes] == list(statuses.values())
    # python-api.md: `decide` names the first rule that fails, in report order, else the first unknown.
    first = next((r for want in (Status.FAIL, Status.UNKNOWN) for r, s in statuses.items() if s is want), None)
    decision = engine.decide(facts)
    assert (decision.rule or None, decision.status) == (first, statuses[first] if first else Status.PASS)
    return statuses


def test_a_rule_on_the_profile_type_is_decided_per_policy_a_pass_outranking_an_unknown():
    """Guards the per-policy precedence (cli.md, the profile type; vocabulary.md: "a fail on any
    fails; else a pass on one passes") on every path (report, verdict codes, `decide`): a
    policy that leaves the type unset cannot outvote another's pass, and a disputed rule that
    would fail on one policy is unknown (the sources disagree there) even where another
    passes, but a plain unknown never outranks that pass."""
    unknown, passed, failed = Status.UNKNOWN, Status.PASS, Status.FAIL
    assert per_policy_statuses(TEMPLATE, UNTYPED) == {"T-1": passed, "T-2": passed}
    assert per_policy_statuses(UNTYPED, TEMPLATE) == {"T-1": passed, "T-2": passed}
    assert per_policy_statuses(TEMPLATE, CATALOG) == {"T-1": failed, "T-2": unknown}
    assert per_policy_statuses(UNTYPED, UNTYPED) == {"T-1": unknown, "T-2": unknown}
