"""Fleet files read as a stream of rows: JSON Lines, a JSON array, or CSV.

One row at a time, in constant memory: a malformed row becomes a ``BadRow`` with its row
number, and reading goes on (in a JSON array, up to the end of the malformed element).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from attrs import frozen

from ..errors import Diagnostic, InputError

_DECODER = json.JSONDecoder()
_CHUNK = 1 << 16
_MAX_ELEMENT = 16 << 20  # one device record larger than this is refused


@frozen
class FleetRow:
    """One device row of a fleet file: its 1-based row number and raw data."""

    number: int
    data: Any


@frozen
class BadRow:
    """A fleet row that could not be read as device facts."""

    number: int
    message: str


@frozen
class JsonLine:
    """A JSON Lines row not decoded yet: ``read_fleet(decode=False)`` leaves it to the evaluation.

    With ``--jobs N`` the worker processes decode their own rows, so the reading process only
    splits lines (decoding was the larger part of its work).
    """

    text: str


def read_fleet(path: str | Path, *, decode: bool = True) -> Iterator[FleetRow]:
    """Rows of a fleet file, streamed; the format comes from the extension or the first byte.

    ``decode=False`` leaves JSON Lines rows as ``JsonLine`` for the evaluation to decode.
    """
    path = Path(path)
    try:
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError([Diagnostic("I002", f"cannot read the fleet file: {exc.strerror}", file=str(path))]) from None
    with handle:
        kind = _fleet_kind(path, handle)
        if kind == "csv":
            yield from _csv_rows(handle)
        elif kind == "array":
            yield from _array_rows(handle, str(path))
        else:
            yield from _jsonl_rows(handle, decode)


def _fleet_kind(path: Path, handle: TextIO) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    head = handle.read(1)
    while head and head.isspace():
        head = handle.read(1)
    handle.seek(0)
    return "array" if head == "[" else "jsonl"


def _jsonl_rows(handle: TextIO, decode: bool) -> Iterator[FleetRow]:
    for number, line in enumerate(handle, start=1):
        if line.strip():
            yield FleetRow(number, _decoded(number, line) if decode else JsonLine(line))


def _decoded(number: int, line: str) -> Any:
    """One JSON Lines row's data, or a BadRow saying where the JSON is malformed."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return BadRow(number, f"line {number}, column {exc.colno}: malformed JSON: {exc.msg}")


def _csv_rows(handle: TextIO) -> Iterator[FleetRow]:
    reader = csv.DictReader(handle)
    for number, row in enumerate(reader, start=2):  # row 1 is the header
        yield FleetRow(number, {k: _csv_cell(v) for k, v in row.items() if k is not None and v not in ("", None)})


def _csv_cell(text: str) -> Any:
    """A CSV cell: JSON for lists and objects (collections), else the text itself."""
    stripped = text.strip()
    if stripped[:1] in "[{":
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return text
    return stripped


def _array_rows(handle: TextIO, name: str) -> Iterator[FleetRow]:
    """Elements of a top-level JSON array, decoded one at a time from a sliding buffer."""
    buffer = handle.read(_CHUNK)
    position, number, exhausted = buffer.find("[") + 1, 0, False
    while True:
        position = _skip(buffer, position)
        if position >= len(buffer) and not exhausted:
            buffer, position, exhausted = _refill(handle, buffer, position)
            continue
        if position >= len(buffer) or buffer[position] == "]":
            return
        try:
            value, end = _DECODER.raw_decode(buffer, position)
        except json.JSONDecodeError as exc:
            room = not exhausted and len(buffer) - position < _MAX_ELEMENT
            cut = len(buffer) - exc.pos <= len("false") or exc.msg.startswith("Unterminated string")
            end = None if room and cut else _element_end(buffer, position)
            if end is None and room:  # most likely cut off by the end of the buffer: read on
                buffer, position, exhausted = _refill(handle, buffer, position)
                continue
            number += 1
            if end is None:  # no end in sight: nothing after it can be trusted to be an element
                yield FleetRow(number, BadRow(
                    number, f"element {number}: malformed JSON: {exc.msg}; the rest of the array was not read"))
                return
            yield FleetRow(number, BadRow(number, f"element {number}: malformed JSON: {exc.msg}"))
            position = end
            continue
        number += 1
        yield FleetRow(number, value)
        position = end


def _element_end(buffer: str, position: int) -> int | None:
    """Where the array element starting at ``position`` ends: the ``,`` or ``]`` after it.

    Brackets are balanced and strings skipped, so a malformed element is passed over as a
    whole; None when the buffer ends first.
    """
    depth, index, size = 0, position, len(buffer)
    while index < size:
        char = buffer[index]
        if char == '"':
            index = _string_end(buffer, index + 1)
            if index is None:
                return None
        elif char in "[{":
            depth += 1
        elif char in "]}" and depth > 0:
            depth -= 1
        elif char in ",]" and depth == 0:
            return index
        index += 1
    return None


def _string_end(buffer: str, index: int) -> int | None:
    """The index of the quote closing a JSON string whose text starts at ``index``."""
    while True:
        index = buffer.find('"', index)
        if index < 0:
            return None
        escape = index
        while buffer[escape - 1] == "\\":  # the opening quote stops this
            escape -= 1
        if (index - escape) % 2 == 0:
            return index
        index += 1


def _refill(handle: TextIO, buffer: str, position: int) -> tuple[str, int, bool]:
    more = handle.read(_CHUNK)
    return buffer[position:] + more, 0, not more


def _skip(buffer: str, position: int) -> int:
    while position < len(buffer) and (buffer[position].isspace() or buffer[position] == ","):
        position += 1
    return position
