"""The fleet report's bounded collectors: what ``WorstDevices.keeps`` predicts is what ``add`` does."""

from hypothesis import given
from hypothesis import strategies as st

from bitlocker_rules.report.fleet_detail import WorstDevices

_devices = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=30)


@given(_devices, st.integers(0, 4))
def test_keeps_says_whether_add_keeps_the_device(devices, limit):
    worst = WorstDevices(limit)
    for row, (failed, unknown) in enumerate(devices, start=1):
        predicted = worst.keeps((failed, unknown), row)
        worst.add({"row": row, "device": f"d{row}", "summary": {"fail": failed, "unknown": unknown}})
        kept = any(record["row"] == row for record in worst.devices())
        assert predicted == kept, (row, failed, unknown)
