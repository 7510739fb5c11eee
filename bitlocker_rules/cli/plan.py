"""``plan``: a proposed policy change planned over today's fleet and every possible device."""

from __future__ import annotations

import argparse

from ..fleet.job import FleetJob
from ..plan import Proposal, device_json, make_plan
from ..report.plan import render_plan
from .output import STANDARD_STREAM, jsonl_output, refuse_overwriting_inputs, usage_error, write_output
from .parser import declared_scenarios
from .status import EXIT_FAIL, EXIT_PASS, EXIT_UNDECIDED


def run_plan(args: argparse.Namespace) -> int:
    """``plan``: 0 nothing gets worse (or no --fail-on); with ``--fail-on regressions`` 1 when a
    device or a possible device newly fails a rule, 4 when nothing did but a question was undecided."""
    problem = _usage_problem(args)
    if problem:
        return usage_error("plan", problem)
    inputs = [*args.policy, *args.proposal_policy, *args.patch]
    inputs += [p for p in (args.fleet, args.assignments, args.proposal_assignments) if p]
    refuse_overwriting_inputs(args.output, inputs)
    refuse_overwriting_inputs(args.jsonl, inputs, "--jsonl")
    job = FleetJob(args.rules, args.policy, args.assignments, declared_scenarios(args), args.snapshot)
    proposal = Proposal(args.proposal_policy, args.patch, args.proposal_assignments)
    with jsonl_output(args.jsonl) as jsonl:
        write = (lambda device: jsonl(device_json(device))) if jsonl is not None else None
        plan = make_plan(job, proposal, args.fleet, timeout=args.timeout, write=write)
    write_output(render_plan(plan, args.format), args.output)
    if args.fail_on != "regressions":
        return EXIT_PASS
    if plan.regressions:
        return EXIT_FAIL
    return EXIT_UNDECIDED if plan.undecided else EXIT_PASS


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What cannot work, said before anything is read."""
    if args.snapshot and (args.policy or args.fleet or args.assignments):
        return (
            "--snapshot gives today's policies, assignments and devices: leave out --policy, --fleet and --assignments"
        )
    if not args.snapshot and not args.policy:
        return "give today's policies with --policy (or a --snapshot)"
    if not (args.proposal_policy or args.patch or args.proposal_assignments):
        return "give a proposal: --proposal-policy, --patch or --proposal-assignments"
    if (args.assignments or args.proposal_assignments) and not (args.fleet or args.snapshot):
        return "assignments go with --fleet (which devices get which policies)"
    if [*args.policy, *args.proposal_policy, *args.patch, args.fleet].count(STANDARD_STREAM) > 1:
        return "standard input (-) can be read once: give the other inputs as files"
    if args.jsonl and not (args.fleet or args.snapshot):
        return "--jsonl goes with --fleet"
    if args.jsonl == STANDARD_STREAM and args.output in (None, STANDARD_STREAM):
        return "--jsonl - and the plan would both go to standard output: give the plan a file with --output FILE"
    return None
