"""Verdict codes: what a compiled verdict function returns for each rule, named.

The compiled functions return plain ints and the hot paths compare ints (an ``IntEnum``
member is an int, so ``code == Verdict.FAIL`` holds for a plain 1); the enum is for readers
and for the records that turn a code into a ``Status``.
"""

from __future__ import annotations

from enum import IntEnum

from .outcome import Status


class Verdict(IntEnum):
    """One rule's verdict code: an index into ``STATUSES``."""

    PASS = 0
    FAIL = 1
    UNKNOWN = 2
    NOT_APPLICABLE = 3

    @property
    def status(self) -> Status:
        """The report's status for this code."""
        return STATUSES[self]


# By verdict code: the status a code stands for.
STATUSES: tuple[Status, ...] = (Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE)
# By status: its verdict code.
CODES: dict[Status, Verdict] = {status: Verdict(code) for code, status in enumerate(STATUSES)}
# The codes of the rules a report explains by default: those that neither passed nor do not apply.
OPEN = frozenset((Verdict.FAIL, Verdict.UNKNOWN))
