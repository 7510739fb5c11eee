"""Fleet files read as a stream of rows: JSON Lines, a JSON array, or CSV.

The file is read as bytes, in chunks, from a file, a pipe or standard input (``-``): nothing
seeks, and no more than one row (at most ``MAX_ROW_BYTES``) is held at a time, so an endless
stream without a newline does not grow memory. A row that cannot be read becomes a ``BadRow``
with its number and the reason, and reading goes on: malformed JSON or CSV, text that is not
UTF-8 (or, after a byte order mark, UTF-16), nesting too deep for Python to read, a number
too long to read, a key given twice, a row too long, CSV cells that do not match the header.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import re
import stat
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

from attrs import field, frozen

from ..errors import Diagnostic, DuplicateKeyError, InputError, clip, escape_controls, unique_keys
from ..reading import MAX_JSON_DEPTH, fleet_format, too_deep

_CHUNK = 1 << 16
MAX_ROW_BYTES = 16 << 20  # one row (a line, an array element, a CSV record) larger than this is refused
# A line still without its end this far past the row limit is no row: an endless stream
# (``/dev/zero``) or a binary file. Reading stops there, rather than skipping for ever.
MAX_SKIPPED_BYTES = 16 * MAX_ROW_BYTES
_MESSAGE_LIMIT = 1000  # a bad row's message is shortened past this many characters
_PEEK_LIMIT = 1 << 20  # how far leading white space is read to tell a JSON array from JSON Lines
STDIN = "-"


def _message(text: str) -> str:
    """A bad row's message as reports show it: control characters escaped, shortened."""
    return escape_controls(clip(text, _MESSAGE_LIMIT))


@frozen
class FleetRow:
    """One device row of a fleet file: its 1-based row number and raw data."""

    number: int
    data: Any


@frozen
class BadRow:
    """A fleet row that could not be read as device facts (the message is shortened, controls escaped)."""

    number: int
    message: str = field(converter=_message)


@frozen
class JsonLine:
    """A JSON Lines row not decoded yet: ``read_fleet(decode=False)`` leaves it to the evaluation.

    With ``--jobs N`` the worker processes decode their own rows, so the reading process only
    splits lines (decoding was the larger part of its work). ``raw`` is the line's UTF-8 bytes.
    """

    raw: bytes
    encoding: str = "UTF-8"  # the file's own encoding, as a message names it


class _RowProblem(ValueError):
    """Why one row's JSON cannot be read (a message without the row's position)."""


def read_fleet(path: str | Path, *, decode: bool = True) -> Iterator[FleetRow]:
    """Rows of a fleet file (``-``: standard input), streamed; the format comes from the
    extension or the first character that is not white space.

    ``decode=False`` leaves JSON Lines rows as ``JsonLine`` for the evaluation to decode.
    """
    name = "standard input" if str(path) == STDIN else str(path)
    with _opened(path, name) as stream:
        first = stream.read1(_CHUNK)
        encoding, chunks = _utf8_chunks(first, _chunks(stream))
        head, chunks = _peek(chunks)
        kind = fleet_format(path, head)
        if kind == "csv":
            yield from _csv_rows(_lines(chunks, name), encoding)
        elif kind == "array":
            yield from _array_rows(chunks, encoding)
        else:
            yield from _jsonl_rows(_lines(chunks, name), decode, encoding)


def jsonl_text_start(path: str | Path) -> int | None:
    """Where the JSON Lines text of the fleet file ``path`` starts (after a UTF-8 byte order
    mark), when it is a regular file that ``read_fleet`` reads as JSON Lines in UTF-8; None for
    anything else (standard input, a pipe or a device, CSV, a JSON array, UTF-16), which only a
    stream from its start can read."""
    if str(path) == STDIN:
        return None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # told before opening: opening a FIFO waits for a writer
            return None
        with open(path, "rb") as stream:
            first = stream.read1(_CHUNK)
            encoding, chunks = _utf8_chunks(first, _chunks(stream))
            head, _ = _peek(chunks)
    except OSError:
        return None  # read_fleet says why, as it reads
    if encoding != "UTF-8" or fleet_format(path, head) != "jsonl":
        return None
    return len(codecs.BOM_UTF8) if first.startswith(codecs.BOM_UTF8) else 0


def read_line_range(path: str | Path, start: int, end: int, before: int) -> Iterator[FleetRow]:
    """The JSON Lines rows of bytes ``start`` to ``end`` of the regular file ``path``, which hold
    whole lines, ``before`` lines following; undecoded (``JsonLine``), numbered as ``read_fleet``
    numbers them."""
    name = str(path)
    with _opened(path, name) as stream:
        stream.seek(start)
        yield from _jsonl_rows(_lines(_range_chunks(stream, end - start), name, before), False, "UTF-8")


def _range_chunks(stream: io.BufferedIOBase, size: int) -> Iterator[bytes]:
    """The next ``size`` bytes of ``stream`` in chunks (fewer if the file was cut short meanwhile)."""
    while size > 0:
        try:
            chunk = stream.read(min(size, _CHUNK))  # as read_fleet: an overlong line is told the same
        except OSError as exc:
            raise InputError([Diagnostic("I002", f"cannot read the fleet file: {exc.strerror}")]) from None
        if not chunk:
            return
        size -= len(chunk)
        yield chunk


@contextlib.contextmanager
def _opened(path: str | Path, name: str) -> Iterator[io.BufferedIOBase]:
    """The fleet file as a binary stream (standard input is not closed afterwards)."""
    if str(path) == STDIN:
        # typeshed declares standard input's buffer a BinaryIO; it is buffered (read1) at run time.
        yield cast(io.BufferedIOBase, sys.stdin.buffer)
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise InputError([Diagnostic("I002", f"cannot read the fleet file: {exc.strerror}", file=name)]) from None
    with stream:
        yield stream


def _chunks(stream: io.BufferedIOBase) -> Iterator[bytes]:
    while True:
        try:
            chunk = stream.read1(_CHUNK)
        except OSError as exc:
            raise InputError([Diagnostic("I002", f"cannot read the fleet file: {exc.strerror}")]) from None
        if not chunk:
            return
        yield chunk


def _utf8_chunks(first: bytes, rest: Iterator[bytes]) -> tuple[str, Iterator[bytes]]:
    """The file's encoding and its text as UTF-8 chunks: a UTF-8 byte order mark is dropped,
    UTF-16 (with its byte order mark, as Windows PowerShell writes) is transcoded."""
    if first.startswith(codecs.BOM_UTF8):
        return "UTF-8", _chained([first[len(codecs.BOM_UTF8) :]], rest)
    if first[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "UTF-16", _from_utf16(_chained([first], rest))
    return "UTF-8", _chained([first], rest)


def _chained(head: Iterable[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in head:
        if chunk:
            yield chunk
    yield from rest


def _from_utf16(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """UTF-16 chunks as UTF-8; a lone surrogate passes through, so the row holding it is refused."""
    decoder = codecs.getincrementaldecoder("utf-16")("surrogatepass")
    for chunk in chunks:
        yield decoder.decode(chunk).encode("utf-8", "surrogatepass")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:  # an odd number of bytes: the last row is cut off
        yield b"\xff"


def _peek(chunks: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """The first byte that is not white space (b"" if none in the first MiB), and the chunks
    unconsumed: nothing is read again, so a pipe works."""
    seen: list[bytes] = []
    size = 0
    for chunk in chunks:
        seen.append(chunk)
        stripped = chunk.lstrip()
        if stripped:
            return stripped[:1], _chained(seen, chunks)
        size += len(chunk)
        if size > _PEEK_LIMIT:
            break
    return b"", _chained(seen, chunks)


def _lines(chunks: Iterator[bytes], name: str, before: int = 0) -> Iterator[tuple[int, bytes | None]]:
    """Physical lines (without the newline) with their numbers from ``before + 1``; None for a
    line longer than ``MAX_ROW_BYTES``, whose bytes are skipped up to its end without being kept
    (up to ``MAX_SKIPPED_BYTES``: past that, InputError)."""
    number = before
    pending: list[bytes] = []  # the start of a line that has not ended yet
    size = 0
    overlong = False
    for chunk in chunks:
        end = chunk.find(b"\n")
        if end < 0:
            size += len(chunk)
            if not overlong:
                pending.append(chunk)
                overlong = size > MAX_ROW_BYTES
                if overlong:
                    pending = []
            elif size > MAX_SKIPPED_BYTES:
                raise InputError(
                    [
                        Diagnostic(
                            "I009",
                            f"line {number + 1}: no line end within {MAX_SKIPPED_BYTES >> 20} MiB; "
                            "the rest is not read",
                            file=name,
                            help="a fleet is JSON Lines, a JSON array or CSV: "
                            "is this a binary file or an endless stream?",
                        )
                    ]
                )
            continue
        number += 1
        if overlong:
            yield number, None
        else:
            yield number, b"".join(pending) + chunk[:end] if pending else chunk[:end]
        lines = chunk[end + 1 :].split(b"\n")
        tail = lines.pop()
        for line in lines:
            number += 1
            yield number, line
        pending, size, overlong = ([tail], len(tail), False) if tail else ([], 0, False)
    if overlong:
        yield number + 1, None
    elif pending:
        yield number + 1, b"".join(pending)


# ---------------------------------------------------------------------------------------------
# JSON: one row's text, with the limits a device file has.


_DECODER = json.JSONDecoder(object_pairs_hook=unique_keys)
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by surrogateescape
_TOO_DEEP = "JSON nested too deeply to read"
_TOO_LONG = "a number too long to read (over 4,300 digits)"


def _loads(text: str) -> Any:
    """One row's JSON; a _RowProblem for what json.loads would crash on or silently lose."""
    try:
        data = _DECODER.decode(text)
    except json.JSONDecodeError:
        raise
    except DuplicateKeyError as exc:
        raise _RowProblem(str(exc)) from None
    except RecursionError:
        raise _RowProblem(_TOO_DEEP) from None
    except ValueError:  # int() refuses numbers over sys.get_int_max_str_digits() digits
        raise _RowProblem(_TOO_LONG) from None
    if too_deep(text, data):  # the limit a device file has
        raise _RowProblem(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def _json_error(exc: json.JSONDecodeError, text: str) -> str:
    """What is malformed, saying so when the text ends before its JSON does (a cut-off row)."""
    if exc.msg.startswith("Unterminated string"):
        return "malformed JSON: a string starts here and is not closed (is the row cut off?)"
    if exc.msg.startswith("Invalid control character"):
        return "malformed JSON: a control character inside a string (a string not closed before the line ends?)"
    if exc.pos >= len(text.rstrip()):
        return f"malformed JSON: {exc.msg}; the row ends before its JSON does (is it cut off?)"
    return f"malformed JSON: {exc.msg}"


# ---------------------------------------------------------------------------------------------
# JSON Lines.


def _jsonl_rows(lines: Iterator[tuple[int, bytes | None]], decode: bool, encoding: str) -> Iterator[FleetRow]:
    for number, raw in lines:
        if raw is None:
            yield FleetRow(number, _overlong(number))
        elif raw.strip():
            yield FleetRow(number, decoded_row(number, raw, encoding) if decode else JsonLine(raw, encoding))


def _overlong(number: int) -> BadRow:
    return BadRow(number, f"line {number}: longer than {MAX_ROW_BYTES >> 20} MiB; skipped to its end")


def decoded_row(number: int, raw: bytes, encoding: str = "UTF-8") -> Any:
    """One JSON Lines row's data, or a BadRow saying where and why it cannot be read."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(raw[: exc.start].decode("utf-8", "replace")) + 1
        return BadRow(number, f"line {number}, column {column}: not {encoding} text")
    try:
        return _loads(text)
    except json.JSONDecodeError as exc:
        return BadRow(number, f"line {number}, column {exc.colno}: {_json_error(exc, text)}")
    except _RowProblem as exc:
        return BadRow(number, f"line {number}: {exc}")


# ---------------------------------------------------------------------------------------------
# CSV: a header row, then one device per record; a record may span lines inside quotes.


def _csv_rows(lines: Iterator[tuple[int, bytes | None]], encoding: str) -> Iterator[FleetRow]:
    yield from _CsvReader(lines, encoding).rows()


class _CsvReader:
    """CSV records, each with the line it starts on; a record goes on past a line end while a
    quote is open.

    A quote never closed (within MAX_ROW_BYTES, or before the end of the file), or closed lines
    later but not where a cell ends, makes the record's first line a bad row, and the lines
    after it are read again as records: an unbalanced quote cannot swallow the file.
    """

    def __init__(self, lines: Iterator[tuple[int, bytes | None]], encoding: str) -> None:
        self.texts = _csv_texts(lines, encoding)
        self.again: deque[tuple[int, str | BadRow | None]] = deque()  # lines to read again
        self.header: _CsvHeader | None = None

    def next_line(self) -> tuple[int, str | BadRow | None] | None:
        return self.again.popleft() if self.again else next(self.texts, None)

    def rows(self) -> Iterator[FleetRow]:
        """Every row: the header's problems (row 1), then a device's ``{column: value}`` or a BadRow."""
        while (item := self.next_line()) is not None:
            number, text = item
            if not isinstance(text, str):
                yield FleetRow(number, text if isinstance(text, BadRow) else _overlong(number))
                continue
            if not text.strip():
                continue  # a line with nothing on it is no row
            record, taken = self.record(text)
            cells = _csv_cells(number, record) if record is not None else None
            if taken and not self.fits(cells):
                self.again.extendleft(reversed(taken))
                yield FleetRow(
                    number,
                    BadRow(
                        number,
                        f"row {number}: a quote opened on this line is not closed where "
                        "a cell ends; the lines after it are read as rows",
                    ),
                )
            elif cells is None:  # the file's last line opened it: no line was taken to close it
                yield FleetRow(
                    number,
                    BadRow(number, f"row {number}: a quote opened on this line is not closed before the file ends"),
                )
            elif isinstance(cells, BadRow):
                yield FleetRow(number, cells)
            elif self.header is None:
                self.header = _CsvHeader(cells)
                if self.header.problems:
                    yield FleetRow(
                        number, BadRow(number, f"row {number} (the header): " + "; ".join(self.header.problems))
                    )
            else:
                yield FleetRow(number, self.header.row(number, cells))

    def record(self, text: str) -> tuple[str | None, list[tuple[int, str | BadRow | None]]]:
        """The record starting with ``text`` (None when its quote is never closed) and the lines it took."""
        taken: list[tuple[int, str | BadRow | None]] = []
        size = len(text)
        while text.count('"') % 2:  # a quote is open: the record goes on on the next line
            more = self.next_line()
            if more is None:
                return None, taken
            taken.append(more)
            if not isinstance(more[1], str) or size > MAX_ROW_BYTES:
                return None, taken
            text += "\n" + more[1]
            size += len(more[1])
        return text, taken

    def fits(self, cells: list[str] | BadRow | None) -> bool:
        """Whether a record of several lines parsed, into as many cells as the header names."""
        return isinstance(cells, list) and (self.header is None or len(cells) == len(self.header.names))


def _csv_texts(lines: Iterator[tuple[int, bytes | None]], encoding: str) -> Iterator[tuple[int, str | BadRow | None]]:
    for number, raw in lines:
        if raw is None:
            yield number, None
            continue
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, BadRow(number, f"row {number}: not {encoding} text")


def _csv_cells(number: int, text: str) -> list[str] | BadRow:
    if "\x00" in text:
        return BadRow(number, f"row {number}: a NUL character (is this a binary file?)")
    try:
        return next(csv.reader([text], strict=True), [])
    except csv.Error as exc:
        reason = f"malformed CSV: {exc}"
        if "field larger than field limit" in reason:
            reason = f"a cell longer than {csv.field_size_limit():,} characters"
        return BadRow(number, f"row {number}: {reason}")


class _CsvHeader:
    """The header row: column names, and what is wrong with them (a name given twice or missing)."""

    def __init__(self, cells: list[str]) -> None:
        self.names = [cell.strip() for cell in cells]
        self.problems: list[str] = []
        first: dict[str, int] = {}
        for index, name in enumerate(self.names):
            if not name:
                self.problems.append(f"column {index + 1} has no name")
            elif name in first:
                self.problems.append(
                    f"column {_shown_name(name)} is given twice (columns {first[name] + 1} and {index + 1})"
                )
            else:
                first[name] = index

    def row(self, number: int, cells: list[str]) -> Any:
        """One record as ``{column: value}``, or a BadRow when its cells do not fit the header."""
        if not any(cell.strip() for cell in cells):
            return BadRow(number, f"row {number}: every cell is empty, so it describes no device")
        if len(cells) != len(self.names):
            return BadRow(
                number,
                f"row {number}: {len(cells)} cells, but the header names {len(self.names)} "
                "columns (a comma in a cell that is not quoted?)",
            )
        data: dict[str, Any] = {}
        for index, (name, cell) in enumerate(zip(self.names, cells)):
            if not cell.strip():
                continue
            if not name:
                return BadRow(number, f"row {number}: column {index + 1} has a value but no name in the header")
            try:
                value = _csv_cell(cell)
            except (json.JSONDecodeError, _RowProblem) as exc:
                problem = _json_error(exc, cell.strip()) if isinstance(exc, json.JSONDecodeError) else str(exc)
                return BadRow(number, f"row {number}, column {_shown_name(name)}: {problem}")
            if name in data and data[name] != value:
                return BadRow(number, f"row {number}: column {_shown_name(name)} is given twice with different values")
            data[name] = value
        return data


def _shown_name(name: str) -> str:
    return f"`{clip(name, 80)}`"


def _csv_cell(text: str) -> Any:
    """A CSV cell: JSON for lists and objects (collections), else the text itself."""
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        return _loads(stripped)
    return stripped


# ---------------------------------------------------------------------------------------------
# A JSON array: its elements decoded one at a time from a sliding buffer.


class _ArrayText:
    """The text of a JSON array as a sliding window over the file: ``buffer`` from ``position``.

    Bytes that are not UTF-8 are kept as lone surrogates (``surrogateescape``), so the element
    holding them is refused and the others are read.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.buffer = ""
        self.position = 0
        self.exhausted = False
        self.lines_before = 0  # line ends in the text dropped from the front of the buffer
        self.column_before = 0  # characters after the last of them

    def refill(self) -> None:
        """Drop what was read, add the next chunk (or note the end of the file)."""
        dropped = self.buffer[: self.position]
        line_end = dropped.rfind("\n")
        self.lines_before += dropped.count("\n")
        self.column_before = len(dropped) - line_end - 1 if line_end >= 0 else self.column_before + len(dropped)
        more = next(self.chunks, None)
        text = self.decoder.decode(more or b"", final=more is None)
        self.buffer, self.position = self.buffer[self.position :] + text, 0
        self.exhausted = more is None

    def skip(self, separators: str) -> bool:
        """Move past white space and ``separators``, refilling as needed; False at the end of the file."""
        while True:
            buffer, position = self.buffer, self.position
            while position < len(buffer) and (buffer[position].isspace() or buffer[position] in separators):
                position += 1
            self.position = position
            if position < len(buffer):
                return True
            if self.exhausted:
                return False
            self.refill()

    def where(self, offset: int) -> str:
        """``line L, column C`` of an offset into the buffer."""
        line_end = self.buffer.rfind("\n", 0, offset)
        column = offset - line_end if line_end >= 0 else self.column_before + offset + 1
        return f"line {self.lines_before + self.buffer.count(chr(10), 0, offset) + 1}, column {column}"


def _array_rows(chunks: Iterator[bytes], encoding: str) -> Iterator[FleetRow]:
    text = _ArrayText(chunks)
    text.refill()
    text.skip("")
    text.position += 1  # the opening bracket (the kind was told by it)
    number = 0
    while text.skip(","):
        if text.buffer[text.position] == "]":
            text.position += 1
            if text.skip(""):
                yield FleetRow(
                    number + 1,
                    BadRow(number + 1, f"after the array ({text.where(text.position)}): more text, which was not read"),
                )
            return
        number += 1
        row, go_on = _array_element(text, number, encoding)
        yield FleetRow(number, row)
        if not go_on:
            return
    yield FleetRow(number + 1, BadRow(number + 1, "the file ends before the array's closing ] (is it cut off?)"))


def _array_element(text: _ArrayText, number: int, encoding: str) -> tuple[Any, bool]:
    """The element at ``text.position`` (or a BadRow) and whether reading can go on after it."""
    while True:
        start = text.position
        try:
            value, end = _DECODER.raw_decode(text.buffer, start)
        except json.JSONDecodeError as exc:
            cut = len(text.buffer) - exc.pos <= len("false") or exc.msg.startswith("Unterminated string")
            if cut and not text.exhausted:  # most likely cut off by the end of the buffer: read on
                if len(text.buffer) - start <= MAX_ROW_BYTES:
                    text.refill()
                    continue
                return _bad_element(text, number, f"longer than {MAX_ROW_BYTES >> 20} MiB")
            if _ESCAPED_BYTES.match(text.buffer, exc.pos):
                return _bad_element(text, number, f"not {encoding} text", exc.pos)
            return _bad_element(text, number, _json_error(exc, text.buffer), exc.pos)
        except DuplicateKeyError as exc:
            return _bad_element(text, number, str(exc))
        except RecursionError:
            return _bad_element(text, number, _TOO_DEEP)
        except ValueError:
            return _bad_element(text, number, _TOO_LONG)
        where = text.where(start)
        text.position = end
        if _ESCAPED_BYTES.search(text.buffer, start, end):
            return BadRow(number, f"element {number} ({where}): not {encoding} text"), True
        if end - start > MAX_ROW_BYTES:
            return BadRow(number, f"element {number} ({where}): longer than {MAX_ROW_BYTES >> 20} MiB"), True
        return value, True


def _bad_element(text: _ArrayText, number: int, problem: str, at: int | None = None) -> tuple[BadRow, bool]:
    """A malformed element, skipped up to the ``,`` or ``]`` that ends it (without keeping it);
    when the file ends first, nothing follows it to read. ``at``: where the problem is (default:
    where the element starts)."""
    where = text.where(text.position if at is None else at)
    if not _skip_element(text):
        return BadRow(number, f"element {number} ({where}): {problem}; the file ends before the element does"), False
    return BadRow(number, f"element {number} ({where}): {problem}"), True


_STRUCTURE = re.compile(r'["\[\]{},]')
_IN_STRING = re.compile(r'["\\\n]')


def _skip_element(text: _ArrayText) -> bool:
    """Move ``text.position`` to the ``,`` or ``]`` that ends the element starting there
    (brackets balanced, strings skipped), dropping the text passed over; False at the end of the file."""
    depth, in_string, escaped = 0, False, False
    index = text.position
    while True:
        buffer = text.buffer
        if escaped and index < len(buffer):  # the character after a backslash, whatever it is
            index, escaped = index + 1, False
        match = None if escaped else (_IN_STRING if in_string else _STRUCTURE).search(buffer, index)
        if match is None:
            if text.exhausted:
                return False
            text.position = len(buffer)  # nothing to look at up to there
            text.refill()
            index = 0
            continue
        char, index = match.group(), match.end()
        if in_string:  # a line end closes a string too: JSON strings hold none, so reading gets back in step
            escaped = char == "\\"
            in_string = escaped
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}" and depth > 0:
            depth -= 1
        elif depth == 0 and char in ",]":  # outside any bracket of the element (a stray } is part of it)
            text.position = index - 1
            return True
