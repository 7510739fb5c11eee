"""Places: rule text with its name (spans, line/column arithmetic, caret snippets, ``Location``)
and places in an input (``InputPlace``: a file and, in it, a JSON path as segments;
``RecordPlace``: a record of a JSON Lines or CSV file by its line)."""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Sequence

from attrs import field, frozen

Segment = str | int
JsonPath = tuple[Segment, ...]  # a JSON path below the root ``$``: member names and array indexes

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Za-z_]\w*")


def json_path_text(segments: Sequence[Segment], *, ascii_only: bool = True) -> str:
    """``$.a.b``, ``$.a[0]``, ``$["@odata.type"]``: a name that is not an identifier is quoted.

    ``ascii_only`` (how inputs' paths are written) quotes any non-ASCII name with JSON escapes;
    otherwise (SARIF's logical locations) a Unicode identifier stays bare and a quoted name keeps
    its characters. The one writer of JSON paths (``jsonpath`` reads them back).
    """
    bare, out = (_NAME if ascii_only else _WORD), ["$"]
    for segment in segments:
        if isinstance(segment, int):
            out.append(f"[{segment}]")
        elif bare.fullmatch(segment):
            out.append(f".{segment}")
        else:
            out.append(f"[{json.dumps(segment, ensure_ascii=ascii_only)}]")
    return "".join(out)


@frozen
class Span:
    """A half-open range of character offsets ``[start, end)`` into one source text."""

    start: int
    end: int

    def cover(self, other: Span) -> Span:
        """The smallest span that holds both spans."""
        return Span(min(self.start, other.start), max(self.end, other.end))


@frozen
class Location:
    """A place in rule text or an input file: 1-based lines and columns; the end column is just
    after the last character (exclusive). Analysis findings, diagnostics and SARIF regions use it."""

    file: str
    start_line: int
    start_column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.start_line}:{self.start_column}"


@frozen
class InputPlace:
    """A place in an input that is not rule text, as a diagnostic names it: the input file, and
    in it a JSON path as segments (with the ADMX ``<data id=…>`` inside the value there), or, in
    another kind of input (the vocabulary's TOML), where in words."""

    file: str | None = None
    path: JsonPath | str | None = None
    data_id: str | None = None

    def path_text(self) -> str | None:
        """``$.omaSettings[4].value <data id=Pin>`` (None when the place is the whole file)."""
        if self.path is None or isinstance(self.path, str):
            return self.path
        written = json_path_text(self.path)
        return f"{written} {admx_data_text(self.data_id)}" if self.data_id is not None else written


@frozen
class RecordPlace:
    """A record of a line-per-record file (a fleet's or a snapshot's JSON Lines, a CSV row) and a
    value in it: ``file`` ("" for the fleet file itself, which the reader does not name), the
    record's 1-based ``line``, its byte ``offset`` when the reader kept it (a line is then read
    back with one seek), and the value's JSON ``path`` in the record (None: the record as a whole)."""

    file: str
    line: int
    offset: int | None = None
    path: JsonPath | None = None


def admx_data_text(data_id: str) -> str:
    """How a place names the ADMX value inside an OMA-URI payload: ``<data id=Pin>``."""
    return f"<data id={data_id}>"


SNIPPET_WIDTH = 100  # characters of a long line shown around a span


@frozen
class SourceText:
    """The text of one rule file (or JSON input) and the name it is reported under."""

    text: str
    name: str = "<string>"
    _line_starts: tuple[int, ...] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        starts = [0] + [match.end() for match in re.finditer("\n", self.text)]
        object.__setattr__(self, "_line_starts", tuple(starts))

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of an offset; columns count characters, tabs as one."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def location(self, span: Span) -> Location:
        """Where ``span`` is, under this text's name."""
        line, column = self.position(span.start)
        end_line, end_column = self.position(span.end)
        return Location(self.name, line, column, end_line, end_column)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line without its line ending."""
        start = self._line_starts[line - 1]
        end = self._line_starts[line] - 1 if line < len(self._line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r")

    def excerpt(self, span: Span) -> str:
        """The exact text a span covers."""
        return self.text[span.start : span.end]

    def snippet(self, span: Span) -> str:
        """The first line of a span with a caret line under the spanned characters.

        A long line (a minified export is one line) shows only a window around the span.
        """
        line, column = self.position(span.start)
        text = self.line_text(line)
        end_line, end_column = self.position(span.end)
        width = (end_column - column) if end_line == line else len(text) - column + 1
        if len(text) > SNIPPET_WIDTH:
            start = max(0, min(column - 1 - SNIPPET_WIDTH // 3, len(text) - SNIPPET_WIDTH))
            shown = text[start : start + SNIPPET_WIDTH]
            text = ("…" if start else "") + shown + ("…" if start + SNIPPET_WIDTH < len(text) else "")
            column = column - start + (1 if start else 0)
            width = min(width, SNIPPET_WIDTH - column + 2)
        gutter = f"{line:>4} | "
        # Tabs are kept in the caret line so the caret stays under the text.
        pad = "".join(ch if ch == "\t" else " " for ch in text[: column - 1])
        return f"{gutter}{text}\n{' ' * len(gutter)}{pad}{'^' * max(1, width)}"
