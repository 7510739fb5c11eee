"""Fleets: read devices as a stream (JSON Lines, a JSON array, CSV), evaluate each, summarise.

Memory stays flat as the fleet grows: rows are read one at a time, results are written as
they are made, and only counters are kept. Explanations are memoised per rule and per
combination of the values the rule reads, so a fleet of similar devices pays for the
interpreter once per distinct situation, not once per device.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from attrs import field, frozen

from .engine import Engine
from .errors import BitLockerRulesError, Diagnostic, InputError, redact
from .facts import Facts, facts_from_mapping, merge_facts
from .outcome import Report, Status

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
class RuleTally:
    """How many devices ended with each verdict for one rule."""

    ruleset: str
    rule: str
    title: str
    severity: str
    counts: Mapping[str, int]


@frozen
class FleetSummary:
    """Counts per rule, failure reasons with their counts, and the rows that could not be read."""

    devices: int
    rules: tuple[RuleTally, ...]
    reason_counts: Mapping[str, int]
    bad_rows: tuple[BadRow, ...] = ()
    failed_devices: int = 0

    @property
    def exit_code(self) -> int:
        """2 if a row was bad, else 1 if any device failed a rule, else 0."""
        return 2 if self.bad_rows else (1 if self.failed_devices else 0)

    def top_reasons(self, limit: int = 10) -> list[tuple[str, int]]:
        """The most common failure reasons, most frequent first."""
        return Counter(self.reason_counts).most_common(limit)

    def merge(self, other: FleetSummary) -> FleetSummary:
        """The summary of both parts of a fleet (same rulesets, rows in order)."""
        rules = tuple(
            RuleTally(a.ruleset, a.rule, a.title, a.severity, {k: a.counts[k] + b.counts[k] for k in a.counts})
            for a, b in zip(self.rules, other.rules)
        )
        reasons = Counter(self.reason_counts)
        reasons.update(other.reason_counts)
        return FleetSummary(self.devices + other.devices, rules, dict(reasons),
                            self.bad_rows + other.bad_rows, self.failed_devices + other.failed_devices)


# --- reading --------------------------------------------------------------------------


def read_fleet(path: str | Path) -> Iterator[FleetRow]:
    """Rows of a fleet file, streamed; the format comes from the extension or the first byte."""
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
            yield from _jsonl_rows(handle)


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


def _jsonl_rows(handle: TextIO) -> Iterator[FleetRow]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield FleetRow(number, json.loads(line))
        except json.JSONDecodeError as exc:
            yield FleetRow(number, BadRow(number, f"line {number}, column {exc.colno}: malformed JSON: {exc.msg}"))


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
            if not exhausted and len(buffer) - position < _MAX_ELEMENT:
                buffer, position, exhausted = _refill(handle, buffer, position)
                continue
            yield FleetRow(number + 1, BadRow(
                number + 1, f"element {number + 1}: malformed JSON: {exc.msg}; the rest of the array was not read"))
            return
        number += 1
        yield FleetRow(number, value)
        position = end


def _refill(handle: TextIO, buffer: str, position: int) -> tuple[str, int, bool]:
    more = handle.read(_CHUNK)
    return buffer[position:] + more, 0, not more


def _skip(buffer: str, position: int) -> int:
    while position < len(buffer) and (buffer[position].isspace() or buffer[position] == ","):
        position += 1
    return position


# --- evaluating ---------------------------------------------------------------------------


DeviceReader = Callable[[Any, Engine, int], Facts]


def device_facts(data: Any, engine: Engine, number: int) -> Facts:
    """A fleet row as device facts: ``{"facts": {...}}`` or a flat ``{fact name: value}`` row."""
    if not isinstance(data, dict):
        raise InputError([Diagnostic("I301", "expected a JSON object for one device")])
    name = str(data.get("deviceName") or data.get("id") or f"row {number}")
    raw = data["facts"] if isinstance(data.get("facts"), dict) else {
        k: v for k, v in data.items() if k not in ("id", "deviceName")
    }
    return facts_from_mapping(raw, engine.vocabulary, origin="", name=f"device {name!r}",
                              allowed=("device", "actor", "action", "tenant"))


def fleet_device(data: Any, engine: Engine, number: int) -> Facts:
    """A fleet row in any device format: the project's rows fast, Graph records through the importers."""
    if isinstance(data, dict) and _own_row(data, engine):
        return device_facts(data, engine, number)
    from .importers import import_device

    return import_device(data, engine.vocabulary, origin=f"row {number}").facts


def _own_row(data: dict, engine: Engine) -> bool:
    if isinstance(data.get("facts"), dict):
        return True
    facts = engine.vocabulary.facts
    return all(k in ("id", "deviceName") or k in facts or f"device.{k}" in facts for k in data)


def evaluate_fleet(
    rows: Iterable[FleetRow],
    engine: Engine,
    policy: Facts | None = None,
    *,
    write: Callable[[dict], None] | None = None,
    progress: Callable[[int], None] | None = None,
    reader: DeviceReader = device_facts,
    record: Callable[[int, Report], Any] | None = None,
) -> FleetSummary:
    """Evaluate every row; ``write`` gets one result per device as it is made.

    The result is ``record(row number, report)``: by default ``device_record``'s JSON-ready
    record; a renderer that needs the whole report passes its own (a module-level function,
    so that ``evaluate_fleet_parallel`` can send it to the worker processes).
    """
    sources = record is not None  # the default record does not show where values came from
    record = record or device_record
    tally = _Tally(engine)
    for row in rows:
        report = _evaluate_row(row, engine, policy, reader, tally, sources)
        if report is not None and write is not None:
            write(record(row.number, report))
        if progress is not None:
            progress(tally.devices + len(tally.bad_rows))
    return tally.summary()


def _evaluate_row(row: FleetRow, engine, policy, reader, tally, sources: bool = True) -> Report | None:
    if isinstance(row.data, BadRow):
        tally.bad_rows.append(row.data)
        return None
    try:
        device = reader(row.data, engine, row.number)
    except BitLockerRulesError as exc:
        tally.bad_rows.append(BadRow(row.number, redact("; ".join(_row_problem(d) for d in exc.diagnostics))))
        return None
    facts = merge_facts([policy, device], name=device.name) if policy else device
    report = engine.evaluate(facts, subject=device.name, sources=sources)
    tally.add(report)
    return report


def _row_problem(d: Diagnostic) -> str:
    where = f"{d.path}: " if d.path else ""
    return f"{where}{d.message}" + (f" ({d.help})" if d.help else "")


def device_record(number: int, report: Report) -> dict:
    """The JSON Lines record for one device: its verdicts and reasons for rules that did not pass."""
    counts = Counter(o.status.value for o in report.outcomes)
    return {
        "row": number,
        "device": report.subject,
        "summary": {s.value: counts.get(s.value, 0) for s in Status},
        "results": [
            {"rule": o.rule, "status": o.status.value,
             **({"reasons": [c.sentence() for c in o.reasons]} if o.status in (Status.FAIL, Status.UNKNOWN) else {})}
            for o in report.outcomes
        ],
    }


@frozen
class _Tally:
    engine: Engine
    counts: dict = field(factory=dict)
    reasons: Counter = field(factory=Counter)
    bad_rows: list = field(factory=list)
    totals: list = field(factory=lambda: [0, 0])  # devices, failed devices

    @property
    def devices(self) -> int:
        return self.totals[0]

    def add(self, report: Report) -> None:
        self.totals[0] += 1
        failed = False
        for outcome in report.outcomes:
            key = (outcome.ruleset, outcome.rule, outcome.status.value)
            self.counts[key] = self.counts.get(key, 0) + 1
            if outcome.status is Status.FAIL:
                failed = True
                for condition in outcome.reasons:
                    self.reasons[f"{outcome.rule}: {condition.label} is {condition.actual}"] += 1
        self.totals[1] += failed

    def summary(self) -> FleetSummary:
        rules = []
        for loaded in self.engine.rulesets:
            for rule in loaded.rules:
                counts = {s.value: self.counts.get((loaded.id, rule.id, s.value), 0) for s in Status}
                rules.append(RuleTally(loaded.id, rule.id, rule.title, rule.severity, counts))
        return FleetSummary(self.totals[0], tuple(rules), dict(self.reasons),
                            tuple(self.bad_rows), self.totals[1])


def write_jsonl(stream: io.TextIOBase) -> Callable[[dict], None]:
    """A ``write`` callback that appends one JSON line per record, secrets masked."""
    def write(record: dict) -> None:
        stream.write(redact(json.dumps(record, ensure_ascii=False)) + "\n")

    return write


# --- several processes ------------------------------------------------------------------------

_BATCH = 500
_worker_state: dict = {}


def evaluate_fleet_parallel(
    rows: Iterable[FleetRow],
    jobs: int,
    make_engine: Callable[[], tuple[Engine, Facts | None]],
    *,
    write: Callable[[dict], None] | None = None,
    progress: Callable[[int], None] | None = None,
    reader: DeviceReader = device_facts,
    record: Callable[[int, Report], Any] | None = None,
) -> FleetSummary:
    """``evaluate_fleet`` over ``jobs`` processes; rows are read and results written in order.

    At most ``2 * jobs`` batches are in flight, so memory stays flat however large the fleet.
    ``make_engine`` must be picklable (a module-level function or a functools.partial of one).
    """
    from concurrent.futures import ProcessPoolExecutor

    summary: FleetSummary | None = None
    done = 0
    with ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(make_engine,)) as pool:
        pending = []
        for batch in _batches(rows, _BATCH):
            pending.append(pool.submit(_run_batch, batch, reader, record))
            if len(pending) >= 2 * jobs:
                summary, done = _collect(pending.pop(0), summary, done, write, progress)
        for future in pending:
            summary, done = _collect(future, summary, done, write, progress)
    if summary is None:
        engine, _ = make_engine()
        summary = _Tally(engine).summary()
    return summary


def _batches(rows: Iterable[FleetRow], size: int) -> Iterator[list[FleetRow]]:
    batch: list[FleetRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _collect(future, summary, done, write, progress):
    part, records = future.result()
    if write is not None:
        for record in records:
            write(record)
    done += part.devices + len(part.bad_rows)
    if progress is not None:
        progress(done)
    return (part if summary is None else summary.merge(part)), done


def _start_worker(make_engine) -> None:
    _worker_state["engine"], _worker_state["policy"] = make_engine()


def _run_batch(batch: list[FleetRow], reader: DeviceReader, record=None) -> tuple[FleetSummary, list]:
    records: list = []
    summary = evaluate_fleet(batch, _worker_state["engine"], _worker_state["policy"], write=records.append,
                             reader=reader, record=record)
    return summary, records
