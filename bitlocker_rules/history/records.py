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
from collections.abc import Iterator, Mapping
from typing import IO

from attrs import frozen

from ..errors import Diagnostic, InputError, redact

STATUSES = ("pass", "fail", "unknown", "not_applicable")
_RESULTS_KEY = ', "results": ['  # a device record's last key, as json.dumps writes it (fleet.results)


def reason_id(text: str) -> str:
    """A reason's stable id: the first 12 hex digits of the SHA-256 of its (masked) sentence.

    The same sentence has the same id in every run, store and JSON Lines file, so a cause can
    be followed over time without a table of ids kept anywhere.
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


@frozen
class RuleResult:
    """One rule's verdict on a device, with the ids of its reasons (failed or unknown rules only)."""

    rule: str
    status: str
    reasons: tuple[str, ...] = ()


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


class LineReader:
    """Reads device records (JSON lines of ``check --fleet --jsonl``) into patterns.

    Only a record's head (row, device, policies, summary) is decoded for each device; its
    results are decoded once per distinct text, found by a digest of it.
    """

    def __init__(self) -> None:
        self.known: dict[bytes, int] = {}  # digest of a results text -> pattern number

    def split(self, line: str, where: str) -> tuple[dict, str]:
        """A record's head (decoded) and its results' JSON text (without the closing brackets).

        A line as ``check --fleet --jsonl`` writes it (results last) is cut at its results; any
        other spelling of the same record (another tool's spacing or key order) is decoded whole.
        """
        text = line.rstrip()
        cut = text.find(_RESULTS_KEY)
        if cut >= 0 and text.endswith("]}"):
            try:
                head = json.loads(text[:cut] + "}")
            except ValueError:
                head = None
            if isinstance(head, dict) and isinstance(head.get("device"), str):
                head["device"] = str(redact(head["device"]))
                return head, text[cut + len(_RESULTS_KEY) : -2]
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise _bad_line(where, f"not JSON: {exc}") from None
        if not isinstance(record, dict) or not isinstance(record.get("device"), str):
            raise _bad_line(where, 'a device record has a "device" name')
        if not isinstance(record.get("results"), list):
            raise _bad_line(where, 'a device record has a "results" list')
        results = record.pop("results")
        record["device"] = str(redact(record["device"]))
        return record, json.dumps(results, ensure_ascii=False)[1:-1]

    def pattern_of(self, results_text: str, where: str) -> tuple[int, tuple[Pattern, dict[str, str]] | None]:
        """The number of the pattern of this results text; when it is new, also the pattern and
        its reasons' sentences by id."""
        digest = hashlib.blake2b(results_text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        number = self.known.get(digest)
        if number is not None:
            return number, None
        decoded = decode_results(results_text, where)
        number = self.known[digest] = len(self.known) + 1
        return number, decoded

    def digests(self) -> Iterator[tuple[int, str]]:
        """Each known pattern's number and digest (hex)."""
        for digest, number in self.known.items():
            yield number, digest.hex()


def decode_results(results_text: str, where: str) -> tuple[Pattern, dict[str, str]]:
    """A device record's results (their JSON text) as a pattern, reasons as ids; and the
    reasons' sentences by id, masked (decoded once per distinct results text)."""
    try:
        entries = json.loads("[" + results_text + "]")
    except ValueError as exc:
        raise _bad_line(where, f"the results are not JSON: {exc}") from None
    results, texts = [], {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("status") not in STATUSES or not isinstance(entry.get("rule"), str):
            raise _bad_line(where, "each result has a rule id and a status (pass, fail, unknown, not_applicable)")
        ids = []
        for reason in entry.get("reasons") or ():
            text = str(redact(str(reason)))
            ids.append(reason_id(text))
            texts[ids[-1]] = text
        results.append(RuleResult(entry["rule"], entry["status"], tuple(ids)))
    return Pattern(tuple(results)), texts


def read_jsonl(stream: IO[str], label: str) -> RunResults:
    """A ``check --fleet --jsonl`` file as a run's results (bad lines raise InputError, exit 2)."""
    run = RunResults(label)
    reader = LineReader()
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        where = f"{label} line {number}"
        head, results = reader.split(line, where)
        pattern_number, new = reader.pattern_of(results, where)
        if new is not None:
            run.add_pattern(pattern_number, new[0])
            run.reasons.update(new[1])
        run.add_device(head["device"], pattern_number)
    return run


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
    """A file a run read: its role (policy, assignments, fleet), its name, its SHA-256 (None: standard input)."""

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
