"""The command line's files, checked before anything is read or written."""

from __future__ import annotations

import argparse

from .output import STANDARD_STREAM, refuse_overwriting_inputs

_FLEET_ONLY = ("jobs", "jsonl", "assignments")  # check options that mean something only with --fleet


def input_paths(args: argparse.Namespace) -> list[str]:
    """Every file the command will read, in the order given."""
    paths = [*getattr(args, "policy", ()), *getattr(args, "device", ())]
    paths += [p for p in (getattr(args, "fleet", None), getattr(args, "assignments", None)) if p]
    paths += [r for r in (getattr(args, "rules", None) or ()) if r.endswith(".rules")]
    return paths + [p for p in getattr(args, "paths", ()) if p.endswith(".rules")]


def usage_problem(args: argparse.Namespace) -> str | None:
    """What cannot work, said before anything runs: fleet options without a fleet, standard
    input named twice. (An output that would overwrite an input raises ``InputError``.)"""
    if args.command == "check" and not args.fleet:
        given = [f"--{name}" for name in _FLEET_ONLY if getattr(args, name) is not None]
        if given:
            return f"{' and '.join(given)} go{'es' if len(given) == 1 else ''} with --fleet"
    paths = input_paths(args)
    if paths.count(STANDARD_STREAM) > 1:
        return "standard input (-) can be read once: give the other inputs as files"
    refuse_overwriting_inputs(getattr(args, "output", None), paths)
    refuse_overwriting_inputs(getattr(args, "jsonl", None), paths, "--jsonl")
    return None
