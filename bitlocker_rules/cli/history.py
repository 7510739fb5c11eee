"""``history`` (the runs of a results store, or one rule over them) and ``diff`` (two runs compared)."""

from __future__ import annotations

import argparse

from ..history import Store, diff_runs, is_store, read_run
from ..report import render_diff, render_runs, render_trend
from .output import refuse_overwriting_inputs, write_output
from .status import EXIT_FAIL, EXIT_PASS


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
    """``diff OLD NEW``: what changed; exit 1 with ``--fail-on new-failures`` when something newly fails."""
    read = [args.store] if args.store else [p for spec in (args.old, args.new) for p in (spec, spec.rpartition("#")[0])]
    refuse_overwriting_inputs(args.output, [p for p in read if p and (is_store(p) or p in (args.old, args.new))])
    diff = diff_runs(read_run(args.old, args.store), read_run(args.new, args.store))
    write_output(render_diff(diff, args.format), args.output)
    return EXIT_FAIL if args.fail_on == "new-failures" and diff.new_failures else EXIT_PASS
