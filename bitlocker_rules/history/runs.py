"""What the history keeps and compares, as records: a run, its results, a rule's counts over time.

A run's results are kept the way a fleet produces them: many devices share one outcome (the
same verdict and reasons for every rule), so a run is its devices, each naming its *pattern*
(one device record's results, decoded once), and the patterns. ``RunResults`` holds a run so,
whether it was read from a store or from a ``check --fleet --jsonl`` file: memory grows with
the devices (a name and a number each) and the distinct patterns, not with devices x rules.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Mapping
from typing import IO, NamedTuple

from attrs import frozen

from ..errors import Diagnostic, InputError, redact
from ..reading import JsonLimitError, loads_json

STATUSES = ("pass", "fail", "unknown", "not_applicable")
WAIVED = "waived"  # a failure a waiver accepts (check --waivers): recorded as such, with the waiver's id
RECORDED_STATUSES = (*STATUSES, WAIVED)
_RESULTS_KEY = ', "results": ['  # a device record's last key, as json.dumps writes it (fleet.results)


def reason_id(text: str) -> str:
    """A reason's stable id: the first 12 hex digits of the SHA-256 of its (masked) sentence.

    The same sentence has the same id in every run, store and JSON Lines file, so a cause can
    be followed over time without a table of ids kept anywhere.
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class RuleResult(NamedTuple):
    """One rule's verdict on a device, with the ids of its reasons (failed or unknown rules only).

    A named tuple, not an attrs class: a run holds one per rule of each distinct pattern.
    """

    rule: str
    status: str
    reasons: tuple[str, ...] = ()
    waiver: str = ""  # for a waived failure: the id of the waiver that accepts it


@frozen
class Pattern:
    """A device's results: every rule's verdict and reasons, in the run's rule order."""

    results: tuple[RuleResult, ...]

    def by_rule(self) -> dict[str, RuleResult]:
        """The results by rule id."""
        return {r.rule: r for r in self.results}


@frozen
class DeviceKey:
    """How a device is matched between runs: its name as the record gives it, and which of the
    run's devices of that name it is (0 for the first: names are nearly always unique)."""

    device: str
    occurrence: int = 0

    def text(self) -> str:
        """``device 'PC-1'``; a repeated name says which one: ``device 'PC-1' (2nd of that name)``."""
        if not self.occurrence:
            return self.device
        n = self.occurrence + 1
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{self.device} ({n}{suffix} of that name)"


class RunResults:
    """One run's results: each device's pattern, the patterns, and the reasons' sentences."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.devices: dict[DeviceKey, int] = {}  # device -> pattern number
        self.patterns: dict[int, Pattern] = {}
        self.reasons: dict[str, str] = {}  # reason id -> sentence (masked)
        self._seen: dict[str, int] = {}  # name -> occurrences so far

    def add_device(self, name: str, pattern: int) -> None:
        """One device, in row order."""
        occurrence = self._seen.get(name, 0)
        self._seen[name] = occurrence + 1
        self.devices[DeviceKey(name, occurrence)] = pattern

    def add_pattern(self, number: int, pattern: Pattern) -> None:
        """A pattern, before the devices that name it."""
        self.patterns[number] = pattern


class NewEntry(NamedTuple):
    """An entry a reader met for the first time: its id, its digest (its identity in a store), the result."""

    entry_id: int
    digest: str
    result: RuleResult


class LineReader:
    """Reads device records (JSON lines of ``check --fleet --jsonl``) into entries and patterns.

    Only a record's head (row, device, policies, summary) is decoded for each device. Its
    results are cut into their entries' texts (each a rule's verdict and reasons, as the fleet
    path writes it) and each distinct entry text is decoded once: a device's pattern is the
    tuple of its entries' ids. ``known`` gives the ids a store already has, by digest, and
    ``next_entry`` the next free one; the entries and reasons met for the first time are
    collected in ``new_entries`` and ``new_reasons`` for a writer to take.
    """

    def __init__(self, known: Mapping[str, int] | None = None, next_entry: int = 1) -> None:
        self.known = dict(known or {})  # entry digest -> id, in the store
        self.next_entry = next_entry
        self.pieces: dict[str, int] = {}  # an entry's text (as cut) -> its id
        self.entries: dict[int, RuleResult] = {}
        self.patterns: dict[bytes, int] = {}  # digest of a pattern's entry ids -> pattern number
        self.texts: dict[bytes, int] = {}  # digest of a results text -> pattern number
        self.reasons: dict[str, tuple[str, str]] = {}  # a reason as read -> its id and its text, masked
        self.reason_texts: dict[str, str] = {}  # reason id -> text, masked
        self.new_entries: list[NewEntry] = []
        self.new_reasons: list[tuple[str, str]] = []

    def split(self, line: str, where: str) -> tuple[dict, str]:
        """A record's head (decoded) and its results' JSON text (without the brackets).

        A line as ``check --fleet --jsonl`` writes it (results last) is cut at its results; any
        other spelling of the same record (another tool's spacing or key order) is decoded whole.
        """
        text = line.rstrip()
        cut = text.find(_RESULTS_KEY)
        if cut >= 0 and text.endswith("]}"):
            try:
                head = loads_json(text[:cut] + "}")
            except ValueError:
                head = None
            if isinstance(head, dict) and isinstance(head.get("device"), str):
                head["device"] = str(redact(head["device"]))
                return head, text[cut + len(_RESULTS_KEY) : -2]
        try:
            record = loads_json(text)
        except ValueError as exc:
            raise _bad_line(where, _json_problem("", exc)) from None
        if not isinstance(record, dict) or not isinstance(record.get("device"), str):
            raise _bad_line(where, 'a device record has a "device" name')
        results = record.pop("results", None)
        if not isinstance(results, list):
            raise _bad_line(where, 'a device record has a "results" list')
        record["device"] = str(redact(record["device"]))
        return record, ", ".join(_entry_text(entry, where) for entry in results)

    def pattern_of(self, results_text: str, where: str) -> tuple[int, tuple[int, ...] | None]:
        """The number of the pattern of this results text, and its entry ids when it is new.

        A results text seen before is found by its digest, without cutting it into entries.
        """
        seen = hashlib.blake2b(results_text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        number = self.texts.get(seen)
        if number is not None:
            return number, None
        ids = self.entry_ids(results_text, where)
        digest = pattern_digest(ids)
        number = self.patterns.get(digest)
        new = number is None
        if number is None:
            number = self.patterns[digest] = len(self.patterns) + 1
        self.texts[seen] = number
        return number, ids if new else None

    def entry_ids(self, results_text: str, where: str) -> tuple[int, ...]:
        """The ids of the entries of a results text, in order (each new entry decoded once)."""
        if not results_text.strip():
            return ()
        pieces = results_text.split(_ENTRY_SEPARATOR)
        if not pieces[0].startswith(_ENTRY_START) or not pieces[-1].endswith("}"):
            # Not as json.dumps writes the fleet's entries: decode them, write each so.
            try:
                entries = loads_json("[" + results_text + "]")
            except ValueError as exc:
                raise _bad_line(where, _json_problem("the results are ", exc)) from None
            pieces = ", ".join(_entry_text(entry, where) for entry in entries).split(_ENTRY_SEPARATOR)
        pieces[0] = pieces[0][len(_ENTRY_START) :]
        pieces[-1] = pieces[-1][:-1]
        ids = list(map(self.pieces.get, pieces))
        if None in ids:
            ids = [self.pieces.get(piece) or self._new_entry(piece, where) for piece in pieces]
        return tuple(ids)  # type: ignore[arg-type]  # no None left

    def _new_entry(self, piece: str, where: str) -> int:
        text = _ENTRY_START + piece + "}"
        try:
            entry = loads_json(text)
        except ValueError as exc:
            raise _bad_line(where, _json_problem("a result is ", exc)) from None
        result = self._result(entry, where)
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        entry_id = self.known.get(digest)
        if entry_id is None:
            entry_id = self.known[digest] = self.next_entry
            self.next_entry += 1
            self.new_entries.append(NewEntry(entry_id, digest, result))
        self.pieces[piece] = entry_id
        self.entries[entry_id] = result
        return entry_id

    def _result(self, entry: object, where: str) -> RuleResult:
        if (
            type(entry) is not dict
            or entry.get("status") not in RECORDED_STATUSES
            or type(entry.get("rule")) is not str
        ):
            raise _bad_line(where, _RESULT_SHAPE)
        waiver = entry.get("waiver") if entry["status"] == WAIVED else ""
        if type(waiver) is not str or (entry["status"] == WAIVED and not waiver):
            raise _bad_line(where, "a waived result names its waiver")
        ids = []
        for reason in entry.get("reasons") or ():
            known = self.reasons.get(reason) if type(reason) is str else None
            if known is None:
                text = str(redact(str(reason)))
                known = (reason_id(text), text)
                if type(reason) is str:
                    self.reasons[reason] = known
                if known[0] not in self.reason_texts:
                    self.reason_texts[known[0]] = text
                    self.new_reasons.append(known)
            ids.append(known[0])
        return RuleResult(entry["rule"], entry["status"], tuple(ids), str(redact(waiver)))

    def pattern(self, ids: tuple[int, ...]) -> Pattern:
        """The pattern of these entries."""
        return Pattern(tuple(self.entries[i] for i in ids))


_RESULT_SHAPE = "each result has a rule id and a status (pass, fail, unknown, not_applicable, waived)"
_ENTRY_START = '{"rule": '
_ENTRY_SEPARATOR = '}, {"rule": '  # between two entries; never inside one (its quotes would be escaped)


def _entry_text(entry: object, where: str) -> str:
    """An entry as the fleet path writes it: rule, status, then reasons."""
    if type(entry) is not dict or "rule" not in entry:
        raise _bad_line(where, _RESULT_SHAPE)
    ordered = {"rule": entry["rule"], "status": entry.get("status")}
    ordered.update((k, v) for k, v in entry.items() if k not in ordered)
    return json.dumps(ordered, ensure_ascii=False)


def pattern_digest(ids: tuple[int, ...]) -> bytes:
    """A pattern's identity: a digest of its entries' ids, in order."""
    return hashlib.blake2b(array("q", ids).tobytes(), digest_size=16).digest()


class RunLines:
    """A run's results built from device records one JSON line at a time: ``add`` is a ``write``
    callback like ``--jsonl``'s (``diff`` of two snapshots checks each into one)."""

    def __init__(self, label: str) -> None:
        self.run = RunResults(label)
        self._reader = LineReader()
        self._lines = 0

    def add(self, line: object) -> None:
        """One device's record, as a line of JSON (blank lines are skipped)."""
        self._lines += 1
        text = str(line)
        if not text.strip():
            return
        where = f"{self.run.label} line {self._lines}"
        head, results = self._reader.split(text, where)
        pattern_number, ids = self._reader.pattern_of(results, where)
        if ids is not None:
            self.run.add_pattern(pattern_number, self._reader.pattern(ids))
        self.run.add_device(head["device"], pattern_number)

    def finish(self) -> RunResults:
        """The run, with the sentences of its reasons."""
        self.run.reasons.update(self._reader.reason_texts)
        return self.run


def read_jsonl(stream: IO[str], label: str) -> RunResults:
    """A ``check --fleet --jsonl`` file as a run's results (bad lines raise InputError, exit 2)."""
    lines = RunLines(label)
    for line in stream:
        lines.add(line)
    return lines.finish()


def _json_problem(subject: str, exc: ValueError) -> str:
    """Why JSON text of a line cannot be read: ``subject`` (``the results are ``) not JSON, or a limit passed."""
    return str(exc) if isinstance(exc, JsonLimitError) else f"{subject}not JSON: {exc}"


def _bad_line(where: str, message: str) -> InputError:
    return InputError(
        [
            Diagnostic(
                "H001",
                f"not a device record of check --fleet --jsonl: {message}",
                file=where,
                help="diff reads the JSON Lines that `check --fleet --jsonl FILE` writes, or runs in a store",
            )
        ]
    )


@frozen
class RunInput:
    """A file a run read: its role (policy, assignments, fleet, snapshot: a snapshot's manifest), its name, its
    SHA-256 (None: standard input)."""

    role: str
    name: str
    sha256: str | None


@frozen
class RulesetUsed:
    """A ruleset a run evaluated, with the SHA-256 of its file."""

    ruleset: str
    path: str
    sha256: str | None


@frozen
class RuleUsed:
    """A rule a run evaluated, in the run's rule order."""

    position: int
    ruleset: str
    rule: str
    title: str
    severity: str


@frozen
class RunInfo:
    """What a run was: when, with which version, inputs, rulesets and rules."""

    started_at: str  # ISO 8601, UTC
    tool_version: str
    inputs: tuple[RunInput, ...]
    rulesets: tuple[RulesetUsed, ...]
    rules: tuple[RuleUsed, ...]


@frozen
class RunRow:
    """A run as ``history`` lists it."""

    run_id: int
    started_at: str
    finished_at: str
    tool_version: str
    devices: int
    failed_devices: int
    bad_rows: int
    rulesets: tuple[str, ...]
    inputs: tuple[RunInput, ...]


@frozen
class TrendPoint:
    """One rule's counts in one run (``history --rule``)."""

    run_id: int
    started_at: str
    counts: Mapping[str, int]


def file_sha256(path: str) -> str | None:
    """The SHA-256 of a file (None for standard input or a file that cannot be read)."""
    if path == "-":
        return None
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()
