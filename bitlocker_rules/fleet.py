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

from attrs import frozen

from . import nodes as n
from .assignments import AssignedPolicies
from .engine import Engine, conflict_record, mark_conflicts, policy_view
from .errors import BitLockerRulesError, Diagnostic, InputError, redact
from .facts import Facts, apply_grants, facts_from_mapping, merge_facts
from .outcome import ConflictRecord, Report, RuleOutcome, Status

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


@frozen
class RuleTally:
    """How many devices ended with each verdict for one rule."""

    ruleset: str
    rule: str
    title: str
    severity: str
    counts: Mapping[str, int]


@frozen
class FleetConflict:
    """A setting the policies assigned to some devices disagree on, and how many devices get it."""

    record: ConflictRecord
    devices: int


@frozen
class FleetSummary:
    """Counts per rule, failure reasons with their counts, policy conflicts, and the rows not read."""

    devices: int
    rules: tuple[RuleTally, ...]
    reason_counts: Mapping[str, int]
    bad_rows: tuple[BadRow, ...] = ()
    failed_devices: int = 0
    conflicts: tuple[FleetConflict, ...] = ()

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
        conflicts = Counter({c.record: c.devices for c in self.conflicts})
        conflicts.update({c.record: c.devices for c in other.conflicts})
        return FleetSummary(self.devices + other.devices, rules, dict(reasons),
                            self.bad_rows + other.bad_rows, self.failed_devices + other.failed_devices,
                            tuple(FleetConflict(r, n) for r, n in conflicts.items()))


# --- reading --------------------------------------------------------------------------


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


# --- evaluating ---------------------------------------------------------------------------


DeviceReader = Callable[[Any, Engine, int], Facts]


def device_facts(data: Any, engine: Engine, number: int) -> Facts:
    """A fleet row as device facts: ``{"facts": {...}}`` or a flat ``{fact name: value}`` row."""
    if not isinstance(data, dict):
        raise InputError([Diagnostic("I301", "expected a JSON object for one device")])
    raw = data["facts"] if isinstance(data.get("facts"), dict) else {
        k: v for k, v in data.items() if k not in ("id", "deviceName")
    }
    return facts_from_mapping(raw, engine.vocabulary, origin="", name=device_subject(data, number),
                              allowed=_DEVICE_NAMESPACES)


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
    policy: Facts | AssignedPolicies | None = None,
    *,
    write: Callable[[dict], None] | None = None,
    progress: Callable[[int], None] | None = None,
    reader: DeviceReader = device_facts,
    record: Callable[[int, Report], Any] | None = None,
    encode: Callable[[Any], Any] | None = None,
) -> FleetSummary:
    """Evaluate every row; ``write`` gets one result per device as it is made.

    ``policy`` is the policy facts every device shares, or ``AssignedPolicies`` saying which
    policies each device gets (from an assignment file).

    The result is ``record(row number, report)``. By default it is ``device_record``'s
    JSON-ready record, made from verdict codes without building a Report (the records share
    their per-rule entries: treat them as read-only). A renderer that needs the whole report
    passes its own ``record``. ``encode``, when given, turns each result into what ``write``
    gets (``json_line`` for JSON Lines); ``evaluate_fleet_parallel`` runs it in the worker
    processes, so both must be module-level functions there.
    """
    codes = _VerdictPath(engine, policy) if record is None else None
    return _evaluate_rows(rows, engine, policy, codes, write, progress, reader, record, encode)


def _evaluate_rows(rows, engine, policy, codes, write, progress, reader, record, encode) -> FleetSummary:
    tally = _Tally(engine)
    for row in rows:
        result = _evaluate_row(row, engine, policy, reader, tally, codes, record, write is not None)
        if result is not None and write is not None:
            write(encode(result) if encode is not None else result)
        if progress is not None:
            progress(tally.devices + len(tally.bad_rows))
    return tally.summary()


def _evaluate_row(row: FleetRow, engine, policy, reader, tally, codes, record, wanted: bool) -> Any:
    """One row's result (None when it was bad, or when no result is wanted)."""
    if isinstance(row.data, JsonLine):
        row = FleetRow(row.number, _decoded(row.number, row.data.text))
    if isinstance(row.data, BadRow):
        tally.bad_rows.append(row.data)
        return None
    try:
        if codes is not None:
            return codes.evaluate(row, reader, wanted, tally)
        device = reader(row.data, engine, row.number)
    except BitLockerRulesError as exc:
        tally.bad_rows.append(BadRow(row.number, redact("; ".join(_row_problem(d) for d in exc.diagnostics))))
        return None
    report = engine.evaluate(_merged(_policy_for(policy, row.data), device), subject=device.name)
    tally.add(report)
    return record(row.number, report) if wanted else None


def _merged(policy: Facts | None, device: Facts) -> Facts:
    return merge_facts([policy, device], name=device.name) if policy else device


def _row_problem(d: Diagnostic) -> str:
    where = f"{d.path}: " if d.path else ""
    return f"{where}{d.message}" + (f" ({d.help})" if d.help else "")


def device_record(number: int, report: Report) -> dict:
    """The JSON Lines record for one device: its verdicts and reasons for rules that did not pass."""
    counts = Counter(o.status.value for o in report.outcomes)
    return _record(number, report.subject, counts, [outcome_entry(o) for o in report.outcomes])


def _record(number: int, subject: str, counts: Mapping[str, int], results: list[dict]) -> dict:
    return {"row": number, "device": subject, "summary": {s.value: counts.get(s.value, 0) for s in Status},
            "results": results}


class DeviceRecord(dict):
    """A device record (a plain dict to every reader) that also carries the JSON text of each entry.

    The fleet's default path makes these: each distinct per-rule entry is serialised once and
    reused, so writing a JSON line costs a join, not a ``json.dumps`` of every entry.
    """

    __slots__ = ("entry_texts",)

    def __init__(self, record: dict, entry_texts: list[str]) -> None:
        super().__init__(record)
        self.entry_texts = entry_texts

    def json_text(self) -> str:
        """``json.dumps(self, ensure_ascii=False)``, the same text, from the stored entry texts."""
        head = json.dumps({k: v for k, v in self.items() if k != "results"}, ensure_ascii=False)
        return f'{head[:-1]}, "results": [{", ".join(self.entry_texts)}]}}'

    def __reduce__(self):  # worker processes send records back pickled
        return DeviceRecord, (dict(self), self.entry_texts)


def outcome_entry(outcome: RuleOutcome) -> dict:
    """One rule in a device record: its id and status, and reasons when it failed or is unknown."""
    entry = {"rule": outcome.rule, "status": outcome.status.value}
    if outcome.status in (Status.FAIL, Status.UNKNOWN):
        entry["reasons"] = [c.sentence() for c in outcome.reasons]
    return entry


def failure_reasons(outcome: RuleOutcome) -> tuple[str, ...]:
    """How a failed rule counts in the fleet's most common failure reasons."""
    return tuple(f"{outcome.rule}: {c.label} is {c.actual}" for c in outcome.reasons)


_STATUSES = (Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE)  # by verdict code
_CODES = {status: code for code, status in enumerate(_STATUSES)}


class _Tally:
    """A fleet run's counters: per rule (in engine order) devices by verdict code, reasons, bad rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counts = [[0, 0, 0, 0] for loaded in engine.rulesets for _ in loaded.rules]
        self.reasons: Counter = Counter()
        self.bad_rows: list[BadRow] = []
        self.devices = 0
        self.failed_devices = 0
        self.conflicts: Counter = Counter()  # ConflictRecord -> devices that got it

    def add(self, report: Report) -> None:
        """Count one device's report."""
        self.devices += 1
        self.conflicts.update(report.conflicts)
        failed = False
        for counts, outcome in zip(self.counts, report.outcomes):
            counts[_CODES[outcome.status]] += 1
            if outcome.status is Status.FAIL:
                failed = True
                self.reasons.update(failure_reasons(outcome))
        self.failed_devices += failed

    def summary(self) -> FleetSummary:
        """The counters as a FleetSummary."""
        rules = [(loaded.id, rule) for loaded in self.engine.rulesets for rule in loaded.rules]
        tallies = tuple(
            RuleTally(ruleset, rule.id, rule.title, rule.severity, dict(zip((s.value for s in _STATUSES), counts)))
            for (ruleset, rule), counts in zip(rules, self.counts)
        )
        conflicts = tuple(FleetConflict(record, devices) for record, devices in self.conflicts.items())
        return FleetSummary(self.devices, tallies, dict(self.reasons), tuple(self.bad_rows), self.failed_devices,
                            conflicts)


class _Detail:
    """What a fleet needs of one explained outcome: its failure reasons and its record entry."""

    __slots__ = ("outcome", "reasons", "entry", "text")

    def __init__(self, outcome: RuleOutcome, shown: RuleOutcome) -> None:
        self.outcome = outcome  # held, so that its id is not reused while this is cached
        self.reasons = failure_reasons(shown) if shown.status is Status.FAIL else ()
        self.entry = outcome_entry(shown)
        self.text = json.dumps(self.entry, ensure_ascii=False)


class _VerdictPath:
    """The default fleet path: verdict codes per device; only failed and unknown rules explained.

    It counts and writes what ``_Tally.add`` and ``device_record`` make of the full report
    (the tests compare both), without building a Report: passing and not applicable rules
    need no explanation, and the explanations of the others are memoised by the engine. A
    device whose own facts conflict or overlap its policies' takes the report path.
    """

    def __init__(self, engine: Engine, policy: Facts | AssignedPolicies | None) -> None:
        self.engine, self.policy = engine, policy
        self.plan = tuple((loaded, loaded.rules) for loaded in engine.rulesets)
        self.typer = _RowTyper(engine.vocabulary)
        self.fixed = [  # per rule, the entries of a pass (code 0) and not applicable (3), with their text
            {code: _fixed_entry(rule, code) for code in (0, 3)} for _, rules in self.plan for rule in rules
        ]
        self.contexts: dict[int, _PolicyContext] = {}

    def evaluate(self, row: FleetRow, reader: DeviceReader, wanted: bool, tally: _Tally) -> dict | None:
        """Count one device; its record when ``wanted``. Raises InputError for a bad row."""
        policy = _policy_for(self.policy, row.data)
        context = self.contexts.get(id(policy))
        if context is None:  # one per distinct set of merged policies; it holds them, so ids stay theirs
            context = self.contexts[id(policy)] = _PolicyContext(policy, self.engine)
        values = self.typer.values(row.data) if reader in (device_facts, fleet_device) else None
        if values is None:
            device = reader(row.data, self.engine, row.number)
            if device.conflicts or not context.taken.isdisjoint(device.values):
                report = self.engine.evaluate(_merged(policy, device), subject=device.name, sources=False)
                tally.add(report)
                return device_record(row.number, report) if wanted else None
            values, subject = device.table, device.name
        else:
            subject = ""
        if context.base:
            values = {**context.base, **values}
        return self._count(values, row, subject, wanted, tally, context)

    def _count(self, values: dict, row: FleetRow, subject: str, wanted: bool, tally: _Tally,
               context: _PolicyContext) -> dict | None:
        counts, fixed = tally.counts, self.fixed
        results: list[dict] = []
        texts: list[str] = []
        index = 0
        failed = False
        views = [policy_view(values, table) for table in context.profiles] if context.profiles else None
        decided_on: dict[int, int] = {}
        for loaded, rules in self.plan:
            if views is None:
                codes = loaded.verdicts(values)
            else:
                codes, decided_on = self.engine.verdicts_per_policy(loaded, values, views)
            first = index
            for rule, code in zip(rules, codes):
                counts[index][code] += 1
                if code == 1 or code == 2:
                    if decided_on and index - first in decided_on:  # decided on one policy's own settings
                        view = views[decided_on[index - first]]
                        detail = self._detail(loaded, rule, view, context, per_policy=True)
                    else:
                        detail = self._detail(loaded, rule, values, context)
                    if code == 1:
                        failed = True
                        tally.reasons.update(detail.reasons)
                    if wanted:
                        results.append(detail.entry)
                        texts.append(detail.text)
                elif wanted:
                    entry, text = fixed[index][code]
                    results.append(entry)
                    texts.append(text)
                index += 1
        tally.devices += 1
        tally.failed_devices += failed
        if context.records:
            tally.conflicts.update(context.records)
        if not wanted:
            return None
        statuses = Counter(entry["status"] for entry in results)
        subject = subject or device_subject(row.data, row.number)
        return DeviceRecord(_record(row.number, subject, statuses, results), texts)

    def _detail(self, loaded, rule: n.Rule, values: dict, context: _PolicyContext, per_policy: bool = False) -> _Detail:
        outcome = self.engine.explain(loaded, rule, values)
        details = context.policy_details if per_policy else context.details
        detail = details.get(id(outcome))
        if detail is None or detail.outcome is not outcome:
            conflicts = {} if per_policy else context.conflicts  # one policy's own settings conflict with nothing
            shown = mark_conflicts(outcome, conflicts, self.engine.vocabulary) if conflicts else outcome
            if len(details) >= _DETAILS_LIMIT:
                details.clear()
            detail = details[id(outcome)] = _Detail(outcome, shown)
        return detail


class _PolicyContext:
    """One set of merged policies as the default path uses it: values, conflicts, explained entries."""

    __slots__ = ("policy", "base", "taken", "conflicts", "records", "details", "profiles", "policy_details")

    def __init__(self, policy: Facts | None, engine: Engine) -> None:
        self.policy = policy
        self.profiles = tuple(p.table for p in policy.profiles) if policy else ()  # each policy's own settings
        self.policy_details: dict[int, _Detail] = {}
        self.base = dict(policy.table) if policy else {}
        self.taken = frozenset(policy.values).union(c.fact for c in policy.conflicts) if policy else frozenset()
        conflicts = engine.conflicts(policy) if policy else ()
        self.conflicts = {c.fact: c for c in conflicts}
        self.records = tuple(conflict_record(c, engine.vocabulary) for c in conflicts)
        self.details: dict[int, _Detail] = {}


def _policy_for(policy: Facts | AssignedPolicies | None, data: Any) -> Facts | None:
    """The merged policies a row's device gets."""
    return policy.for_row(data) if isinstance(policy, AssignedPolicies) else policy


def _fixed_entry(rule: n.Rule, code: int) -> tuple[dict, str]:
    entry = {"rule": rule.id, "status": _STATUSES[code].value}
    return entry, json.dumps(entry, ensure_ascii=False)


_DETAILS_LIMIT = 50_000
_DEVICE_NAMESPACES = ("device", "actor", "action", "tenant")


class _RowTyper:
    """Types the project's own device rows straight into a value dict: the fleet's hot path.

    It gives None for anything it does not take as it is (another format, an unknown name, a
    bad value); the row then goes through ``device_facts`` or the importers, which report
    problems with their JSON paths. Origins are not kept: fleet records do not show them.
    """

    def __init__(self, vocabulary) -> None:
        self.vocabulary = vocabulary
        self.columns: dict[str, tuple[str, Callable[[Any], Any]]] = {}
        for name, convert in vocabulary.converters.items():
            namespace, _, bare = name.partition(".")
            if namespace in _DEVICE_NAMESPACES:
                self.columns[name] = (name, convert)
            if namespace == "device":
                self.columns[bare] = (name, convert)

    def values(self, data: Any) -> dict | None:
        """Typed values of a ``{"facts": {...}}`` or flat row, or None (see the class)."""
        if type(data) is not dict:
            return None
        raw = data.get("facts")
        flat = type(raw) is not dict
        raw = data if flat else raw
        typed: dict[str, Any] = {}
        columns = self.columns
        try:
            for key, value in raw.items():
                column = columns.get(key)
                if column is None:
                    if flat and key in ("id", "deviceName"):
                        continue
                    return None
                if value is not None:
                    typed[column[0]] = column[1](value)
        except ValueError:
            return None
        if self.vocabulary.grants:
            apply_grants(typed, {}, self.vocabulary)
        return typed


def device_subject(data: Any, number: int) -> str:
    """How a report names a device of the project's own row format."""
    name = str(data.get("deviceName") or data.get("id") or f"row {number}") if isinstance(data, dict) else f"row {number}"
    return f"device {name!r}"


def json_line(record: dict) -> str:
    """One device record as a line of JSON (without the newline), secrets masked."""
    text = record.json_text() if isinstance(record, DeviceRecord) else json.dumps(record, ensure_ascii=False)
    return redact(text)


def write_jsonl(stream: io.TextIOBase) -> Callable[[dict | str], None]:
    """A ``write`` callback that appends one JSON line per record (or per line ``json_line`` made)."""
    def write(record: dict | str) -> None:
        stream.write((record if isinstance(record, str) else json_line(record)) + "\n")

    return write


# --- several processes ------------------------------------------------------------------------

_BATCH = 500
_worker_state: dict = {}


def evaluate_fleet_parallel(
    rows: Iterable[FleetRow],
    jobs: int,
    make_engine: Callable[[], tuple[Engine, Facts | AssignedPolicies | None]],
    *,
    write: Callable[[Any], None] | None = None,
    progress: Callable[[int], None] | None = None,
    reader: DeviceReader = device_facts,
    record: Callable[[int, Report], Any] | None = None,
    encode: Callable[[Any], Any] | None = None,
) -> FleetSummary:
    """``evaluate_fleet`` over ``jobs`` processes; rows are read and results written in order.

    At most ``2 * jobs`` batches are in flight, so memory stays flat however large the fleet.
    ``make_engine`` must be picklable (a module-level function or a functools.partial of one).
    Results are encoded in the workers: a JSON line crosses between processes far more
    cheaply than the record it was made from.
    """
    from concurrent.futures import ProcessPoolExecutor

    summary: FleetSummary | None = None
    done = 0
    options = (reader, record, encode, write is not None)
    with ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(make_engine,)) as pool:
        pending = []
        for batch in _batches(rows, _BATCH):
            pending.append(pool.submit(_run_batch, [(r.number, r.data) for r in batch], *options))
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


def _run_batch(batch: list[tuple[int, Any]], reader: DeviceReader, record, encode, wanted: bool):
    engine, policy = _worker_state["engine"], _worker_state["policy"]
    codes = None
    if record is None:  # one path per worker: its record entries are made once, not once per batch
        codes = _worker_state.get("codes") or _worker_state.setdefault("codes", _VerdictPath(engine, policy))
    results: list = []
    rows = [FleetRow(number, data) for number, data in batch]
    summary = _evaluate_rows(rows, engine, policy, codes, results.append if wanted else None, None, reader,
                             record, encode)
    return summary, results
