"""``test``: run the rules' test cases, print what failed (and the coverage), exit 0, 1 or 2."""

from __future__ import annotations

import argparse

from ..report import render_test_run
from ..ruletests import run_tests
from ..vocabulary import shipped_vocabulary
from .output import say, write_output
from .status import EXIT_FAIL, EXIT_PASS


def run_test(args: argparse.Namespace) -> int:
    """``test``: 1 when a case failed or the coverage is below ``--fail-under``."""
    wants_coverage = args.coverage or args.fail_under is not None
    run = run_tests(args.paths, shipped_vocabulary(), with_coverage=wants_coverage)
    write_output(render_test_run(run, args.format), args.output)
    if run.failed:
        return EXIT_FAIL
    if args.fail_under is not None and run.coverage is not None and run.coverage.percent < args.fail_under:
        say(f"coverage {run.coverage.percent:.1f}% is below --fail-under {args.fail_under:g}%")
        return EXIT_FAIL
    return EXIT_PASS
