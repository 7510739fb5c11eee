"""``pull``: a tenant read from Microsoft Graph into a snapshot folder (``tenant`` does the work)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..tenant import Pacing, PullOptions, PullResult, pull, sign_in
from .output import Progress, print_out, say
from .status import EXIT_PASS


def run_pull(args: argparse.Namespace) -> int:
    """``pull --out DIR``: sign in, read the tenant, write the snapshot; say what was written."""
    # azure-identity logs each failed sign-in itself (Python's last-resort handler prints it,
    # unmasked); the failure reaches the user once, as the TenantError this command reports.
    logging.getLogger("azure").addHandler(logging.NullHandler())
    method, *name = args.auth
    tokens = sign_in(method, args.graph_url, token_variable=name[0] if name else None, tell=say)
    options = PullOptions(Path(args.out), args.graph_url, args.concurrency, args.resume)
    progress = Progress.on_terminal("pull", args.quiet)
    try:
        result = pull(options, tokens, pacing=Pacing(timeout=args.request_timeout), progress=progress.report)
    finally:
        progress.done()
    if not args.quiet:
        print_out(summary(result))
    return EXIT_PASS


def summary(result: PullResult) -> str:
    """What a pull wrote: the folder, records per kind, requests, and where the skipped are listed."""
    width = max(map(len, result.counts), default=0)
    lines = [f"Snapshot complete: {result.folder}"]
    lines += [f"  {kind:<{width}}  {count:>7}" for kind, count in result.counts.items()]
    lines.append(
        f"{result.requests} requests; {result.skipped} entries skipped or masked (manifest.json says which and why)"
    )
    return "\n".join(lines)
