"""The ``bitlocker-rules`` command line.

Exit codes: 0 pass; 1 a rule failed (or a finding, a conflict, a difference); 2 bad input or
usage, or an output that cannot be written; 3 an internal error or a worker process that died;
130 interrupted. One module per command; ``main`` imports only the module of the command it
runs, so a command pays at start-up for what it uses and nothing else.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .status import EXIT_CRASH, EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, EXIT_UNDECIDED, EXIT_USAGE

if TYPE_CHECKING:
    import argparse
    from types import TracebackType

    from .parser import FORMATS, build_parser

# Importing this module loads nothing else of the package: Ctrl-C from here on is caught by
# ``main``'s handlers (the parser, which reads the vocabulary, loads inside them).

# command → (module, function)
_COMMANDS = {
    "check": ("check", "run_check"),
    "rules": ("rules", "run_rules"),
    "explain": ("rules", "run_explain"),
    "lint": ("lint", "run_lint"),
    "fmt": ("fmt", "run_fmt"),
    "compare": ("compare", "run_compare"),
    "repair": ("repair", "run_repair"),
    "pull": ("pull", "run_pull"),
    "apply": ("apply", "run_apply"),
    "completion": ("completion", "run_completion"),
    "history": ("history", "run_history"),
    "diff": ("history", "run_diff"),
    "lsp": ("lsp", "run_lsp"),
    "test": ("rule_tests", "run_test"),
    "plan": ("plan", "run_plan"),
}
REPORT_BUGS = "https://github.com/bitlocker-rules/bitlocker-rules/issues"

__all__ = [
    "EXIT_CRASH",
    "EXIT_FAIL",
    "EXIT_INTERRUPTED",
    "EXIT_PASS",
    "EXIT_UNDECIDED",
    "EXIT_USAGE",
    "FORMATS",
    "build_parser",
    "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = None
    try:
        # Imported inside the handlers: Ctrl-C while the package loads is an interruption, not a traceback.
        from ..errors import BitLockerRulesError  # noqa: PLC0415 - see above
        from .parser import build_parser  # noqa: PLC0415 - see above
    except KeyboardInterrupt:
        return _interrupted()
    try:
        args = build_parser().parse_args(argv)
        code = _run(args)
        _flush()  # a full disk or a closed pipe shows here, not as a traceback at exit
        return code
    except BitLockerRulesError as exc:
        _say(exc.render())
        return EXIT_USAGE
    except BrokenPipeError:
        _silence_stdout()  # the reader has gone (`| head`): nothing more to say to anyone
        return EXIT_PASS
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:  # noqa: BLE001 -- the one place an unexpected error becomes a message
        return _crashed(exc, args)


def _run(args: argparse.Namespace) -> int:
    # Imported once the command line is parsed, inside main's handlers (see the module's imports).
    from .configured import configured  # noqa: PLC0415 - see above
    from .inputs import usage_problem  # noqa: PLC0415 - see above
    from .output import usage_error  # noqa: PLC0415 - see above

    args = configured(args)
    problem = usage_problem(args)
    if problem:
        return usage_error(args.command, problem)
    fleet = args.command == "check" and (args.fleet or args.snapshot)
    module, function = ("fleet", "run_fleet") if fleet else _COMMANDS[args.command]
    return getattr(importlib.import_module(f".{module}", __name__), function)(args)


def __getattr__(name: str) -> Any:
    """``FORMATS`` and ``build_parser``, imported on first use (see the module's imports)."""
    if name in ("FORMATS", "build_parser"):
        from . import parser  # noqa: PLC0415 - on first use only: the parser reads the vocabulary

        return getattr(parser, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _interrupted() -> int:
    _say("bitlocker-rules: interrupted")
    return EXIT_INTERRUPTED


def _crashed(exc: BaseException, args: argparse.Namespace | None) -> int:
    """An error no code path expected: one line, the traceback only with --debug; exit 3."""
    import traceback  # noqa: PLC0415 - only a crash pays for it

    from ..errors import clip  # noqa: PLC0415 - only a crash pays for it

    if getattr(args, "debug", False):
        _say("".join(traceback.format_exception(exc)).rstrip())
    _say(
        f"bitlocker-rules: internal error ({type(exc).__name__}: {clip(str(exc), 160)}). This is a bug; "
        f"please report it at {REPORT_BUGS} with the command you ran"
        + ("" if getattr(args, "debug", False) else " and the output of the same command with --debug")
    )
    return EXIT_CRASH


def _say(text: str) -> None:
    from .output import say  # noqa: PLC0415 - a Ctrl-C before anything was loaded still says so

    with _quiet_failures():
        say(text)


class _quiet_failures:
    """Standard error itself may be gone (a closed terminal): then there is no one to tell."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> bool:
        return kind is not None and issubclass(kind, OSError)


def _flush() -> None:
    # Loaded by the command already; imported here so importing this module loads nothing else.
    from ..errors import BitLockerRulesError  # noqa: PLC0415 - see above
    from .output import flush_standard_output  # noqa: PLC0415 - see above

    try:
        flush_standard_output()
    except BitLockerRulesError:
        _silence_stdout()  # what could not be written is dropped, so the exit itself stays quiet
        raise


def _silence_stdout() -> None:
    """Point standard output at the null device, so the interpreter's own flush at exit is quiet."""
    try:
        target = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture): nothing to flush at exit
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, target)
    os.close(devnull)
