"""The command line's files and options, checked before anything is read or written."""

from __future__ import annotations

import argparse
import os

from .output import STANDARD_STREAM, refuse_overwriting_inputs

_FLEET_ONLY = ("jobs", "jsonl", "assignments", "store")  # check options that mean something only with --fleet


def input_paths(args: argparse.Namespace) -> list[str]:
    """Every file the command will read, in the order given."""
    paths = [*getattr(args, "policy", ()), *getattr(args, "device", ())]
    paths += [p for p in (getattr(args, "fleet", None), getattr(args, "assignments", None)) if p]
    paths += [p for p in (getattr(args, "waivers", None),) if p]
    if getattr(args, "snapshot", None):  # its files: a report is never written over one
        paths += [os.path.join(args.snapshot, "manifest.json"), os.path.join(args.snapshot, "managed_devices.jsonl")]
    paths += [r for r in (getattr(args, "rules", None) or ()) if r.endswith(".rules")]
    return paths + [p for p in getattr(args, "paths", ()) if p.endswith((".rules", ".toml"))]  # test's case files too


def usage_problem(args: argparse.Namespace) -> str | None:
    """What cannot work, said before anything runs: fleet options without a fleet, standard
    input named twice, a fleet's options that contradict each other. (An output that would
    overwrite an input raises ``InputError``.)"""
    problem = snapshot_problem(args)
    if problem:
        return problem
    if args.command == "check" and not args.fleet and not args.snapshot:
        given = [f"--{name}" for name in _FLEET_ONLY if getattr(args, name) is not None]
        if given:
            return f"{' and '.join(given)} go{'es' if len(given) == 1 else ''} with --fleet"
    if args.command == "check" and args.today is not None and args.waivers is None:
        return "--today goes with --waivers"
    if args.command == "repair" and args.assignments and not args.fleet:
        return "--assignments goes with --fleet"
    paths = input_paths(args)
    if paths.count(STANDARD_STREAM) > 1:
        return "standard input (-) can be read once: give the other inputs as files"
    refuse_overwriting_inputs(getattr(args, "output", None), paths)
    refuse_overwriting_inputs(getattr(args, "jsonl", None), paths, "--jsonl")
    if args.command == "check":
        refuse_overwriting_inputs(args.store, paths, "--store")
    return fleet_problem(args) if args.command == "check" and (args.fleet or args.snapshot) else None


def snapshot_problem(args: argparse.Namespace) -> str | None:
    """What cannot go with ``--snapshot``: the snapshot gives the policies, their assignments and the devices."""
    if not getattr(args, "snapshot", None):
        return None
    given = [
        f"--{name}"
        for name in ("policy", "device", "fleet", "assignments")
        if getattr(args, name, None) not in (None, [])
    ]
    if given:
        return f"--snapshot gives the policies, assignments and devices: leave out {' and '.join(given)}"
    return None


def fleet_problem(args: argparse.Namespace) -> str | None:
    """What cannot work in ``check --fleet``'s options."""
    jobs = 1 if args.jobs is None else args.jobs
    if args.device:
        return "give --device or --fleet, not both"
    if jobs < 1:
        return "--jobs must be at least 1"
    if args.jsonl == STANDARD_STREAM and args.output in (None, STANDARD_STREAM) and not args.quiet:
        return (
            "--jsonl - and the report would both go to standard output: "
            "give the report a file with --output FILE, or --quiet"
        )
    if (
        args.jsonl not in (None, STANDARD_STREAM)
        and args.output not in (None, STANDARD_STREAM)
        and os.path.abspath(args.jsonl) == os.path.abspath(args.output)
        and os.path.abspath(args.output) != os.devnull  # both thrown away: nothing is replaced
    ):
        return "--jsonl and --output name the same file: the report would replace the device lines"
    if jobs > 1 and STANDARD_STREAM in (*args.policy, args.assignments) and not _workers_forked():
        return "with --jobs above 1, give the policies and assignments as files (each worker reads them)"
    return None


def _workers_forked() -> bool:
    """Whether worker processes are forked (they then share what this process read from standard input)."""
    import multiprocessing  # noqa: PLC0415 - only a fleet run with --jobs pays for it

    return multiprocessing.get_start_method() == "fork"
