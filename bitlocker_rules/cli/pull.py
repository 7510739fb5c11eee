"""``pull``: a tenant read from Microsoft Graph into a snapshot folder (``tenant`` does the work)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..tenant import Pacing, PullOptions, pull, sign_in
from .output import Progress, print_out, say
from .status import EXIT_PASS


def run_pull(args: argparse.Namespace) -> int:
    """``pull --out DIR``: sign in, read the tenant, write the snapshot; say what was written."""
    method, *name = args.auth
    tokens = sign_in(method, args.graph_url, token_variable=name[0] if name else None, tell=say)
    options = PullOptions(Path(args.out), args.graph_url, args.concurrency, args.resume)
    progress = Progress.on_terminal("pull", args.quiet)
    try:
        result = pull(options, tokens, pacing=Pacing(timeout=args.request_timeout), progress=progress.report)
    finally:
        progress.done()
    if not args.quiet:
        counts = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in result.counts.items())
        print_out(
            f"Snapshot complete in {result.folder}: {counts}. {result.requests} requests; "
            f"{result.skipped} entries skipped or masked (see manifest.json)."
        )
    return EXIT_PASS
