"""A JSON Lines fleet file cut into ranges of whole lines, for ``--jobs`` workers to read themselves.

Each range ends just after a line end (or at the end of the file), so no line is split between
two workers; a line longer than the range's size makes its range longer. The lines before each
range are counted here as the ranges are cut (``bytes.count`` over bytes the system has cached),
so a worker numbers its rows exactly as one process reading the whole file would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from attrs import frozen

from .rows import jsonl_text_start

RANGE_BYTES = 4 << 20  # small enough that the processes finish close together, large enough to cost little each
MIN_RANGE_BYTES = 64 << 10  # a smaller file is cut into ranges no smaller than this
RANGES_PER_PROCESS = 8  # a file smaller than this many full ranges per process gets smaller ones


@frozen
class LineRange:
    """Bytes ``start`` to ``end`` of a fleet file, whole lines, with ``before`` lines ahead of them."""

    start: int
    end: int
    before: int


def line_ranges(path: str | Path, processes: int) -> Iterator[LineRange] | None:
    """The ranges of lines of the fleet file ``path`` for ``processes`` processes to share, cut
    lazily in file order; None when the file cannot be read by ranges (not a regular file, not
    JSON Lines in UTF-8: ``jsonl_text_start``)."""
    start = jsonl_text_start(path)
    if start is None:
        return None
    return _cut(str(path), start, range_size(os.stat(path).st_size, processes))


def range_size(file_size: int, processes: int) -> int:
    """How many bytes a range holds (before it is cut at a line end): ``RANGE_BYTES``, or less
    for a small file, so each process still gets several ranges to balance the work."""
    return max(MIN_RANGE_BYTES, min(RANGE_BYTES, file_size // (RANGES_PER_PROCESS * processes)))


def _cut(path: str, start: int, size: int) -> Iterator[LineRange]:
    before = 0
    with open(path, "rb") as stream:
        fd = stream.fileno()
        while chunk := os.pread(fd, size, start):
            cut = chunk.rfind(b"\n") + 1
            if cut:
                lines = chunk.count(b"\n", 0, cut)
            else:  # one line longer than a range (or the file's last line): up to its end
                cut, lines = _line_end(fd, start + len(chunk), size)
                cut += len(chunk)
            yield LineRange(start, start + cut, before)
            start += cut
            before += lines


def _line_end(fd: int, offset: int, size: int) -> tuple[int, int]:
    """How many bytes from ``offset`` up to and including the next line end (to the end of the
    file if there is none), and how many line ends that is (1 or 0). Nothing is kept: a line of
    any length costs one chunk of memory."""
    length = 0
    while chunk := os.pread(fd, size, offset + length):
        end = chunk.find(b"\n")
        if end >= 0:
            return length + end + 1, 1
        length += len(chunk)
    return length, 0
