"""What a fleet run produces: the summary's counters and each device's JSON Lines record."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, cast

from attrs import frozen

from ..engine import Engine
from ..errors import ShownText, redact, shown_text
from ..outcome import ConflictRecord, Report, RuleOutcome, Status, WaiverNotice
from ..source import RecordPlace
from ..verdict import CODES, STATUSES
from .rows import BadRow


@frozen
class RuleTally:
    """How many devices ended with each verdict for one rule."""

    ruleset: str
    rule: str
    title: str
    severity: str
    counts: Mapping[str, int]


@frozen
class FleetScenario:
    """How many devices a scenario held for, did not, or could not be told for."""

    name: str
    label: str
    in_scope: int
    out_of_scope: int
    not_known: int

    def sentence(self) -> str:
        """``Silent enablement: in scope on 30 devices, out of scope on 5, not known on 5``."""
        parts = [
            f"{word} on {count}"
            for word, count in (
                ("in scope", self.in_scope),
                ("out of scope", self.out_of_scope),
                ("not known", self.not_known),
            )
            if count
        ]
        return f"{self.label}: " + (
            ", ".join(parts) + " device" + ("s" if max(self.in_scope, self.out_of_scope, self.not_known) != 1 else "")
            if parts
            else "no device"
        )


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
    scenarios: tuple[FleetScenario, ...] = ()  # per scenario, on how many devices it held
    unlisted_bad_rows: int = 0  # rows not read beyond the first BAD_ROWS_LISTED, counted, not kept
    unscoped_devices: int = 0  # devices evaluated that their assignments give no policy (in no policy's scope)
    # Given a waivers file: rules count ``waived`` apart, how many failures each waiver waived
    # (by id), the run's warnings about waivers (``Waivers.notices``, added by who ran it).
    waivers_given: bool = False
    waived_by: Mapping[str, int] = {}
    waiver_notices: tuple[WaiverNotice, ...] = ()

    @property
    def exit_code(self) -> int:
        """2 if a row was bad, else 1 if any device failed a rule, else 0."""
        return 2 if self.bad_rows else (1 if self.failed_devices else 0)

    @property
    def bad_row_count(self) -> int:
        """How many rows could not be read (``bad_rows`` lists the first of them)."""
        return len(self.bad_rows) + self.unlisted_bad_rows

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
        scenarios = tuple(
            FleetScenario(
                a.name, a.label, a.in_scope + b.in_scope, a.out_of_scope + b.out_of_scope, a.not_known + b.not_known
            )
            for a, b in zip(self.scenarios, other.scenarios)
        )
        bad_rows = self.bad_rows + other.bad_rows
        waived_by = Counter(self.waived_by)
        waived_by.update(other.waived_by)
        return FleetSummary(
            self.devices + other.devices,
            rules,
            dict(reasons),
            bad_rows[:BAD_ROWS_LISTED],
            self.failed_devices + other.failed_devices,
            tuple(FleetConflict(r, n) for r, n in conflicts.items()),
            scenarios,
            self.unlisted_bad_rows + other.unlisted_bad_rows + max(0, len(bad_rows) - BAD_ROWS_LISTED),
            self.unscoped_devices + other.unscoped_devices,
            self.waivers_given,
            dict(waived_by),
            self.waiver_notices,
        )


def device_record(
    number: int, report: Report, policies: Sequence[str] | None = None, scope: Sequence[str] = ()
) -> dict:
    """The JSON Lines record for one device: its verdicts and reasons for rules that did not pass.

    ``policies`` names the policies an assignment file gave the device (None: no assignment file);
    ``scope`` says what else decided which policies it got (a snapshot's assignment filters).
    """
    counts = Counter(o.status.value for o in report.outcomes)
    entries = [outcome_entry(o) for o in report.outcomes]
    return record_from_parts(
        number, report.subject, counts, entries, policies, statuses=report.counted_statuses(), scope=scope
    )


def record_from_parts(
    number: int,
    subject: str,
    counts: Mapping[str, int],
    results: list[dict],
    policies: Sequence[str] | None = None,
    statuses: Sequence[Status] = STATUSES,
    scope: Sequence[str] = (),
) -> dict:
    """A device's JSON Lines record from its parts: the counts by status name (of ``statuses``:
    the four verdicts, and ``waived`` in a run given waivers), the results' entries."""
    record: dict = {"row": number, "device": subject}
    if policies is not None:
        record["policies"] = list(policies)
    if scope:
        record["filters"] = list(scope)
    record["summary"] = {s.value: counts.get(s.value, 0) for s in statuses}
    record["results"] = results  # last: DeviceRecord.json_text relies on it
    return record


class DeviceRecord(dict):
    """A device record (a plain dict to every reader) that also carries the JSON text of its results.

    The fleet's default path makes these: each distinct per-rule entry is serialised once and
    reused, so writing a JSON line costs a join, not a ``json.dumps`` of every entry.
    ``result_texts`` are runs of entry texts, each already comma-separated (not masked: the
    line is, where it leaves, see ``json_line``).
    """

    __slots__ = ("result_texts",)

    def __init__(self, record: dict, result_texts: list[str]) -> None:
        super().__init__(record)
        self.result_texts = result_texts

    def json_text(self) -> str:
        """``json.dumps(self, ensure_ascii=False)``, the same text, from the stored result texts."""
        head = _ENCODE({k: v for k, v in self.items() if k != "results"})
        return f'{head[:-1]}, "results": [{", ".join(self.result_texts)}]}}'

    def __reduce__(self) -> tuple[type[DeviceRecord], tuple[dict, list[str]]]:
        # Worker processes send records back pickled.
        return DeviceRecord, (dict(self), self.result_texts)


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
_STRING = json.encoder.encode_basestring  # a str as JSON text, as json.dumps(ensure_ascii=False) writes it


def json_head(
    number: int, subject: str, policies: Sequence[str] | None, statuses: Sequence[int], scope: Sequence[str] = ()
) -> str:
    """A device record's JSON text up to its results (``{"row": 1, …, "results": [``), written
    as ``json.dumps(record, ensure_ascii=False)`` writes it; ``statuses``: the counts by verdict code."""
    named = f'"policies": {_ENCODE(list(policies))}, ' if policies is not None else ""
    waived = f', "waived": {statuses[4]}' if len(statuses) > 4 else ""  # a run given waivers
    if scope:
        named += f'"filters": {_ENCODE(list(scope))}, '
    return (
        f'{{"row": {number}, "device": {_STRING(subject)}, {named}"summary": {{"pass": {statuses[0]}, '
        f'"fail": {statuses[1]}, "unknown": {statuses[2]}, "not_applicable": {statuses[3]}{waived}}}, "results": ['
    )


class DeviceResult:
    """One evaluated device as a fleet report's collector sees it (made only when one is given).

    ``subject`` names it and ``badness`` is (failed rules, unknown rules); ``outcomes`` are the
    rules that failed or are unknown, as its record explains them, with the policy files each
    cited setting came from. ``record()`` is its device record and ``report()`` its whole
    report, as ``Engine.evaluate`` makes it: each is built on first call (a report costs far
    more), so a collector pays only for what it keeps. ``places()`` says where each of its
    facts was read (``source.RecordPlace`` by fact name, ``""`` the row itself), likewise made
    when asked.
    """

    __slots__ = (
        "_make_places",
        "_make_record",
        "_make_report",
        "_record",
        "_report",
        "badness",
        "number",
        "outcomes",
        "subject",
    )

    def __init__(
        self,
        number: int,
        subject: str,
        badness: tuple[int, int],
        outcomes: Sequence[RuleOutcome],
        make_record: Callable[[], dict],
        make_report: Callable[[], Report],
        make_places: Callable[[], Mapping[str, RecordPlace]] | None = None,
    ) -> None:
        self.number, self.subject, self.badness, self.outcomes = number, subject, badness, tuple(outcomes)
        self._record: dict | None = None
        self._report: Report | None = None
        self._make_record, self._make_report, self._make_places = make_record, make_report, make_places

    def places(self) -> Mapping[str, RecordPlace]:
        """Where each fact of the device was read (made on each call: a collector asks once)."""
        return self._make_places() if self._make_places is not None else {}

    def record(self) -> dict:
        """The device record."""
        if self._record is None:
            self._record = self._make_record()
        return self._record

    def report(self) -> Report:
        """The device's whole report."""
        if self._report is None:
            self._report = self._make_report()
        return self._report


def outcome_entry(outcome: RuleOutcome) -> dict:
    """One rule in a device record: its id and status, and reasons when it failed or is unknown."""
    entry: dict[str, Any] = {"rule": outcome.rule, "status": outcome.status.value}
    if outcome.waiver is not None:
        entry["waiver"] = outcome.waiver.id
    if outcome.status in (Status.FAIL, Status.UNKNOWN, Status.WAIVED):
        entry["reasons"] = [c.sentence() for c in outcome.reasons]
    return entry


def waived_entry(entry: dict, waiver: str) -> dict:
    """A failed rule's record entry as its waiver leaves it: ``waived``, the waiver named, its reasons kept."""
    return {"rule": entry["rule"], "status": Status.WAIVED.value, "waiver": waiver, "reasons": entry.get("reasons", [])}


def failure_reasons(outcome: RuleOutcome) -> tuple[str, ...]:
    """How a failed rule counts in the fleet's most common failure reasons."""
    return tuple(f"{outcome.rule}: {c.label} is {c.actual}" for c in outcome.reasons)


def json_line(record: dict) -> str:
    """One device record as a line of JSON (without the newline), secrets masked: ``json_text`` masked."""
    return redact(json_text(record))


def json_text(record: dict) -> str:
    """One device record as a line of JSON (without the newline), not masked: for a writer that
    masks whatever it writes (the command line's output), so each line is masked once, there."""
    if isinstance(record, DeviceRecord):
        return record.json_text()
    return json.dumps(record, ensure_ascii=False)


class TextSink(Protocol):
    """Anything text can be written to: a file opened for writing, the command line's masking stream.

    A sink may also take text already shown and encoded as UTF-8 (``write_encoded(data)``, and
    a file of it, ``append_file(path)``, as the command line's stream does): a ``LineBlock`` or
    a ``LineFile`` is then written without decoding it. A sink that offers ``encoded_writer()``
    (a writer of such bytes, or None) gets the default path's lines one by one as bytes.
    """

    def write(self, text: str, /) -> Any:
        """Write ``text``."""


@frozen
class LineBlock:
    """Consecutive JSON lines, shown (masked, control characters escaped) and encoded as UTF-8,
    each ending in a newline: what a ``--jobs`` worker sends back for a batch, so the reading
    process writes the batch's bytes as they are instead of receiving, encoding and writing
    each line."""

    data: bytes

    @classmethod
    def of(cls, lines: Iterable[str]) -> LineBlock:
        """The block of these lines (each shown here unless it is already)."""
        return cls(b"".join([encoded_line(line) for line in lines]))


def encoded_line(line: str) -> bytes:
    """One JSON line as a ``LineBlock`` holds it: shown (unless it is already), UTF-8, a newline after."""
    return shown_text(line).encode() + b"\n"


@frozen
class LineFile:
    """A file of consecutive JSON lines as a ``LineBlock`` holds them (shown, UTF-8, each ending
    in a newline): what a ``--jobs`` worker leaves for the reading process to append as it is,
    without reading it into memory."""

    path: str


class JsonLinesWriter:
    """A ``write`` callback that appends one JSON line per record (or per line ``json_line``
    made), and a ``LineBlock``'s or ``LineFile``'s lines as they are: given one,
    ``evaluate_fleet_parallel`` has its workers send their lines as blocks or files."""

    def __init__(self, stream: TextSink) -> None:
        self.stream = stream
        self.write_encoded = getattr(stream, "write_encoded", None)
        self.append_file = getattr(stream, "append_file", None)

    def line_writer(self) -> Callable[[bytes], Any] | None:
        """A writer of single lines already shown, encoded as UTF-8 and ended by a newline (the
        fleet's default path makes them so, from parts encoded once), where the stream can take
        them as they are (``encoded_writer``); else None, and lines are written as text."""
        make = getattr(self.stream, "encoded_writer", None)
        return make() if make is not None else None

    def __call__(self, record: dict | str | LineBlock | LineFile) -> None:
        """Append ``record``'s line (or the block's lines, or the file's)."""
        if type(record) is LineFile:
            if self.append_file is not None:
                self.append_file(record.path)
                return
            with open(record.path, "rb") as lines:
                record = LineBlock(lines.read())
        if type(record) is LineBlock:
            if self.write_encoded is not None:
                self.write_encoded(record.data)
            else:
                self.stream.write(ShownText(record.data.decode()))
            return
        line = record if isinstance(record, str) else json_line(cast(dict, record))
        # A newline after shown text leaves it shown: it completes no password and needs no escape.
        self.stream.write(ShownText(line + "\n") if type(line) is ShownText else line + "\n")


def write_jsonl(stream: TextSink) -> JsonLinesWriter:
    """A ``write`` callback appending JSON lines to ``stream`` (see ``JsonLinesWriter``)."""
    return JsonLinesWriter(stream)


_REASON_TUPLES_LIMIT = 5_000  # distinct reason tuples counted before they are added to the reasons
BAD_ROWS_LISTED = 1000  # a summary lists this many rows that could not be read, and counts the others


class HasCodes(Protocol):
    """What ``Tally.by_codes`` counts devices by: one ruleset's verdict codes, a code per rule."""

    @property
    def codes(self) -> tuple[int, ...]:
        """The verdict codes, in rule order."""


class Tally:
    """A fleet run's counters: per rule (in engine order) devices by verdict code, reasons, bad rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counts = [[0, 0, 0, 0] for loaded in engine.rulesets for _ in loaded.rules]
        self.reasons: Counter = Counter()
        # The default path counts failure reasons by the tuple a part or explanation gives (a dict
        # update, not a Counter.update per tuple), added to ``reasons`` in the order first seen.
        self.reasons_by_tuple: dict[tuple[str, ...], int] = {}
        self.bad_rows: list[BadRow] = []  # the first BAD_ROWS_LISTED; the others are counted
        self.unlisted_bad_rows = 0
        self.devices = 0
        self.failed_devices = 0
        self.unscoped = 0  # devices their assignments give no policy
        self.conflicts: Counter = Counter()  # ConflictRecord -> devices that got it
        self.scenario_facts = tuple(s.fact for s in engine.vocabulary.scenarios.values())
        self.scenarios: Counter = Counter()  # (scenario fact, True / False / None) -> devices
        self.scenario_states: dict[tuple, int] = {}  # the fast path's: each scenario's state, in order -> devices
        # The default path counts each ruleset's verdict codes by what holds a distinct tuple of
        # them (its plan, hashed by identity: a dict update per ruleset, not a counter per
        # rule), folded into ``counts`` now and then.
        self.by_codes: list[dict[HasCodes, int]] = [{} for _ in engine.rulesets]
        self.firsts = tuple(itertools.accumulate((len(loaded.rules) for loaded in engine.rulesets), initial=0))
        self.waivers_given = False  # set by a run given waivers: rules count ``waived`` apart
        self.waived = [0] * len(self.counts)  # per rule, failures waived
        self.waived_by: Counter = Counter()  # waiver id -> failures it waived

    def count_reasons(self, reasons: tuple[str, ...]) -> None:
        """Count one failed rule's (or part's) reasons for a device (see ``reasons_by_tuple``)."""
        seen = self.reasons_by_tuple
        seen[reasons] = seen.get(reasons, 0) + 1
        if len(seen) > _REASON_TUPLES_LIMIT:
            self.fold_reasons()

    def fold_reasons(self) -> None:
        """Add the reasons counted by tuple to ``reasons`` (and forget the tuples). Each reason
        is added where the first tuple holding it was seen, so ``reasons`` keeps the order a
        count device by device gives (the order ties are listed in)."""
        reasons = self.reasons
        for found, devices in self.reasons_by_tuple.items():
            for reason in found:
                reasons[reason] += devices
        self.reasons_by_tuple.clear()

    def waive(self, index: int, waiver: str, reasons: Iterable[str]) -> None:
        """Move one device's failure of rule ``index`` (in engine order) to ``waived``, counted by
        the default path as failed: its reasons leave the most common failure reasons."""
        self.fold_reasons()  # the reasons counted so far first: a reason keeps its place
        self.counts[index][CODES[Status.FAIL]] -= 1
        self.waived[index] += 1
        self.waived_by[waiver] += 1
        self.reasons.subtract(reasons)

    def fold_codes(self, index: int) -> None:
        """Add one ruleset's counts by codes tuple to the per-rule counts (and forget them)."""
        counts, first = self.counts, self.firsts[index]
        for held, devices in self.by_codes[index].items():
            for offset, code in enumerate(held.codes):
                counts[first + offset][code] += devices
        self.by_codes[index].clear()

    def add(self, report: Report) -> None:
        """Count one device's report."""
        self.fold_reasons()  # the reasons counted so far first: a reason keeps its place
        self.devices += 1
        self.conflicts.update(report.conflicts)
        self.scenarios.update((s.fact, s.holds) for s in report.scenarios)
        failed = False
        for index, (counts, outcome) in enumerate(zip(self.counts, report.outcomes)):
            if outcome.status is Status.WAIVED:
                self.waived[index] += 1
                self.waived_by[outcome.waiver.id if outcome.waiver else ""] += 1
                continue
            counts[CODES[outcome.status]] += 1
            if outcome.status is Status.FAIL:
                failed = True
                self.reasons.update(failure_reasons(outcome))
        self.failed_devices += failed

    def summary(self) -> FleetSummary:
        """The counters as a FleetSummary."""
        for index in range(len(self.by_codes)):
            self.fold_codes(index)
        self.fold_reasons()
        for states, devices in self.scenario_states.items():
            for fact, state in zip(self.scenario_facts, states):
                self.scenarios[(fact, state)] += devices
        self.scenario_states.clear()
        rules = [(loaded.id, rule) for loaded in self.engine.rulesets for rule in loaded.rules]
        waived = {Status.WAIVED.value: 0} if self.waivers_given else {}
        tallies = tuple(
            RuleTally(
                ruleset,
                rule.id,
                rule.title,
                rule.severity,
                dict(zip((s.value for s in STATUSES), counts)) | ({Status.WAIVED.value: n} if waived else {}),
            )
            for (ruleset, rule), counts, n in zip(rules, self.counts, self.waived)
        )
        reasons = {reason: n for reason, n in self.reasons.items() if n > 0}
        conflicts = tuple(FleetConflict(record, devices) for record, devices in self.conflicts.items())
        # The scenarios the rules are about, and the declared ones: the others say nothing of this run.
        about = {name for loaded in self.engine.rulesets for rule in loaded.ruleset.rules for name in rule.scenarios}
        about |= set(self.engine.scenarios.declared)
        about |= {other for name in about for other in self.engine.scenarios.excluded_by(name)}  # say why out
        scenarios = tuple(
            FleetScenario(s.name, s.label, *(self.scenarios[(s.fact, held)] for held in (True, False, None)))
            for s in self.engine.vocabulary.scenarios.values()
            if s.name in about
        )
        return FleetSummary(
            self.devices,
            tallies,
            reasons,
            tuple(self.bad_rows),
            self.failed_devices,
            conflicts,
            scenarios,
            self.unlisted_bad_rows,
            self.unscoped,
            self.waivers_given,
            {w: n for w, n in self.waived_by.items() if n},
        )

    def bad(self, row: BadRow) -> None:
        """Note a row that could not be read (memory stays bounded however many there are)."""
        if len(self.bad_rows) < BAD_ROWS_LISTED:
            self.bad_rows.append(row)
        else:
            self.unlisted_bad_rows += 1

    def rows(self) -> int:
        """How many rows were read so far, bad ones included."""
        return self.devices + len(self.bad_rows) + self.unlisted_bad_rows

    def count_scenarios(self, values: Mapping) -> None:
        """Count which scenarios held for one device, from its resolved values (the fast path)."""
        states = tuple(map(values.get, self.scenario_facts))
        self.scenario_states[states] = self.scenario_states.get(states, 0) + 1
