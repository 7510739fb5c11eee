"""``check --fleet``: every device row of a fleet file, summarised or reported."""

from __future__ import annotations

import argparse
import functools
import sys

from .. import report as renderers  # each renderer module loads on first use
from ..assignments import AssignedPolicies
from ..engine import Engine
from ..errors import redact
from ..fleet import device_record, evaluate_fleet, evaluate_fleet_parallel, fleet_device, json_line, read_fleet
from ..fleet.job import fleet_engine
from ..importers import load_policies
from ..outcome import InputRecord, Report, at_or_above
from .output import jsonl_output, report_stream, show_progress, write_output
from .parser import declared_scenarios
from .status import EXIT_FAIL, EXIT_PASS, EXIT_USAGE

WORST_DEVICES = 50  # how many of the worst devices a fleet's HTML or Markdown report keeps


def run_fleet(args: argparse.Namespace) -> int:
    """``check --fleet``: evaluate every device row; a summary and JSON Lines, or a report in another format."""
    if args.device:
        print("bitlocker-rules check: give --device or --fleet, not both", file=sys.stderr)
        return EXIT_USAGE
    args.jobs = 1 if args.jobs is None else args.jobs
    if args.jobs < 1:
        print("bitlocker-rules check: --jobs must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    make_engine = functools.partial(fleet_engine, tuple(args.rules or ()) or None, tuple(args.policy),
                                    args.assignments, declared_scenarios(args))
    engine, policy = make_engine()
    if isinstance(policy, AssignedPolicies) and not args.quiet:
        for policy_id in policy.assignments.unassigned:
            print(redact(f"note: {args.assignments}: no device or group is assigned policy {policy_id}"),
                  file=sys.stderr)
    rows = read_fleet(args.fleet, decode=False)  # each process decodes the rows it evaluates
    progress = show_progress if sys.stderr.isatty() and not args.quiet else None

    def evaluate(write, record=None, encode=None):
        if args.jobs == 1:
            return evaluate_fleet(rows, engine, policy, write=write, progress=progress, reader=fleet_device,
                                  record=record, encode=encode)
        return evaluate_fleet_parallel(rows, args.jobs, make_engine, write=write, progress=progress,
                                       reader=fleet_device, record=record, encode=encode)

    if args.format in ("text", "json"):
        with jsonl_output(args.output) as write:
            summary = evaluate(write, encode=json_line)
        if progress:
            print(file=sys.stderr)
        if not args.quiet:
            sys.stdout.write(renderers.render_fleet_json(summary) if args.format == "json" else renderers.render_fleet_table(summary))
    else:
        summary = _fleet_report(args, evaluate, engine)
        if progress:
            print(file=sys.stderr)
    if summary.bad_rows:
        return EXIT_USAGE
    return EXIT_FAIL if any(
        t.counts["fail"] and at_or_above(t.severity, args.fail_on) for t in summary.rules
    ) else EXIT_PASS


def _fleet_report(args: argparse.Namespace, evaluate, engine: Engine):
    """A fleet as Markdown, HTML, JUnit or SARIF, written to --output (or standard output).

    Reports stream past: HTML and Markdown keep the worst devices (at most WORST_DEVICES) and one
    example outcome per rule, SARIF one entry per distinct policy finding, and JUnit writes each
    device's test cases as soon as they are made, so memory stays flat however large the fleet.
    """
    if args.quiet and args.output is None:  # nothing to write: only the exit code is wanted
        return evaluate(None)
    inputs = tuple(InputRecord(p.name, p.origin, p.kind)
                   for path in args.policy for p in load_policies(path, engine.vocabulary))
    inputs += (InputRecord("fleet", args.fleet, "fleet"),)
    if args.format == "junit":
        with report_stream(args.output) as stream:
            writer = renderers.JUnitWriter(stream, fleet=True)
            summary = evaluate(lambda item: writer.add(item[1]), _numbered_report)
            writer.close()
        return summary
    if args.format == "sarif":
        sarif = renderers.FleetSarif(inputs)
        summary = evaluate(lambda item: sarif.add(item[1]), _numbered_report)
        text = sarif.render(summary.bad_rows)
    else:
        worst, examples = renderers.WorstDevices(WORST_DEVICES), renderers.RuleExamples()

        def keep(item):
            worst.add(device_record(*item))
            examples.add(item[1])

        summary = evaluate(keep, _numbered_report)
        render = renderers.render_fleet_html if args.format == "html" else renderers.render_fleet_markdown
        text = render(summary, devices=worst.devices(), examples=examples.outcomes(), inputs=inputs,
                      limit=WORST_DEVICES)
    write_output(text, args.output)
    return summary


def _numbered_report(number: int, report: Report) -> tuple[int, Report]:
    """A fleet result that keeps the whole report (module level: worker processes pickle it)."""
    return number, report
