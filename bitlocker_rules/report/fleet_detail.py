"""What a fleet report shows beyond the counters, collected as the fleet streams, in bounded memory.

``WorstDevices`` keeps the N device records (as ``fleet.device_record`` makes them) with the
most failed rules; ``RuleExamples`` keeps, per rule, the first outcome that failed and the
first that was unknown, so a report can explain a rule once with its settings, rule text and
fix. Both hold at most a fixed number of items however many devices pass through; each can
``take`` what it gathered in a worker process and ``merge`` it in the reading process, with
the same result as one process. ``FleetDetail`` is both, as the HTML and Markdown reports'
collector.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from ..outcome import Report, RuleOutcome, Status

DEFAULT_LIMIT = 50


def badness(record: Mapping[str, Any]) -> tuple[int, int]:
    """How bad a device record is: (failed rules, unknown rules)."""
    summary = record.get("summary") or {}
    return int(summary.get("fail", 0)), int(summary.get("unknown", 0))


class WorstDevices:
    """The ``limit`` device records with the most failed (then unknown) rules, earliest rows first on ties.

    Only devices that failed at least one rule are kept. Records are ordered by their row
    number on ties, so parts gathered by several processes merge into the same choice.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = max(0, limit)
        self._heap: list[tuple[tuple[int, int], int, dict]] = []
        self._order = itertools.count()
        self._new: set[int] = set()  # rows kept since the last take()

    def keeps(self, key: tuple[int, int], row: int) -> bool:
        """Whether a device this bad, at this row, would be kept now (its record need not be made otherwise)."""
        return self._counts(key) and self._beats(key, -row)

    def add(self, record: Mapping[str, Any]) -> None:
        """Offer one device record; devices that failed no rule are not kept."""
        key = badness(record)
        if not self._counts(key):
            return
        row = record.get("row")
        order = -(row if isinstance(row, int) else next(self._order))  # later rows lose ties
        if not self._beats(key, order):
            return
        item = (key, order, dict(record))
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, item)
        else:
            heapq.heapreplace(self._heap, item)
        self._new.add(order)

    def _counts(self, key: tuple[int, int]) -> bool:
        """Whether a device this bad can be kept at all: it failed a rule, and the limit keeps any."""
        return key[0] != 0 and self.limit != 0

    def _beats(self, key: tuple[int, int], order: int) -> bool:
        """Whether it would be kept now: there is room, or it is worse than the least bad kept
        (the heap's smallest item)."""
        return len(self._heap) < self.limit or (key, order) > self._heap[0][:2]

    def devices(self) -> list[dict]:
        """The kept records, worst first."""
        return [record for _, _, record in sorted(self._heap, key=lambda i: i[:2], reverse=True)]

    def take(self) -> list[dict]:
        """The records that came in since the last take and are still kept (for ``merge``)."""
        taken = [record for _, order, record in self._heap if order in self._new]
        self._new.clear()
        return taken

    def merge(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Offer the records another process took."""
        for record in records:
            self.add(record)


def worst_devices(records: Iterable[Mapping[str, Any]] | None, limit: int = DEFAULT_LIMIT) -> list[dict]:
    """At most ``limit`` of ``records``, worst first (see ``WorstDevices``)."""
    keep = WorstDevices(limit)
    for record in records or ():
        keep.add(record)
    return keep.devices()


class RuleExamples:
    """Per rule, the first failing and the first unknown outcome seen, with their reasons."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str, Status], RuleOutcome] = {}
        self._new: list[tuple[str, str, Status]] = []  # kept since the last take()

    def add(self, report: Report) -> None:
        """Look at one device's outcomes."""
        for outcome in report.outcomes:
            if outcome.status in (Status.FAIL, Status.UNKNOWN) and outcome.reasons:
                key = (outcome.ruleset, outcome.rule, outcome.status)
                if key not in self._kept:
                    self._kept[key] = outcome
                    self._new.append(key)

    def wants(self, outcomes: Iterable[RuleOutcome]) -> bool:
        """Whether any of these failed or unknown outcomes would be a new example."""
        kept = self._kept
        return any((o.ruleset, o.rule, o.status) not in kept and o.reasons for o in outcomes)

    def outcomes(self) -> list[RuleOutcome]:
        """The kept outcomes, in the order they were first seen."""
        return list(self._kept.values())

    def take(self) -> list[RuleOutcome]:
        """The outcomes kept since the last take (for ``merge``)."""
        taken = [self._kept[key] for key in self._new]
        self._new.clear()
        return taken

    def merge(self, outcomes: Iterable[RuleOutcome]) -> None:
        """Keep the outcomes another process took, unless one is kept already."""
        self.add(Report("", tuple(outcomes)))


class FleetDetail:
    """What the HTML and Markdown fleet reports keep beyond the counters: the worst devices and
    an example of each rule's failure. A collector (``fleet.parallel.Collector``): it takes each
    device's result, and asks for the whole report only when it holds a new example."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.worst = WorstDevices(limit)
        self.examples = RuleExamples()

    def add(self, result: Any) -> None:
        """Take one device's result (a ``fleet.DeviceResult``)."""
        if self.worst.keeps(result.badness, result.number):
            self.worst.add(result.record())
        if self.examples.wants(result.outcomes):
            self.examples.add(result.report())

    def take(self) -> tuple[list[dict], list[RuleOutcome]]:
        """What was gathered since the last take."""
        return self.worst.take(), self.examples.take()

    def merge(self, part: tuple[list[dict], list[RuleOutcome]]) -> None:
        """Add what another process gathered (parts in row order)."""
        records, outcomes = part
        self.worst.merge(records)
        self.examples.merge(outcomes)


def examples_by_rule(examples: Iterable[RuleOutcome]) -> dict[tuple[str, Status], RuleOutcome]:
    """Example outcomes indexed by (rule id, status)."""
    found: dict[tuple[str, Status], RuleOutcome] = {}
    for outcome in examples or ():
        found.setdefault((outcome.rule, outcome.status), outcome)
    return found


def reasons_by_rule(reason_counts: Mapping[str, int]) -> dict[str, list[tuple[str, int]]]:
    """A fleet's failure reasons (``"SE-02: OS version is 1803"``) grouped by rule, most frequent first."""
    grouped: dict[str, list[tuple[str, int]]] = {}
    for reason, count in reason_counts.items():
        rule, _, text = reason.partition(": ")
        grouped.setdefault(rule, []).append((text or reason, count))
    for items in grouped.values():
        items.sort(key=lambda item: (-item[1], item[0]))
    return grouped


def split_reason(reason: str) -> tuple[str, str]:
    """``"SE-02: OS version is 1803"`` as ``("SE-02", "OS version is 1803")``."""
    rule, sep, text = reason.partition(": ")
    return (rule, text) if sep else ("", reason)


def sorted_conflicts(conflicts: Iterable[Any]) -> list[Any]:
    """A fleet's policy conflicts (``fleet.FleetConflict``): most devices first, then by setting."""
    return sorted(conflicts or (), key=lambda c: (-c.devices, c.record.label, c.record.fact, c.record.values))


def fleet_scenarios(summary: Any) -> list[Any]:
    """The scenarios a fleet report shows: those with a device in or out of scope (a scenario
    nothing showed for any device says nothing about the fleet)."""
    return [s for s in getattr(summary, "scenarios", ()) if s.in_scope or s.out_of_scope]
