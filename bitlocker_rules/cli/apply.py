"""``apply DIR``: the requests ``repair --emit`` wrote, shown (a dry run) or sent to Graph (``--yes``)."""

from __future__ import annotations

import argparse
import json
import logging

from ..tenant import Pacing, sign_in
from ..tenant.apply import DRY_RUN, NOT_GRAPH, SENT, ApplyResult, Step, apply
from .output import print_out, say
from .status import EXIT_PASS


def run_apply(args: argparse.Namespace) -> int:
    """``apply DIR [--yes]``: sign in, check, then show or send each request; say what was done."""
    logging.getLogger("azure").addHandler(logging.NullHandler())  # the failure is reported once, by us
    method, *name = args.auth
    tokens = sign_in(method, args.graph_url, token_variable=name[0] if name else None, tell=say)
    result = apply(args.dir, tokens, args.graph_url, send=args.yes, pacing=Pacing(timeout=args.request_timeout))
    if not args.quiet:
        print_out(summary(result))
    return EXIT_PASS


def summary(result: ApplyResult) -> str:
    """What apply did: the permission check, then each request (a dry run shows its body)."""
    head = (
        f"Sent {sum(s.outcome == SENT for s in result.steps)} requests to Graph."
        if result.sent
        else "Dry run: nothing was sent (--yes sends these requests)."
    )
    lines = [head, f"Permission: {result.permission.said}."]
    for step in result.steps:
        lines += ["", *_step(step)]
    if not result.steps:
        lines += ["", "No emitted files were found."]
    return "\n".join(lines)


def _step(step: Step) -> list[str]:
    policy = step.emitted.policy
    named = f"policy '{policy.display_name}' ({policy.id or policy.source}), from {step.file}"
    if step.outcome == NOT_GRAPH:
        return [f"{step.file}: the repaired policy JSON for {policy.source}, not a Graph request; nothing to send"]
    lines = [f"{step.emitted.method} {step.url}", f"  {named}"]
    if step.outcome == DRY_RUN:
        lines += ["  " + line for line in json.dumps(step.emitted.body, indent=2, ensure_ascii=False).splitlines()]
    else:
        lines.append("  done")
    return lines
