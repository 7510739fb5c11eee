"""``check --fleet``: every device row of a fleet file, summarised or reported.

The report in ``--format`` goes to ``--output`` (or standard output), whatever the format:
``text`` and ``json`` are the fleet's summary, the others its report. Each device's result,
one JSON line each, goes to ``--jsonl`` when it is given, beside any report, in one pass.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import sys

from .. import report as renderers  # each renderer module loads on first use
from ..assignments import AssignedPolicies
from ..engine import Engine
from ..facts import Facts
from ..fleet import evaluate_fleet, evaluate_fleet_parallel, fleet_device, json_line, read_fleet
from ..fleet.job import fleet_engine
from ..fleet.parallel import WorkerError, usable_cores
from ..importers import load_policies
from ..outcome import InputRecord, at_or_above
from .output import STANDARD_STREAM, jsonl_output, say, show_progress, usage_error, write_output
from .parser import declared_scenarios
from .status import EXIT_CRASH, EXIT_FAIL, EXIT_PASS, EXIT_USAGE

WORST_DEVICES = 50  # how many of the worst devices a fleet's HTML or Markdown report keeps


def run_fleet(args: argparse.Namespace) -> int:
    """``check --fleet``: evaluate every device row; the report in ``--format``, each device's
    JSON line in ``--jsonl``."""
    args.jobs = 1 if args.jobs is None else args.jobs
    problem = _usage_problem(args)
    if problem:
        return usage_error("check", problem)
    jobs = _jobs(args)
    make_engine = functools.partial(fleet_engine, tuple(args.rules or ()) or None, tuple(args.policy),
                                    args.assignments, declared_scenarios(args))
    engine, policy = make_engine()
    if isinstance(policy, AssignedPolicies) and not args.quiet:
        for policy_id in policy.assignments.unassigned:
            say(f"note: {args.assignments}: no device or group is assigned policy {policy_id}")
    wanted = not args.quiet or args.output is not None  # else only the exit code (and --jsonl) are wanted
    inputs = _inputs(args, engine) if wanted and args.format in ("markdown", "html", "sarif") else ()
    collector = _collector(args.format, inputs, engine) if wanted else None
    rows = read_fleet(args.fleet, decode=False)  # each process decodes the rows it evaluates
    progress = show_progress if sys.stderr.isatty() and not args.quiet else None
    with jsonl_output(args.jsonl) as write:
        encode = json_line if write is not None else None
        if jobs == 1:
            summary = evaluate_fleet(rows, engine, policy, write=write, progress=progress, reader=fleet_device,
                                     encode=encode, collect=collector.add if collector is not None else None)
        else:
            try:
                summary = evaluate_fleet_parallel(rows, jobs, make_engine, write=write, progress=progress,
                                                  reader=fleet_device, encode=encode, collector=collector)
            except WorkerError as exc:  # the environment failed, not the input: the crash code, one message
                say(exc.render())
                return EXIT_CRASH
    if progress:
        print(file=sys.stderr)
    if wanted:
        write_output(_render(args, summary, collector, inputs, engine), args.output)
    if summary.bad_rows:
        return EXIT_USAGE
    return EXIT_FAIL if any(
        t.counts["fail"] and at_or_above(t.severity, args.fail_on) for t in summary.rules
    ) else EXIT_PASS


def _usage_problem(args: argparse.Namespace) -> str | None:
    if args.device:
        return "give --device or --fleet, not both"
    if args.jobs < 1:
        return "--jobs must be at least 1"
    if args.jsonl == STANDARD_STREAM and args.output in (None, STANDARD_STREAM) and not args.quiet:
        return ("--jsonl - and the report would both go to standard output: "
                "give the report a file with --output FILE, or --quiet")
    if args.jsonl not in (None, STANDARD_STREAM) and args.output not in (None, STANDARD_STREAM) \
            and os.path.abspath(args.jsonl) == os.path.abspath(args.output):
        return "--jsonl and --output name the same file: the report would replace the device lines"
    if args.jobs > 1 and STANDARD_STREAM in (*args.policy, args.assignments) \
            and multiprocessing.get_start_method() != "fork":
        return "with --jobs above 1, give the policies and assignments as files (each worker reads them)"
    return None


def _jobs(args: argparse.Namespace) -> int:
    """--jobs, at most the processors this process may use (more would only compete for them)."""
    cores = usable_cores()
    if args.jobs <= cores:
        return args.jobs
    if not args.quiet:
        say(f"note: --jobs {args.jobs} is more than the {cores} processors available; using {cores}")
    return cores


def _inputs(args: argparse.Namespace, engine: Engine) -> tuple[InputRecord, ...]:
    inputs = tuple(InputRecord(p.name, p.origin, p.kind)
                   for path in args.policy for p in load_policies(path, engine.vocabulary))
    return inputs + (InputRecord("fleet", args.fleet, "fleet"),)


def _collector(fmt: str, inputs: tuple[InputRecord, ...], engine: Engine):
    """What the report in ``fmt`` gathers beyond the counters, in bounded memory (None: nothing).

    Workers gather into copies of it and send back only what is new, never whole reports.
    """
    if fmt in ("markdown", "html"):
        return renderers.FleetDetail(WORST_DEVICES)
    if fmt == "junit":
        return renderers.FleetCases()
    if fmt == "sarif":
        # An empty device gives every rule's outcome: the rules SARIF lists, with their titles and fixes.
        return renderers.FleetSarif(inputs, rules=engine.evaluate(Facts()).outcomes, citations=engine.citations)
    return None


def _render(args: argparse.Namespace, summary, collector, inputs: tuple[InputRecord, ...], engine: Engine) -> str:
    if args.format == "text":
        return renderers.render_fleet_table(summary)
    if args.format == "json":
        return renderers.render_fleet_json(summary)
    if args.format == "junit":
        return renderers.render_fleet_junit(summary, collector, citations=engine.citations, verbose=args.verbose)
    if args.format == "sarif":
        return collector.render(summary.bad_rows, summary.unlisted_bad_rows)
    render = renderers.render_fleet_html if args.format == "html" else renderers.render_fleet_markdown
    return render(summary, devices=collector.worst.devices(), examples=collector.examples.outcomes(), inputs=inputs,
                  limit=WORST_DEVICES)
