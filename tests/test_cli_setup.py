"""The command line's setup: each input read once, a fleet run's job description picklable,
the fleet's usage checks made before anything is read, the renderer chosen in ``report``."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import pytest

import bitlocker_rules.importers as importers
from bitlocker_rules.cli import main
from bitlocker_rules.fleet.job import FleetJob

ROOT = Path(__file__).resolve().parent.parent
POLICY = str(ROOT / "examples" / "policy-silent.json")
FLEET = str(ROOT / "examples" / "fleet.jsonl")


@pytest.fixture
def reads(monkeypatch) -> Counter:
    """How many times each policy file is read as JSON."""
    counted: Counter = Counter()
    real = importers.read_json

    def counting(path, *args, **kwargs):
        counted[str(path)] += 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(importers, "read_json", counting)
    return counted


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "sarif", "junit"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_fleet_run_reads_each_policy_file_once_in_the_reading_process(reads, tmp_path, fmt, jobs):
    main(
        [
            "check",
            "--fleet",
            FLEET,
            "--policy",
            POLICY,
            "--format",
            fmt,
            "--jobs",
            jobs,
            "--output",
            str(tmp_path / "report"),
        ]
    )
    assert reads[POLICY] == 1  # the workers read it in their own processes


def test_a_fleet_job_survives_pickling_and_builds_the_same_policies():
    job = FleetJob(["silent_enablement"], [POLICY], None, {"silent_enablement": "with --scenario silent_enablement"})
    copy = pickle.loads(pickle.dumps(job))
    assert copy == job
    first, second = job.build(), copy.build()
    assert first.policy == second.policy and first.policy is not None
    assert [p.name for p in first.imported] == [p.name for p in second.imported] != []
    assert pickle.loads(pickle.dumps(job.engine_and_policy)).__self__ == job


def test_the_fleet_usage_checks_run_before_anything_is_read(reads, capsys):
    assert main(["check", "--fleet", FLEET, "--policy", POLICY, "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
    assert reads[POLICY] == 0


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_no_json_line_is_scanned_whole_on_its_way_out(tmp_path, monkeypatch, jobs):
    """Each record entry is masked and escaped once, when it is made, and a device's line is
    joined from such entries at JSON brackets: neither the fleet nor the command's door scans a
    whole line again (with --jobs 2, the workers' lines arrive as shown bytes)."""
    import bitlocker_rules.errors as errors

    scanned: list[str] = []  # every text the masking scanned in this process
    real = errors._masked
    monkeypatch.setattr(errors, "_masked", lambda text, mask: scanned.append(text) or real(text, mask))
    lines = tmp_path / "out.jsonl"
    main(["check", "--fleet", FLEET, "--policy", POLICY, "--jsonl", str(lines), "--quiet", "--jobs", jobs])
    written = lines.read_text(encoding="utf-8").splitlines()
    assert len(written) > 10 and scanned  # the entries were scanned when they were made
    whole = set(written)
    assert not [text for text in scanned if text.strip() in whole]
