"""A JSON Lines fleet file cut into ranges of whole lines, for ``--jobs`` workers to read themselves.

Each range ends just after a line end (or at the end of the file), so no line is split between
two workers; a line longer than the range's size makes its range longer. The lines before each
range are counted here as the ranges are cut (``bytes.count`` over bytes the system has cached),
so a worker numbers its rows exactly as one process reading the whole file would.

The sizes follow how ``parallel`` runs them. The first range is small: the reading process
evaluates it alone, before the workers are forked warm from it, so it is time no other process
works. Then ranges are large (cheap per row), and toward the end each holds a small share of
what is left, so the processes finish close together: the last ranges, which a process may wait
for another to finish, are small (guided self-scheduling).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from attrs import frozen

from .rows import jsonl_text_start

RANGE_BYTES = 4 << 20  # the largest range: large enough to cost little per row
MIN_RANGE_BYTES = 64 << 10  # the smallest (a longer line makes its range longer): the processes end this close
FIRST_RANGE_BYTES = 256 << 10  # evaluated before the workers start: enough rows to warm most of what they inherit
SHARES_LEFT = 2  # a range holds at most 1 / (SHARES_LEFT * processes) of the bytes still to cut


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
    return _cut(str(path), start, processes)


def range_size(left: int, processes: int, *, first: bool = False) -> int:
    """How many bytes the next range holds (before it is cut at a line end), with ``left`` bytes
    of the file still to cut: a share of them, between ``MIN_RANGE_BYTES`` and ``RANGE_BYTES``
    (``FIRST_RANGE_BYTES`` at most for the first range)."""
    largest = min(RANGE_BYTES, FIRST_RANGE_BYTES) if first else RANGE_BYTES
    return max(MIN_RANGE_BYTES, min(largest, left // (SHARES_LEFT * processes)))


def _cut(path: str, start: int, processes: int) -> Iterator[LineRange]:
    before = 0
    with open(path, "rb") as stream:
        fd = stream.fileno()
        end = os.fstat(fd).st_size  # as cutting starts (lines added meanwhile are cut in the smallest ranges)
        size = range_size(end - start, processes, first=True)
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
            size = range_size(end - start, processes)


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
