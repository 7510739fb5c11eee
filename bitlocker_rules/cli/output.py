"""Where the command line's text goes: every report and message passes through here, masked."""

from __future__ import annotations

import contextlib
import shutil
import sys
import time

from ..errors import Diagnostic, InputError, escape_controls, redact
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

class Progress:
    """A one-line status on standard error while lint, compare or repair runs longer than a
    second, on a terminal only: how long, and what it is doing. ``done`` wipes it."""

    def __init__(self, command: str, enabled: bool) -> None:
        self.command = command
        self.enabled = enabled
        self.start = time.monotonic()
        self.shown = False

    @classmethod
    def on_terminal(cls, command: str, quiet: bool = False) -> Progress:
        """A display for ``command`` that shows only on a terminal, and not when ``quiet``."""
        return cls(command, not quiet and sys.stderr.isatty())

    @property
    def report(self):
        """What the analysis calls with what it is doing (None when nothing is shown)."""
        return self.show if self.enabled else None

    def show(self, doing: str) -> None:
        elapsed = time.monotonic() - self.start
        if elapsed < 1.0:
            return
        width = shutil.get_terminal_size().columns
        line = escape_controls(redact(f"{self.command}: {elapsed:.0f} s, {doing}"))[: max(width - 1, 10)]
        sys.stderr.write("\r" + line + "\x1b[K")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False
