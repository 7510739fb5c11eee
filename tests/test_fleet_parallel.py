"""``--jobs``: what crosses between the processes, and the heap the workers are forked from.

The outputs of two processes against one are compared byte for byte in ``test_fleet_ranges.py``;
here, what makes them cheap: a SARIF collector's parts say what a finding is once and then only
count it, and the workers inherit a frozen heap, which their collections never scan."""

from __future__ import annotations

import gc
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import bitlocker_rules
import bitlocker_rules.fleet.parallel as fleet_parallel
import bitlocker_rules.fleet.ranges as fleet_ranges
from bitlocker_rules.cli import main
from bitlocker_rules.engine import Engine
from bitlocker_rules.facts import Facts, facts_from_mapping, merge_facts
from bitlocker_rules.importers import load_policies
from bitlocker_rules.outcome import InputRecord
from bitlocker_rules.report.sarif import FleetSarif

ROOT = Path(__file__).resolve().parent.parent
PIN_POLICY = str(ROOT / "examples" / "policy-startup-pin.json")
POLICY = str(ROOT / "examples" / "policy-silent.json")
SE = ("--rules", "silent_enablement")


def _reports(count: int) -> list:
    """Reports of ``count`` devices of a few kinds: findings on the policy's settings (located in
    its file) and on the devices' own facts."""
    engine = Engine.load(["silent_enablement"])
    policy = load_policies(PIN_POLICY, engine.vocabulary)[0]
    kinds = [
        {"os_version": "1803", "firmware_mode": "LegacyBIOS", "user_role": "StandardUser"},
        {"os_version": "22H2", "firmware_mode": "UEFI"},
        {"os_version": "1809", "firmware_mode": "LegacyBIOS", "tpm_version": "1.2"},
    ]
    reports = []
    for i in range(count):
        device = facts_from_mapping(kinds[i % len(kinds)], engine.vocabulary, origin="", name=f"device 'D{i}'")
        reports.append(engine.evaluate(merge_facts([policy.facts, device], name=device.name)))
    return reports


def _collector() -> FleetSarif:
    """A fleet's SARIF collector as ``check --fleet`` makes it (every rule given up front)."""
    engine = Engine.load(["silent_enablement"])
    policy = load_policies(PIN_POLICY, engine.vocabulary)[0]
    rules = engine.evaluate(Facts()).outcomes
    inputs = [InputRecord(policy.name, PIN_POLICY, policy.kind)]
    return FleetSarif(inputs, rules=rules, citations=engine.citations)


def test_sarif_parts_say_what_a_finding_is_once_then_only_count_it():
    """Two collectors, as two processes' copies, take parts of alternate batches (pickled, as they
    cross); merged in batch order they give the log one collector gives. A finding's outcome,
    condition and locations cross in its collector's first part only."""
    reports = _reports(60)
    whole = _collector()
    for report in reports:
        whole.add(report)
    merged = _collector()
    processes = [pickle.loads(pickle.dumps(_collector())) for _ in range(2)]
    sizes: list[list[int]] = [[], []]
    for start in range(0, len(reports), 10):
        which = start // 10 % 2
        for report in reports[start : start + 10]:
            processes[which].add(report)
        part = pickle.dumps(processes[which].take())
        sizes[which].append(len(part))
        source, findings, on_device = pickle.loads(part)
        if len(sizes[which]) > 1:  # the same kinds of devices: nothing new to say, only counts
            assert findings and on_device
            assert all(len(entry) == 2 for entry in findings)
            assert all(len(entry) == 3 for entry in on_device)
        merged.merge((source, findings, on_device))
    assert merged.render() == whole.render()
    assert json.loads(merged.render())["runs"][0]["results"]
    assert all(later < first / 4 for first, *rest in sizes for later in rest)


def test_sarif_parts_of_each_collector_are_kept_apart():
    """Two collectors number their findings alike: a part that gives only indexes is read by the
    numbering of the collector that took it."""
    reports = _reports(12)
    first, second, merged, whole = _collector(), _collector(), _collector(), _collector()
    batches = [(first, reports[:3]), (second, reversed(reports[3:6])), (first, reports[6:9]), (second, reports[9:])]
    for collector, batch in batches:  # the second's first kinds in another order: its index 0 is another finding
        for report in batch:
            collector.add(report)
            whole.add(report)
        merged.merge(collector.take())
    assert merged.render() == whole.render()


def _fleet(tmp_path: Path) -> Path:
    lines = [
        json.dumps({"deviceName": f"PC-{i:03d}", "facts": {"firmware_mode": "LegacyBIOS" if i % 4 else "UEFI"}})
        for i in range(80)
    ]
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_text("\n".join(lines) + "\n")
    return fleet


_EVALUATE_RANGE = fleet_parallel._run_range
_NOTES = {"file": ""}  # set before the workers are forked, so they inherit it


def _noting_frozen(*args):  # module level: the pool pickles it by name
    with open(_NOTES["file"], "a") as out:
        out.write(f"{os.getpid()} {gc.get_freeze_count()}\n")
    return _EVALUATE_RANGE(*args)


@pytest.fixture()
def frozen_counts(monkeypatch, tmp_path):
    """Ranges of about 600 bytes; each range's process and its frozen objects noted in a file."""
    monkeypatch.setattr(fleet_ranges, "MIN_RANGE_BYTES", 600)
    monkeypatch.setattr(fleet_ranges, "RANGE_BYTES", 600)
    monkeypatch.setitem(_NOTES, "file", str(tmp_path / "notes"))
    monkeypatch.setattr(fleet_parallel, "_run_range", _noting_frozen)

    def counts() -> list[tuple[int, int]]:
        noted = [line.split() for line in (tmp_path / "notes").read_text().splitlines()]
        (tmp_path / "notes").unlink()
        return [(int(pid), int(count)) for pid, count in noted]

    return counts


def _check_fleet(capsys, fleet: Path) -> tuple[int, str]:
    code = main(["check", *SE, "--policy", POLICY, "--fleet", str(fleet), "--format", "json", "--jobs", "2"])
    return code, capsys.readouterr().out


def test_workers_are_forked_from_a_frozen_heap_which_is_unfrozen_here_after_the_run(capsys, tmp_path, frozen_counts):
    assert gc.get_freeze_count() == 0
    code, out = _check_fleet(capsys, _fleet(tmp_path))
    assert code == 1 and json.loads(out)["devices"] == 80
    counts = frozen_counts()
    workers = [count for pid, count in counts if pid != os.getpid()]
    here = [count for pid, count in counts if pid == os.getpid()]
    assert workers and min(workers) > 1000  # the engine and the first range's caches, out of reach
    assert here[0] == 0 and min(here[1:]) > 1000  # frozen as the worker was forked, after the first range
    assert gc.get_freeze_count() == 0


def test_a_heap_the_caller_froze_stays_frozen(capsys, tmp_path, frozen_counts):
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        code, _ = _check_fleet(capsys, _fleet(tmp_path))
        assert code == 1
        assert all(count <= frozen for _, count in frozen_counts())  # not frozen again
        assert gc.get_freeze_count() > 0  # and not unfrozen
    finally:
        gc.unfreeze()


def test_a_fleet_run_leaves_its_heap_frozen_for_the_processs_exit(tmp_path):
    """The interpreter's shutdown collections skip the run's objects: frozen at exit (an exit
    hook registered before the run runs after the command's own), once the report is written."""
    report = tmp_path / "report.sarif"
    script = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0, file=sys.stderr))\n"
        "from bitlocker_rules.cli import main\n"
        f"code = main({['check', *SE, '--policy', POLICY, '--fleet', str(_fleet(tmp_path))]!r}"
        f" + ['--format', 'sarif', '--output', {str(report)!r}])\n"
        "print('frozen after the run:', gc.get_freeze_count() > 0, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(bitlocker_rules.__file__).resolve().parent.parent))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["frozen after the run: False", "frozen at exit: True"]
    assert json.loads(report.read_text())["runs"][0]["results"]
