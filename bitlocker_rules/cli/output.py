"""Where the command line's text goes: every report and message passes through here, masked."""

from __future__ import annotations

import contextlib
import sys

from ..errors import Diagnostic, InputError, redact
from ..fleet import write_jsonl


def open_output(path: str):
    """The --output file, opened for writing; a clear error (exit 2) when it cannot be."""
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise InputError([Diagnostic("I006", f"cannot write the report: {exc.strerror}", file=path)]) from None

@contextlib.contextmanager
def report_stream(path: str | None):
    """Where a streamed report goes: the --output file, or standard output."""
    if path is None:
        yield sys.stdout
        return
    with open_output(path) as stream:
        yield stream

@contextlib.contextmanager
def jsonl_output(path: str | None):
    if path is None:
        yield None
        return
    with open_output(path) as stream:
        yield write_jsonl(stream)

def write_output(text: str, output: str | None) -> None:
    text = redact(text)
    if output is None:
        sys.stdout.write(text)
        return
    with open_output(output) as stream:
        stream.write(text)

def print_out(text: str = "") -> None:
    """Print to standard output with secrets masked (rule text may quote anything)."""
    print(redact(text))

def show_progress(done: int) -> None:
    if done % 1000 == 0:
        print(f"\r{done} devices", end="", file=sys.stderr, flush=True)
