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
def test_each_json_line_is_masked_once_where_it_leaves(tmp_path, monkeypatch, jobs):
    import bitlocker_rules.cli.output as output
    import bitlocker_rules.fleet.evaluation as evaluation
    import bitlocker_rules.fleet.results as records

    masked: list[tuple[str, str]] = []  # (where, text) for each text masked in this process

    def recording(where, real):
        def redact(text):
            masked.append((where, text))
            return real(text)

        return redact

    for where, module in (("door", output), ("evaluation", evaluation), ("records", records)):
        monkeypatch.setattr(module, "redact", recording(where, module.redact))
    lines = tmp_path / "out.jsonl"
    main(["check", "--fleet", FLEET, "--policy", POLICY, "--jsonl", str(lines), "--quiet", "--jobs", jobs])
    written = lines.read_text(encoding="utf-8").splitlines()
    assert len(written) > 10
    for line in written:
        assert [where for where, text in masked if text.strip() and text.strip() in line] == ["door"], line[:80]
