"""``compare``: the relation between two selections of rules."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..engine import Engine
from ..scenarios import ScenarioResolver
from .output import Progress, write_output
from .parser import declared_scenarios
from .status import EXIT_FAIL, EXIT_PASS, EXIT_UNDECIDED

if TYPE_CHECKING:
    from ..analysis import Comparison


def run_compare(args: argparse.Namespace) -> int:
    """``compare``: the relation between two selections of rules, with a witness per difference.
    0 equivalent, 1 a difference found, 4 undecided within --timeout (no difference found by then)."""
    from .. import analysis  # noqa: PLC0415 - only lint, compare and repair need the analyser

    a = Engine.load(args.a.split(","))
    b = Engine.load(args.b.split(","))
    # The scenarios either side declares hold on both: the sides are compared where they apply.
    declared = {**a.scenarios.declared, **b.scenarios.declared, **declared_scenarios(args)}
    assumed = ScenarioResolver(a.vocabulary, declared).values({})
    progress = Progress.on_terminal("compare")
    try:
        result = analysis.compare(
            a.rulesets, b.rulesets, a.vocabulary, assumed=assumed, timeout=args.timeout, progress=progress.report
        )
    finally:
        progress.done()
    if args.format == "json":
        write_output(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", None)
    else:
        write_output(_comparison_text(result, args.a, args.b), None)
    if result.relation == "equivalent":
        return EXIT_PASS
    differs = result.a_not_b is not None or result.b_not_a is not None
    return EXIT_FAIL if differs else EXIT_UNDECIDED


def _comparison_text(result: Comparison, a: str, b: str) -> str:
    joiner = {"equivalent": "to", "stricter": "than", "looser": "than"}.get(result.relation, "with")
    lines = [f"{a} is {result.relation} {joiner} {b}"]
    if result.undecided:
        lines = [f"{a} compared with {b} (A = {a}, B = {b}): {result.undecided}"]
    for difference, (yes, no) in ((result.a_not_b, (a, b)), (result.b_not_a, (b, a))):
        if difference is None:
            continue
        lines += [
            "",
            f"A device and policy that satisfy {yes} but not {no} (fails {', '.join(difference.failing_rules)}):",
        ]
        lines += [f"  {label}: {shown}" for _, label, shown in difference.witness.shown]
    return "\n".join(lines) + "\n"
