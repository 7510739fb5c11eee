"""Where the command line's text goes.

Every report, message and error leaves through ``shown``: recovery passwords masked, control
characters from the inputs escaped (so a device name cannot clear the screen or retitle the
terminal). Reports are written atomically: to a temporary file beside the target, renamed at
the end, so an interrupted run leaves the previous report and never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from ..errors import Diagnostic, InputError, escape_controls, redact
from .status import EXIT_USAGE

STANDARD_STREAM = "-"  # as an --output, standard output; as an input, standard input


def shown(text: str, *, colour: bool = False) -> str:
    """``text`` as it may be shown: passwords masked, control characters escaped.

    With ``colour`` the renderer's own colour codes stay; it escaped its inputs' text itself,
    so no other escape sequence is left to reach the terminal.
    """
    return escape_controls(redact(text), keep_colour=colour)


def wants_colour(choice: str, to_terminal: bool) -> bool:
    """``--color``: always, never, or auto (a terminal, unless NO_COLOR is set: no-color.org)."""
    if choice != "auto":
        return choice == "always"
    return to_terminal and not os.environ.get("NO_COLOR")


def say(text: str) -> None:
    """One message on standard error (a note, a usage problem, an error)."""
    print(shown(text), file=sys.stderr)


def usage_error(command: str, message: str) -> int:
    """Say what is wrong with the command line; the usage exit code."""
    say(f"bitlocker-rules {command}: {message}")
    return EXIT_USAGE


def print_out(text: str = "") -> None:
    """One block of text on standard output."""
    with _writing(sys.stdout):
        print(shown(text))


def write_output(text: str, output: str | None, *, colour: bool = False) -> None:
    """A whole report, to ``output`` (``-`` or None: standard output)."""
    with report_stream(output, colour=colour) as stream:
        stream.write(text)


class ShownStream:
    """A text stream that shows (masks and escapes) whatever is written to it. Lines given to its
    ``encoded_writer`` are held until a megabyte gathers: ``flush`` it at the end (``report_stream`` does)."""

    def __init__(self, stream: TextIO, *, colour: bool = False) -> None:
        self._stream = stream
        self._colour = colour
        self._text_pending = False  # text written since an encoded writer last wrote (flushed before it)
        self._batch: list[bytes] = []  # lines an encoded writer took, not yet written
        self._batched = 0  # their bytes

    def write(self, text: str) -> int:
        """Write ``text``, shown."""
        self._write_batch()
        self._text_pending = True
        try:  # not ``_writing``: a fleet writes each device's line here, and a try costs nothing
            return self._stream.write(shown(text, colour=self._colour))
        except OSError as exc:
            raise _write_failure(self._stream, exc) from None

    def encoded_writer(self) -> Callable[[bytes], None] | None:
        """A writer of text already shown and encoded as UTF-8 (a fleet's JSON lines, made as
        bytes), straight into the binary stream underneath: no decoding, no encoding, no copy
        through the text layer. Its lines are batched and written a megabyte at a time (standard
        output's buffer is 8 KB, about one device's line), and at the latest by the next text or
        ``flush``; text written here before them goes first, so the order holds. None where there
        is no UTF-8 binary stream underneath, or where the stream is line buffered (a terminal:
        each line shows as it is written, as text does)."""
        buffer = getattr(self._stream, "buffer", None)
        if buffer is None or not _takes_utf8(self._stream) or getattr(self._stream, "line_buffering", False):
            return None
        self._text_pending = True  # whatever was written before this writer was made
        batch = self._batch

        def write_encoded(data: bytes) -> None:
            batch.append(data)
            self._batched += len(data)
            if self._batched >= _BATCH_BYTES:
                self._write_batch()

        return write_encoded

    def _write_batch(self) -> None:
        """Write the lines an encoded writer batched, if any, after the text written before them."""
        if not self._batch:
            return
        data = b"".join(self._batch)
        self._batch.clear()
        self._batched = 0
        try:
            if self._text_pending:
                self._stream.flush()
                self._text_pending = False
            _write_all(self._stream.buffer, data)
        except OSError as exc:
            raise _write_failure(self._stream, exc) from None

    def write_encoded(self, data: bytes) -> None:
        """Write text already shown and encoded as UTF-8 (a ``--jobs`` worker's JSON lines) as it
        is, after the text written before it; decoded and written as text where the stream
        underneath is not UTF-8 bytes."""
        self._write_batch()
        with _writing(self._stream):
            buffer = getattr(self._stream, "buffer", None)
            if buffer is None or not _takes_utf8(self._stream):
                self._stream.write(data.decode())
                return
            self._stream.flush()
            _write_all(buffer, data)

    def append_file(self, path: str) -> None:
        """Append a file of text already shown and encoded as UTF-8 (a ``--jobs`` worker's JSON
        lines) as it is, after the text written before it: copied by the kernel where it can be
        (``os.sendfile``), else through a buffer; read whole only into a stream that takes text
        alone or another encoding."""
        self._write_batch()
        with _writing(self._stream), open(path, "rb") as source:
            buffer = getattr(self._stream, "buffer", None)
            if buffer is None or not _takes_utf8(self._stream):
                self._stream.write(source.read().decode())
                return
            self._stream.flush()
            sent = _sent(source, buffer)
            source.seek(sent)
            for chunk in iter(lambda: source.read(_COPY_CHUNK), b""):  # what the kernel could not send, if anything
                _write_all(buffer, chunk)

    def flush(self) -> None:
        """Write the batched lines, and flush the stream underneath."""
        self._write_batch()
        with _writing(self._stream):
            self._stream.flush()


def _write_all(target: BinaryIO, data: bytes) -> None:
    """Write all of ``data``: a raw stream underneath (standard output with PYTHONUNBUFFERED set)
    may take part of a large write and say so only in the count it returns (or None, where it is
    non-blocking and full: the rest is offered again)."""
    view = memoryview(data)
    while view:
        view = view[target.write(view) or 0 :]


def _takes_utf8(stream: TextIO) -> bool:
    return (stream.encoding or "").lower().replace("-", "") == "utf8"


def _sent(source: BinaryIO, target: BinaryIO) -> int:
    """How many bytes of ``source`` (from its start) ``os.sendfile`` copied to ``target``: all
    of them, unless the target takes none this way (not a file, or a kind sendfile refuses)."""
    try:
        out = target.fileno()
    except (AttributeError, OSError, ValueError):
        return 0
    if not hasattr(os, "sendfile"):  # not on Windows
        return 0
    size, sent = os.fstat(source.fileno()).st_size, 0
    while sent < size:
        try:
            count = os.sendfile(out, source.fileno(), sent, size - sent)
        except OSError as exc:
            if exc.errno in _NOT_SENDABLE:
                return sent
            raise
        if count == 0:
            break
        sent += count
    return sent


_BATCH_BYTES = 1 << 20  # an encoded writer's lines written together
_NOT_SENDABLE = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF, errno.ESPIPE})
_COPY_CHUNK = 1 << 20


def flush_standard_output() -> None:
    """Flush standard output, where a full disk shows at last."""
    with _writing(sys.stdout):
        sys.stdout.flush()


@contextlib.contextmanager
def _writing(stream: TextIO) -> Iterator[None]:
    """A failure to write standard output (a full disk) is the user's to fix: a clear error, exit 2.
    A closed pipe (``| head``) is not a failure: it goes on up as ``BrokenPipeError``."""
    try:
        yield
    except OSError as exc:
        raise _write_failure(stream, exc) from None


def _write_failure(stream: TextIO, exc: OSError) -> Exception:
    """What a failed write of ``stream`` raises: for standard output, a clear error (I006), but a
    closed pipe goes on up as it is; for any other stream, the error itself."""
    if isinstance(exc, BrokenPipeError) or stream is not sys.stdout:
        return exc
    return InputError([Diagnostic("I006", f"cannot write the report: {exc.strerror or exc}", file="standard output")])


@contextlib.contextmanager
def report_stream(path: str | None, *, colour: bool = False) -> Iterator[ShownStream]:
    """Where a report goes, as a stream: the --output file (atomically), or standard output."""
    if path is None or path == STANDARD_STREAM:
        with _flushed(ShownStream(sys.stdout, colour=colour)) as shown_stream:
            yield shown_stream
        return
    with _written(Path(path)) as stream, _flushed(ShownStream(stream, colour=colour)) as shown_stream:
        yield shown_stream


@contextlib.contextmanager
def _flushed(stream: ShownStream) -> Iterator[ShownStream]:
    """``stream``, flushed at the end (the lines it batched written); after a failure, as far as
    it can be: the failure is what is reported."""
    try:
        yield stream
    except BaseException:
        with contextlib.suppress(OSError, InputError):
            stream.flush()
        raise
    stream.flush()


@contextlib.contextmanager
def jsonl_output(path: str | None) -> Iterator[Callable[[dict | str], None] | None]:
    """A ``write`` callback appending one JSON line per device to ``path``; None when no path."""
    if path is None:
        yield None
        return
    from ..fleet import write_jsonl  # noqa: PLC0415 - only a fleet run pays for importing the fleet package

    with report_stream(path) as stream:
        yield write_jsonl(stream)


@contextlib.contextmanager
def _written(target: Path) -> Iterator[TextIO]:
    """``target`` opened for writing through a temporary file renamed over it on success.

    A device or a pipe (``/dev/stdout``, ``/dev/full``, a FIFO) cannot be replaced: it is written
    in place. Failures to write (a full disk) are the user's to fix: a clear error, exit 2.
    """
    try:
        if target.exists() and not target.is_file():
            with open(target, "w", encoding="utf-8") as stream:  # default buffer: a terminal shows each line as written
                yield stream
            return
        with _replacing(target) as stream:
            yield stream
    except OSError as exc:
        raise InputError(
            [Diagnostic("I006", f"cannot write the report: {exc.strerror or exc}", file=str(target))]
        ) from None


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[TextIO]:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with open(handle, "w", encoding="utf-8", buffering=REPORT_FILE_BUFFER) as stream:
            yield stream
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# A report file's buffer: text written in pieces of about 8 KB (a fleet's JSON lines made as text,
# one a device) made a write call a piece with the default buffer of 8 KB (measured: 11-14 us a
# line into a file, 3-5 us with this one). Lines made as bytes are batched by encoded_writer.
REPORT_FILE_BUFFER = 1 << 20


def _mode_for(target: Path) -> int:
    """The replaced file's permissions, or a new file's (what ``open`` would give it)."""
    if target.exists():
        return target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def refuse_overwriting_inputs(output: str | None, inputs: Iterable[str], option: str = "--output") -> None:
    """An --output (or another ``option`` naming a file written) that names one of the inputs
    would destroy it before it is read: refuse it."""
    if output is None or output == STANDARD_STREAM or not os.path.exists(output):
        return
    for path in inputs:
        if path != STANDARD_STREAM and os.path.exists(path) and os.path.samefile(output, path):
            raise InputError(
                [
                    Diagnostic(
                        "I008",
                        f"{option} names an input file: the report would overwrite it",
                        file=output,
                        help="write the report to another file",
                    )
                ]
            )


def show_progress(done: int) -> None:
    """A fleet's progress on a terminal: every thousand devices."""
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
    def report(self) -> Callable[[str], None] | None:
        """What the analysis calls with what it is doing (None when nothing is shown)."""
        return self.show if self.enabled else None

    def show(self, doing: str) -> None:
        elapsed = time.monotonic() - self.start
        if elapsed < 1.0:
            return
        width = shutil.get_terminal_size().columns
        line = shown(f"{self.command}: {elapsed:.0f} s, {doing}")[: max(width - 1, 10)]
        sys.stderr.write("\r" + line + "\x1b[K")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False
