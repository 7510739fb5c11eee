"""``fmt``: rule files rewritten in canonical layout, comments kept (``formatter``)."""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import sys
from pathlib import Path

from ..errors import Diagnostic, RulesError
from ..formatter import format_text
from .output import STANDARD_STREAM, print_out, say, write_output
from .status import EXIT_FAIL, EXIT_PASS, EXIT_USAGE


def run_fmt(args: argparse.Namespace) -> int:
    """``fmt``: format every rule file given (folders: every ``.rules`` file below them).

    Rewrites the files; with ``--check`` or ``--diff`` writes nothing and lists the files that
    would change (or shows how). Exit code 1 with ``--check`` when one would; 2 when a file
    cannot be read or does not parse (it is left as it is, and the others are still done).
    """
    if args.paths == [STANDARD_STREAM]:
        return _format_stream(args)
    changed, broken = [], False
    for path in _rule_files(args.paths):
        try:
            text = path.read_text(encoding="utf-8")
            formatted = format_text(text, str(path), width=args.line_length)
        except (RulesError, UnicodeDecodeError, OSError) as exc:
            say(_problem(exc, path))
            broken = True
            continue
        if formatted != text:
            changed.append(path)
            try:
                _changed(args, path, text, formatted)
            except OSError as exc:
                say(f"bitlocker-rules fmt: cannot write {path}: {exc.strerror or exc}")
                broken = True
    _summary(args, changed)
    if broken:
        return EXIT_USAGE
    return EXIT_FAIL if args.check and changed else EXIT_PASS


def _format_stream(args: argparse.Namespace) -> int:
    """``fmt -``: standard input formatted to standard output (an editor's formatter)."""
    text = sys.stdin.read()
    formatted = format_text(text, "<stdin>", width=args.line_length)
    if args.diff:
        _show_diff("<stdin>", text, formatted)
    elif not args.check:
        write_output(formatted, STANDARD_STREAM)  # through the command line's one door, as every output
    return EXIT_FAIL if args.check and formatted != text else EXIT_PASS


def _rule_files(paths: list[str]) -> list[Path]:
    """Each file named, and every ``.rules`` file below each folder named, once, in order."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        found += sorted(path.rglob("*.rules")) if path.is_dir() else [path]
    return list(dict.fromkeys(found))


def _problem(exc: Exception, path: Path) -> str:
    if isinstance(exc, RulesError):
        return exc.render()
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return Diagnostic("E003", f"cannot read rule file: {reason}", file=str(path)).render()


def _changed(args: argparse.Namespace, path: Path, text: str, formatted: str) -> None:
    if args.diff:
        _show_diff(str(path), text, formatted)
    elif args.check:
        print_out(f"would reformat {path}")
    else:
        _replace(path, formatted)


def _show_diff(name: str, text: str, formatted: str) -> None:
    lines = difflib.unified_diff(
        text.splitlines(keepends=True), formatted.splitlines(keepends=True), f"{name}", f"{name} (formatted)"
    )
    print_out("".join(line if line.endswith("\n") else line + "\n" for line in lines).rstrip("\n"))


def _replace(path: Path, formatted: str) -> None:
    """Write ``formatted`` over ``path`` whole: a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.fmt-{os.getpid()}")
    try:
        partial.write_text(formatted, encoding="utf-8")
        shutil.copymode(path, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _summary(args: argparse.Namespace, changed: list[Path]) -> None:
    if args.quiet:
        return
    verb = "would be reformatted" if args.check or args.diff else "reformatted"
    say(f"{len(changed)} file{'s' if len(changed) != 1 else ''} {verb}")
