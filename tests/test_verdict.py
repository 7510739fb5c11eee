"""Verdict codes named: each code the compiled functions return stands for the status the report gives."""

from pathlib import Path

import pytest

from bitlocker_rules import Engine, load_device_file, load_policy_file, merge_facts
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
