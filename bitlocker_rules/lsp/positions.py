"""Offsets into a text ↔ LSP positions: 0-based lines, and characters counted in the code units
the client and server agreed on (UTF-16 unless negotiated otherwise, as LSP requires)."""

from __future__ import annotations

import bisect
import re

from attrs import field, frozen
from lsprotocol import types

from ..source import Span

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def units(text: str, encoding: str = UTF16) -> int:
    """How many code units ``text`` is in ``encoding`` (a character above U+FFFF is two in UTF-16)."""
    if encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


@frozen
class LineIndex:
    """Where each line of a text starts, to turn offsets into positions and back."""

    text: str
    _starts: tuple[int, ...] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        object.__setattr__(self, "_starts", tuple(starts))

    def position(self, offset: int, encoding: str = UTF16) -> tuple[int, int]:
        """The 0-based line and character (in ``encoding`` units) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._starts, offset) - 1
        return line, units(self.text[self._starts[line] : offset], encoding)

    def offset(self, line: int, character: int, encoding: str = UTF16) -> int:
        """The character offset of an LSP position; past the end of a line is its end (as LSP says)."""
        if line >= len(self._starts):
            return len(self.text)
        start = self._starts[max(0, line)]
        end = self._starts[line + 1] - 1 if line + 1 < len(self._starts) else len(self.text)
        counted, offset = 0, start
        while offset < end and counted < character:
            counted += units(self.text[offset], encoding)
            offset += 1
        return offset

    def offset_of_column(self, line: int, column: int) -> int:
        """The offset of a 1-based line and character column, as ``source.Location`` counts them."""
        if line - 1 >= len(self._starts):
            return len(self.text)
        return min(self._starts[max(0, line - 1)] + max(0, column - 1), len(self.text))

    def range(self, span: Span, encoding: str = UTF16) -> types.Range:
        """The LSP range of a span's characters."""
        start, end = self.position(span.start, encoding), self.position(span.end, encoding)
        return types.Range(types.Position(*start), types.Position(*end))
