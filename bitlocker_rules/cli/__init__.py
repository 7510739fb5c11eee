"""The ``bitlocker-rules`` command line. Exit codes: 0 pass, 1 a rule failed, 2 bad input or usage.

One module per command; ``main`` imports only the module of the command it runs, so a
command pays at start-up for what it uses and nothing else.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from ..errors import BitLockerRulesError
from .parser import FORMATS, build_parser
from .status import EXIT_FAIL, EXIT_PASS, EXIT_USAGE

# command → (module, function)
_COMMANDS = {
    "check": ("check", "run_check"),
    "rules": ("rules", "run_rules"),
    "explain": ("rules", "run_explain"),
    "lint": ("lint", "run_lint"),
    "compare": ("compare", "run_compare"),
    "repair": ("repair", "run_repair"),
}

__all__ = ["EXIT_FAIL", "EXIT_PASS", "EXIT_USAGE", "FORMATS", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    module, function = ("fleet", "run_fleet") if getattr(args, "fleet", None) and args.command == "check" \
        else _COMMANDS[args.command]
    run = getattr(importlib.import_module(f".{module}", __name__), function)
    try:
        return run(args)
    except BitLockerRulesError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_PASS
