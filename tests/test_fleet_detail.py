"""The fleet report's bounded collectors: what ``WorstDevices.keeps`` predicts is what ``add`` does."""

from hypothesis import given
from hypothesis import strategies as st

from bitlocker_rules.outcome import Condition, Report, RuleOutcome, Status
from bitlocker_rules.report.fleet_detail import RuleExamples, WorstDevices

_devices = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=30)


@given(_devices, st.integers(0, 4))
def test_keeps_says_whether_add_keeps_the_device(devices, limit):
    worst = WorstDevices(limit)
    for row, (failed, unknown) in enumerate(devices, start=1):
        predicted = worst.keeps((failed, unknown), row)
        worst.add({"row": row, "device": f"d{row}", "summary": {"fail": failed, "unknown": unknown}})
        kept = any(record["row"] == row for record in worst.devices())
        assert predicted == kept, (row, failed, unknown)


def _failed(rule: str, device: str) -> Report:
    reason = Condition("policy.a", "Setting A", device, "On", Status.FAIL)
    return Report(device, (RuleOutcome("r", rule, "Rule", "error", (), Status.FAIL, (reason,)),))


def test_a_rule_is_explained_by_the_first_failure_seen():
    """Per rule the example is the first failing outcome seen (in row order, so that several
    processes choose the one a single process would); a later device does not replace it."""
    examples = RuleExamples()
    examples.add(_failed("R-1", "first"))
    examples.add(_failed("R-1", "second"))
    examples.merge([_failed("R-1", "third").outcomes[0]])
    (kept,) = examples.outcomes()
    assert kept.reasons[0].actual == "first"
