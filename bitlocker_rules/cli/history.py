"""``history`` (the runs of a results store, or one rule over them) and ``diff`` (two runs
compared; two snapshots checked, then compared, with their policies' drift)."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from ..history import (
    RunLines,
    RunResults,
    RunWriter,
    Store,
    diff_runs,
    is_snapshot,
    is_store,
    policy_drift,
    read_run,
    run_info,
    with_drift,
)
from ..report import render_diff, render_runs, render_trend
from ..resources import installed_version
from ..snapshot import device_reader, devices_path, manifest_path
from .output import refuse_overwriting_inputs, say, usage_error, write_output
from .parser import declared_scenarios
from .status import EXIT_CRASH, EXIT_FAIL, EXIT_PASS, EXIT_USAGE

if TYPE_CHECKING:
    from ..engine import Engine
    from ..fleet.job import FleetJob, FleetSetup


def run_history(args: argparse.Namespace) -> int:
    """``history FILE [--rule RULE]``: the store's runs, or the rule's counts in each."""
    refuse_overwriting_inputs(args.output, [args.store])
    with Store(args.store) as store:
        if args.rule:
            text = render_trend(args.rule.upper(), store.rule_trend(args.rule), args.format, args.store)
        else:
            text = render_runs(store.runs(), args.format, args.store)
    write_output(text, args.output)
    return EXIT_PASS


def run_diff(args: argparse.Namespace) -> int:
    """``diff OLD NEW``: what changed; exit 1 with ``--fail-on new-failures`` when something newly
    fails, with ``--fail-on drift`` when a policy of two snapshots changed."""
    snapshots = [is_snapshot(spec) for spec in (args.old, args.new)]
    if any(snapshots):
        return _diff_snapshots(args) if all(snapshots) else _mixed(args, snapshots)
    given = _snapshot_options(args)
    if given:
        return usage_error(args.command, f"{' and '.join(given)} only with two snapshots (folders written by pull)")
    read = [args.store] if args.store else [p for spec in (args.old, args.new) for p in (spec, spec.rpartition("#")[0])]
    refuse_overwriting_inputs(args.output, [p for p in read if p and (is_store(p) or p in (args.old, args.new))])
    diff = diff_runs(read_run(args.old, args.store), read_run(args.new, args.store))
    write_output(render_diff(diff, args.format), args.output)
    return EXIT_FAIL if args.fail_on == "new-failures" and diff.new_failures else EXIT_PASS


def _snapshot_options(args: argparse.Namespace) -> list[str]:
    """The options given that mean something only when two snapshots are checked."""
    given = [f"--{name}" for name in ("rules", "scenario", "jobs") if getattr(args, name) not in (None, [])]
    return given + (["--fail-on drift"] if args.fail_on == "drift" else [])


def _mixed(args: argparse.Namespace, snapshots: list[bool]) -> int:
    folder, other = (args.old, args.new) if snapshots[0] else (args.new, args.old)
    return usage_error(
        args.command,
        f"{folder} is a snapshot and {other} is not: diff compares two snapshots, or two runs "
        "(check --snapshot --jsonl writes a snapshot's run)",
    )


def _diff_snapshots(args: argparse.Namespace) -> int:
    """Both snapshots checked with the same rulesets (as ``check --snapshot``; with ``--store``
    each check is appended to it as a run), their results compared, and their policies' drift."""
    if args.jobs is not None and args.jobs < 1:
        return usage_error(args.command, "--jobs must be at least 1")
    from ..fleet.job import FleetJob  # noqa: PLC0415 - only a diff of snapshots checks a fleet
    from ..fleet.parallel import WorkerError  # noqa: PLC0415 - see above

    read = [str(devices_path(args.old)), str(devices_path(args.new)), *([args.store] if args.store else [])]
    refuse_overwriting_inputs(args.output, read)
    job = FleetJob(args.rules, scenarios=declared_scenarios(args))
    engine = job.build().engine
    jobs = _jobs(args.jobs)
    try:
        old, new = (
            _checked(attrs.evolve(job, snapshot=folder), engine, args.store, jobs) for folder in (args.old, args.new)
        )
    except WorkerError as exc:  # the environment failed, not the input: the crash code, one message
        say(exc.render())
        return EXIT_CRASH
    if old is None or new is None:
        return EXIT_USAGE
    diff = with_drift(diff_runs(old, new), policy_drift(args.old, args.new, engine.vocabulary))
    write_output(render_diff(diff, args.format), args.output)
    fails = (args.fail_on == "new-failures" and diff.new_failures) or (args.fail_on == "drift" and diff.drifted)
    return EXIT_FAIL if fails else EXIT_PASS


def _checked(job: FleetJob, engine: Engine, store: str | None, jobs: int) -> RunResults | None:
    """A snapshot checked as ``check --snapshot`` checks it (in ``jobs`` processes), its device
    records kept as a run's results (None when some device record could not be read: each is
    said); with ``store``, also appended to that store as a run."""
    from ..fleet import read_fleet  # noqa: PLC0415 - see _diff_snapshots

    folder = str(job.snapshot)
    setup = job.setup(engine)
    for note in setup.notes:
        say(f"note: {folder}: {note}")
    lines = RunLines(folder)
    fleet = str(devices_path(folder))
    rows = read_fleet(fleet, decode=False)
    with _store_writer(store, engine, folder) as stored:
        write = lines.add if stored is None else _each(lines.add, stored.add)
        summary = _evaluated(rows, job, setup, write, jobs, fleet)
        if stored is not None:
            say(f"note: {folder}: run {stored.finish(summary.failed_devices, summary.bad_row_count)} added to {store}")
    for bad in summary.bad_rows:
        say(f"{devices_path(folder)} row {bad.number}: {bad.message}")
    if summary.unlisted_bad_rows:
        say(f"{devices_path(folder)}: {summary.unlisted_bad_rows} more rows not read")
    return None if summary.bad_rows else lines.finish()


def _evaluated(rows: Any, job: FleetJob, setup: FleetSetup, write: Callable[[Any], None], jobs: int, fleet: str) -> Any:
    """The fleet path over a snapshot's rows (``fleet``: its devices file), in this process or in
    ``jobs``; its summary. Each device is read as ``check --snapshot`` reads it: its encryption
    report row and recovery keys joined."""
    from ..fleet import evaluate_fleet, evaluate_fleet_parallel, json_text  # noqa: PLC0415 - see above

    engine, policy, reader = setup.engine, setup.policy, device_reader(str(job.snapshot))
    if jobs == 1:
        return evaluate_fleet(rows, engine, policy, write=write, reader=reader, encode=json_text)
    return evaluate_fleet_parallel(
        rows,
        jobs,
        job.engine_and_policy,
        write=write,
        reader=reader,
        encode=json_text,
        built=(engine, policy),
        fleet=fleet,  # each process reads its own ranges of the devices file
    )


def _jobs(asked: int | None) -> int:
    """--jobs (1 when not given), at most the processors this process may use."""
    from ..fleet.parallel import usable_cores  # noqa: PLC0415 - see _diff_snapshots

    cores = usable_cores()
    if asked is not None and asked > cores:
        say(f"note: --jobs {asked} is more than the {cores} processors available; using {cores}")
    return min(asked or 1, cores)


def _store_writer(store: str | None, engine: Engine, folder: str) -> Any:
    """With a store, a snapshot's run on its way into it (as ``check --snapshot --store`` records it); else nothing."""
    if store is None:
        return contextlib.nullcontext()
    info = run_info(engine, (), None, str(devices_path(folder)), installed_version(), str(manifest_path(folder)))
    return RunWriter(store, info)


def _each(*writes: Callable[[Any], None]) -> Callable[[Any], None]:
    """One ``write`` callback that gives each line to every one of ``writes``."""

    def write(line: Any) -> None:
        for one in writes:
            one(line)

    return write
