"""``check --fleet``: every device row of a fleet file, summarised or reported.

The report in ``--format`` goes to ``--output`` (or standard output), whatever the format:
``text`` and ``json`` are the fleet's summary, the others its report. Each device's result,
one JSON line each, goes to ``--jsonl`` when it is given, beside any report, in one pass;
``--store`` appends the run to a results store from the same lines (``history``).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import sys
from collections.abc import Callable
from typing import Any

import attrs

from ..assignments import AssignedPolicies
from ..facts import Facts
from ..fleet import evaluate_fleet, evaluate_fleet_parallel, fleet_device, json_text, read_fleet
from ..fleet.job import FleetJob, FleetSetup
from ..fleet.parallel import Collector, WorkerError, usable_cores
from ..outcome import InputRecord, at_or_above
from ..report import fleet_collector, render_fleet
from ..snapshot import device_reader, devices_path, manifest_path
from .output import jsonl_output, say, show_progress, write_output
from .parser import declared_scenarios
from .status import EXIT_CRASH, EXIT_FAIL, EXIT_PASS, EXIT_USAGE
from .waiving import fleet_waivers, say_notices


def run_fleet(args: argparse.Namespace) -> int:
    """``check --fleet``: evaluate every device row; the report in ``--format``, each device's
    JSON line in ``--jsonl``. (Its usage problems were refused by ``inputs.usage_problem``.)"""
    jobs = _jobs(args)
    job = FleetJob(args.rules, args.policy, args.assignments, declared_scenarios(args), snapshot=args.snapshot)
    setup = job.build()
    engine = setup.engine
    fleet = args.fleet if args.snapshot is None else str(devices_path(args.snapshot))
    # A snapshot's device rows get their encryption report row and recovery keys joined.
    reader = fleet_device if args.snapshot is None else device_reader(args.snapshot)
    if not args.quiet:
        _notes(args.snapshot or args.assignments, setup)
    waiving = fleet_waivers(args, setup, fleet)  # a bad waivers file: before any device is evaluated
    waivers = waiving[1] if waiving is not None else None
    wanted = not args.quiet or args.output is not None  # else only the exit code (and --jsonl) are wanted
    inputs = _inputs(fleet, setup) if wanted and args.format in ("markdown", "html", "sarif") else ()
    collector = _collector(args.format, inputs, setup) if wanted else None
    rows = read_fleet(fleet, decode=False)  # each process decodes the rows it evaluates
    progress = show_progress if sys.stderr.isatty() and not args.quiet else None
    with jsonl_output(args.jsonl) as jsonl, _store_writer(args, setup, fleet) as stored:
        write = _both(jsonl, stored.add) if stored is not None else jsonl
        encode = json_text if write is not None else None  # each line masked once, where it is written
        if jobs == 1:
            summary = evaluate_fleet(
                rows,
                engine,
                setup.policy,
                write=write,
                progress=progress,
                reader=reader,
                encode=encode,
                collect=collector.add if collector is not None else None,
                waivers=waivers,
            )
        else:
            try:
                summary = evaluate_fleet_parallel(
                    rows,
                    jobs,
                    job.engine_and_policy,
                    write=write,
                    progress=progress,
                    reader=reader,
                    encode=encode,
                    collector=collector,
                    built=(engine, setup.policy),
                    waivers=waivers,
                    fleet=fleet,  # a regular JSON Lines file: each process reads its own ranges
                )
            except WorkerError as exc:  # the environment failed, not the input: the crash code, one message
                say(exc.render())
                return EXIT_CRASH
        if waiving is not None:
            summary = attrs.evolve(summary, waiver_notices=waiving[0].notices(summary.waived_by))
            say_notices(summary.waiver_notices, args)
        trend: list = []
        if stored is not None:
            run_id = stored.finish(summary.failed_devices, summary.bad_row_count)
            if not args.quiet:
                say(f"note: run {run_id} added to the store {args.store}")
            if wanted and args.format == "html":
                trend = stored.store.runs()[-_TREND_RUNS:]
    if progress:
        print(file=sys.stderr)
    _quick_exit()
    if wanted:
        write_output(
            render_fleet(
                args.format,
                summary,
                collector,
                inputs=inputs,
                citations=engine.citations,
                verbose=args.verbose,
                trend=trend,
            ),
            args.output,
        )
    if summary.bad_rows:
        return EXIT_USAGE
    return (
        EXIT_FAIL
        if any(t.counts["fail"] and at_or_above(t.severity, args.fail_on) for t in summary.rules)
        else EXIT_PASS
    )


_TREND_RUNS = 60  # the runs of a results store the HTML report charts, the latest


def _quick_exit() -> None:
    """Freeze the heap when the process exits (``atexit``; once however many runs): the collections
    of the interpreter's shutdown then skip the run's objects instead of scanning every one of
    them (the system takes the process's memory back at once). Measured on 30,000 devices, from
    the last statement to the process's end: 0.05-0.13 s, 0.02-0.03 s frozen (with one process
    or two). Every output is written and closed before then (``write_output``, ``jsonl_output``,
    the store's ``finish``)."""
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def _store_writer(args: argparse.Namespace, setup: FleetSetup, fleet: str) -> Any:
    """With ``--store``: the run on its way into the store (opened now: a store that cannot be
    written is refused before the fleet is read); else nothing."""
    if args.store is None:
        return contextlib.nullcontext()
    from ..history import RunWriter, run_info  # noqa: PLC0415 - only a run with --store pays for DuckDB
    from ..resources import installed_version  # noqa: PLC0415 - only a run with --store asks

    manifest = str(manifest_path(args.snapshot)) if args.snapshot is not None else None
    policies = args.policy or ()
    info = run_info(setup.engine, policies, args.assignments, fleet, installed_version(), manifest, args.waivers)
    return RunWriter(args.store, info)


def _both(first: Callable[[Any], None] | None, second: Callable[[Any], None]) -> Callable[[Any], None]:
    """One ``write`` callback that calls both (the first may be absent)."""
    if first is None:
        return second

    def write(line: Any) -> None:
        first(line)
        second(line)

    return write


def _jobs(args: argparse.Namespace) -> int:
    """--jobs (1 when not given), at most the processors this process may use (more would only compete for them)."""
    asked = 1 if args.jobs is None else args.jobs
    cores = usable_cores()
    if asked <= cores:
        return asked
    if not args.quiet:
        say(f"note: --jobs {asked} is more than the {cores} processors available; using {cores}")
    return cores


def _notes(source: str | None, setup: FleetSetup) -> None:
    """Say what the assignments leave out: policies no device gets, and what a snapshot holds
    that the run cannot use (all-users assignments, filters not evaluated, policies not read)."""
    if isinstance(setup.policy, AssignedPolicies):
        for policy_id in setup.policy.assignments.unassigned:
            say(f"note: {source}: no device or group is assigned policy {policy_id}")
    for note in setup.notes:
        say(f"note: {source}: {note}")


def _inputs(fleet: str, setup: FleetSetup) -> tuple[InputRecord, ...]:
    """The files a report names: each policy as it was imported, then the fleet file."""
    return (*(InputRecord(p.name, p.origin, p.kind) for p in setup.imported), InputRecord("fleet", fleet, "fleet"))


def _collector(fmt: str, inputs: tuple[InputRecord, ...], setup: FleetSetup) -> Collector | None:
    """What the report in ``fmt`` gathers beyond the counters (see ``report.fleet_collector``)."""
    # An empty device gives every rule's outcome: the rules SARIF lists, with their titles and fixes.
    rules = setup.engine.evaluate(Facts()).outcomes if fmt == "sarif" else ()
    return fleet_collector(fmt, inputs, rules, setup.engine.citations)
