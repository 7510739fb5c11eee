"""Where SARIF results point: places in the input files as SARIF locations.

A policy's setting (``Locator``): the value's JSON path, from ``Condition.origins``, resolved
to a line and column by scanning its export file's JSON text (``jsonpath.locate_json_offsets``;
a snapshot's policy is the line ``FILE.jsonl#LINE`` of its file). A fleet's device
(``RecordLines``): the record a fact was read from (``source.RecordPlace``: the fleet file's
row, a snapshot's joined record), its line read back once, after the run, from its byte offset
when the reader kept it; the column of the fact's key when the record gives it by name. No
location carries a snippet: a record can hold a secret.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from attrs import frozen

from ..errors import InputError
from ..jsonpath import json_path_text, locate_json_offsets
from ..outcome import Condition, InputRecord, ValueOrigin
from ..reading import STANDARD_INPUT, fleet_format, input_text
from ..source import JsonPath, Location, RecordPlace, SourceText, Span

ReadText = Callable[[str], str | None]


class Locator:
    """Reads input files once each and turns source references into SARIF locations."""

    def __init__(self, inputs: Sequence[InputRecord], read_text: ReadText | None = None) -> None:
        self.inputs = tuple(inputs)
        self.read_text = read_text or read_file
        self._texts: dict[str, SourceText | None] = {}

    def text(self, file: str) -> SourceText | None:
        if file not in self._texts:
            text = self.read_text(file)
            self._texts[file] = None if text is None else SourceText(text, file)
        return self._texts[file]

    def locations(self, condition: Condition) -> list[dict[str, Any]]:
        """One SARIF location per input the condition's value came from (none if unknown)."""
        found = []
        for ref in condition.origins:
            if ref.path is None:  # not read from a place in a file (a vocabulary grant)
                continue
            candidates = [i for i in self.inputs if i.name == ref.input]
            best = None
            for candidate in candidates:
                located = self._locate(candidate, ref)
                if located is not None and (best is None or located[1] > best[1]):
                    best = located
                if best is not None and best[1] == len(ref.path):
                    break
            if best is not None:
                found.append(best[0])
            elif candidates:
                found.append(value_location(candidates[0].file, None, ref))
        return found

    def _locate(self, record: InputRecord, ref: ValueOrigin) -> tuple[dict[str, Any], int] | None:
        source = self.text(record.file)
        if source is None or ref.path is None:
            return None
        try:
            start, end, depth = locate_json_offsets(source.text, ref.path)
        except ValueError:
            return None
        if ref.data_id and depth == len(ref.path):  # an ADMX value: point at its <data id=...>
            inner = source.text.find(ref.data_id, start, end)
            if inner >= 0:
                start, end = inner, inner + len(ref.data_id)
        return value_location(record.file, source.location(Span(start, end)), ref), depth


def read_file(file: str) -> str | None:
    line = _jsonl_line(file)
    if line is not None:
        return _line_text(*line)
    try:
        return input_text(file)
    except InputError:
        return None


# A record of a JSON Lines file, as a snapshot names the policy it read there: ``FILE.jsonl#LINE``.
_JSONL_LINE = re.compile(r"(?P<file>.+\.jsonl)#(?P<line>[1-9][0-9]{0,9})")


def _jsonl_line(file: str) -> tuple[str, int] | None:
    """``(FILE.jsonl, LINE)`` for a record's name of that shape (None for any other file name)."""
    match = _JSONL_LINE.fullmatch(file)
    return (match["file"], int(match["line"])) if match else None


def _line_text(file: str, number: int) -> str | None:
    """Line ``number`` of a JSON Lines file, after as many line ends as lines before it: located
    in this text, a value's line and column are those of the file."""
    try:
        with open(file, encoding="utf-8") as stream:
            for current, line in enumerate(stream, 1):
                if current == number:
                    return "\n" * (number - 1) + line
    except (OSError, UnicodeDecodeError):
        return None
    return None


def artifact_uri(file: str) -> str:
    """A file name as a SARIF artifact URI: relative paths stay relative, with ``/`` (a JSON
    Lines record, ``FILE.jsonl#LINE``, is its file)."""
    line = _jsonl_line(file)
    file = line[0] if line is not None else file
    path = Path(file)
    if path.is_absolute():
        return path.as_uri()
    return quote(str(PurePosixPath(*path.parts)) if path.parts else file, safe="/")


def value_location(file: str, region: Location | None, ref: ValueOrigin) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(file)}}
    physical["region"] = (
        {
            "startLine": region.start_line,
            "startColumn": region.start_column,
            "endLine": region.end_line,
            "endColumn": region.end_column,
        }
        if region is not None
        else {"startLine": 1}
    )
    path = json_path_text(ref.path or (), ascii_only=False)
    return {
        "physicalLocation": physical,
        "logicalLocations": [{"fullyQualifiedName": path, "kind": "member"}],
        "message": {"text": " ".join(part for part in (f"{ref.input} {path}", ref.detail()) if part)},
    }


def rule_location(location: Location | None, message: str, ident: int) -> dict[str, Any] | None:
    """Where a condition is in its rule file, as a SARIF related location."""
    if location is None:
        return None
    return {
        "id": ident,
        "message": {"text": message},
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(location.file)},
            "region": {"startLine": location.start_line, "startColumn": location.start_column},
        },
    }


@frozen
class SeenDevice:
    """One device a finding on device facts points at: its name, its row, where the fact is in
    its records (``place.file`` "" for the fleet file) and what its condition says."""

    subject: str
    row: int
    place: RecordPlace
    sentence: str


class RecordLines:
    """The records device findings point at, read back once each, after the run, only for the
    few devices shown (``read``, then ``location`` for each): with its byte offset a line is one
    seek away (a snapshot's joined files); the fleet file's lines are read in one pass up to the
    last one wanted."""

    def __init__(self, inputs: Sequence[InputRecord], read_text: ReadText | None = None) -> None:
        self.read_text = read_text
        self._array: SourceText | None = None
        fleet = next((i.file for i in inputs if i.kind == "fleet"), None)
        self.fleet = fleet if fleet is not None and fleet != STANDARD_INPUT else None
        self.known = {i.file for i in inputs}
        self._more: dict[str, str] = {}
        self._lines: dict[tuple[str, int], str | None] = {}
        self._regions: dict[tuple, dict[str, int]] = {}
        self._format: str | None = None

    def location(self, seen: SeenDevice) -> dict[str, Any] | None:
        """``seen``'s location: its record's line, and the column of the fact's key when the
        record gives it by name (no snippet: a record can hold a secret)."""
        file = seen.place.file or self.fleet
        if file is None:
            return None
        if file not in self.known:
            self._more.setdefault(file, f"{Path(file).name} (joined device records)")
        kind = self._fleet_format() if not seen.place.file else "jsonl"
        path = (seen.row - 1, *(seen.place.path or ())) if kind == "array" else seen.place.path or ()
        region = self._element_region(file, path) if kind == "array" else self._line_region(file, seen.place, kind)
        location: dict[str, Any] = {
            "physicalLocation": {"artifactLocation": {"uri": artifact_uri(file)}, "region": region},
            "message": {"text": f"{seen.subject}, row {seen.row}: {seen.sentence}"},
        }
        if path and kind != "csv":  # a JSON path names a member of a JSON record, not a CSV cell
            member = {"fullyQualifiedName": json_path_text(path, ascii_only=False), "kind": "member"}
            location["logicalLocations"] = [member]
        return location

    def files(self) -> list[tuple[str, str]]:
        """The files pointed at beyond the inputs (a snapshot's joined records), as (uri, description)."""
        return [(artifact_uri(file), text) for file, text in self._more.items()]

    def _line_region(self, file: str, place: RecordPlace, kind: str) -> dict[str, int]:
        """A JSON Lines record's line, with the key's columns; a CSV row's line (each found once:
        a device's fact is often the finding of several rules)."""
        key = (file, place.line, place.path, kind)
        region = self._regions.get(key)
        if region is None:
            region = self._regions[key] = {"startLine": place.line}
            text = self._line(file, place) if kind == "jsonl" and place.path else None
            if text is not None and place.path:
                region.update(_key_columns(text, place.path, place.line))
        return dict(region)

    def _element_region(self, file: str, path: tuple) -> dict[str, int]:
        """An element of a JSON array fleet (its number is no line): the value located in the file's text."""
        if self._array is None:
            self._array = Locator((), self.read_text).text(file) or SourceText("", file)
        try:
            start, end, _ = locate_json_offsets(self._array.text, path)
        except ValueError:
            return {"startLine": 1}
        where = self._array.location(Span(start, end))
        return {
            "startLine": where.start_line,
            "startColumn": where.start_column,
            "endLine": where.end_line,
            "endColumn": where.end_column,
        }

    def read(self, seen: Iterable[SeenDevice]) -> None:
        """Read the lines the locations of ``seen`` need: those with a byte offset by a seek each,
        the others (the fleet file's) in one pass over their file, up to the last one wanted."""
        wanted: dict[str, set[int]] = {}
        for device in seen:
            file, place = device.place.file or self.fleet, device.place
            if file is None or not place.path or (not place.file and self._fleet_format() != "jsonl"):
                continue  # no file, no key to find, or a line that is no record
            if place.offset is None:
                wanted.setdefault(file, set()).add(place.line)
            elif (file, place.line) not in self._lines:
                self._lines[(file, place.line)] = _read_line(file, place)
        for file, lines in wanted.items():
            self._lines.update(((file, number), text) for number, text in _read_lines(file, lines))

    def _line(self, file: str, place: RecordPlace) -> str | None:
        key = (file, place.line)
        if key not in self._lines:  # not read ahead (``read``): read now
            self._lines[key] = _read_line(file, place)
        return self._lines[key]

    def _fleet_format(self) -> str:
        if self._format is None:
            self._format = _file_format(self.fleet) if self.fleet is not None else "jsonl"
        return self._format


def _key_columns(text: str, path: JsonPath, line: int) -> dict[str, int]:
    """The columns of the member at ``path`` in a one-line JSON record (none when it is not there)."""
    try:
        start, end, depth = locate_json_offsets(text, path)
    except ValueError:  # not JSON after all: its line only
        return {}
    return {"startColumn": start + 1, "endLine": line, "endColumn": end + 1} if depth == len(path) else {}


def _read_line(file: str, place: RecordPlace) -> str | None:
    """Line ``place.line`` of ``file`` (from its byte offset when known), or None when it cannot be read."""
    try:
        with open(file, "rb") as stream:
            if place.offset is not None:
                stream.seek(place.offset)
                raw = stream.readline()
            else:
                raw = next(itertools.islice(stream, place.line - 1, None), b"")
    except OSError:
        return None
    return _decoded(raw, place.line)


def _read_lines(file: str, wanted: set[int]) -> list[tuple[int, str | None]]:
    """The lines numbered in ``wanted`` of ``file``, read in one pass that stops at the last one."""
    found: list[tuple[int, str | None]] = []
    try:
        with open(file, "rb") as stream:
            for number, raw in enumerate(itertools.islice(stream, max(wanted)), 1):
                if number in wanted:
                    found.append((number, _decoded(raw, number)))
    except OSError:
        return found
    return found


def _decoded(raw: bytes, number: int) -> str | None:
    """A record's line as text (None when it is not UTF-8: then no column is found in it)."""
    try:
        return raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return None


def _file_format(file: str) -> str:
    """How the fleet file was read (``reading.fleet_format``), from its first byte that is not white space."""
    try:
        with open(file, "rb") as stream:
            head = stream.read(_HEAD).lstrip()[:1]
    except OSError:
        return "jsonl"
    return fleet_format(file, head)


_HEAD = 1 << 16
