"""SARIF 2.1.0 for policy findings: each failing or unknown setting, located in the export file.

A result is one condition of a rule that failed (level from the rule's severity) or could not
be decided (level ``note``), whose value came from an input file: a policy export or a device
file. ``Condition.origins`` holds a ``ValueOrigin`` per place the value came from: the input's
name (``policy 'Name' (id)``) and the JSON path of the value
(``("bitLockerSystemDrivePolicy", "startupAuthenticationTpmPinUsage")``); the input is matched
by name with ``Report.inputs`` and the path is resolved to a line and column by scanning the
file's JSON text (``jsonpath.locate_json_offsets``), so code scanning shows the finding on the
line of the setting. A value several policies agree on (or disagree on, for a conflict) gives
one result with a location in each file.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import attrs
from attrs import frozen

from ..errors import InputError, redact
from ..jsonpath import json_path_text, locate_json_offsets
from ..outcome import (
    Citation,
    Condition,
    InputRecord,
    Report,
    RuleOutcome,
    ScenarioRecord,
    Status,
    ValueOrigin,
    origins_text,
)
from ..reading import STANDARD_INPUT, fleet_format, input_text
from ..resources import installed_version
from ..source import Location, RecordPlace, SourceText, Span
from .masking import masked_report

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "bitlocker-rules"
_LEVELS = {"error": "error", "warning": "warning", "info": "note"}

ReadText = Callable[[str], str | None]


# --- locations -----------------------------------------------------------------------------


class _Locator:
    """Reads input files once each and turns source references into SARIF locations."""

    def __init__(self, inputs: Sequence[InputRecord], read_text: ReadText | None = None) -> None:
        self.inputs = tuple(inputs)
        self.read_text = read_text or _read_file
        self._texts: dict[str, SourceText | None] = {}

    def text(self, file: str) -> SourceText | None:
        if file not in self._texts:
            text = self.read_text(file)
            self._texts[file] = None if text is None else SourceText(text, file)
        return self._texts[file]

    def locations(self, condition: Condition) -> list[dict[str, Any]]:
        """One SARIF location per input the condition's value came from (none if unknown)."""
        found = []
        for ref in condition.origins:
            if ref.path is None:  # not read from a place in a file (a vocabulary grant)
                continue
            candidates = [i for i in self.inputs if i.name == ref.input]
            best = None
            for candidate in candidates:
                located = self._locate(candidate, ref)
                if located is not None and (best is None or located[1] > best[1]):
                    best = located
                if best is not None and best[1] == len(ref.path):
                    break
            if best is not None:
                found.append(best[0])
            elif candidates:
                found.append(_location(candidates[0].file, None, ref))
        return found

    def _locate(self, record: InputRecord, ref: ValueOrigin) -> tuple[dict[str, Any], int] | None:
        source = self.text(record.file)
        if source is None or ref.path is None:
            return None
        try:
            start, end, depth = locate_json_offsets(source.text, ref.path)
        except ValueError:
            return None
        if ref.data_id and depth == len(ref.path):  # an ADMX value: point at its <data id=...>
            inner = source.text.find(ref.data_id, start, end)
            if inner >= 0:
                start, end = inner, inner + len(ref.data_id)
        return _location(record.file, source.location(Span(start, end)), ref), depth


def _read_file(file: str) -> str | None:
    line = _jsonl_line(file)
    if line is not None:
        return _line_text(*line)
    try:
        return input_text(file)
    except InputError:
        return None


# A record of a JSON Lines file, as a snapshot names the policy it read there: ``FILE.jsonl#LINE``.
_JSONL_LINE = re.compile(r"(?P<file>.+\.jsonl)#(?P<line>[1-9][0-9]{0,9})")


def _jsonl_line(file: str) -> tuple[str, int] | None:
    """``(FILE.jsonl, LINE)`` for a record's name of that shape (None for any other file name)."""
    match = _JSONL_LINE.fullmatch(file)
    return (match["file"], int(match["line"])) if match else None


def _line_text(file: str, number: int) -> str | None:
    """Line ``number`` of a JSON Lines file, after as many line ends as lines before it: located
    in this text, a value's line and column are those of the file."""
    try:
        with open(file, encoding="utf-8") as stream:
            for current, line in enumerate(stream, 1):
                if current == number:
                    return "\n" * (number - 1) + line
    except (OSError, UnicodeDecodeError):
        return None
    return None


def artifact_uri(file: str) -> str:
    """A file name as a SARIF artifact URI: relative paths stay relative, with ``/`` (a JSON
    Lines record, ``FILE.jsonl#LINE``, is its file)."""
    line = _jsonl_line(file)
    file = line[0] if line is not None else file
    path = Path(file)
    if path.is_absolute():
        return path.as_uri()
    return quote(str(PurePosixPath(*path.parts)) if path.parts else file, safe="/")


def _location(file: str, region: Location | None, ref: ValueOrigin) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(file)}}
    physical["region"] = (
        {
            "startLine": region.start_line,
            "startColumn": region.start_column,
            "endLine": region.end_line,
            "endColumn": region.end_column,
        }
        if region is not None
        else {"startLine": 1}
    )
    path = json_path_text(ref.path or (), ascii_only=False)
    return {
        "physicalLocation": physical,
        "logicalLocations": [{"fullyQualifiedName": path, "kind": "member"}],
        "message": {"text": " ".join(part for part in (f"{ref.input} {path}", ref.detail()) if part)},
    }


def _rule_location(location: Location | None, message: str, ident: int) -> dict[str, Any] | None:
    """Where a condition is in its rule file, as a SARIF related location."""
    if location is None:
        return None
    return {
        "id": ident,
        "message": {"text": message},
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(location.file)},
            "region": {"startLine": location.start_line, "startColumn": location.start_column},
        },
    }


# --- the log ------------------------------------------------------------------------------------


def _findings(outcome: RuleOutcome, *, on_device: bool = False) -> list[Condition]:
    """The conditions of a rule that become results: failing ones, or undecided ones; those whose
    value came from somewhere, and with ``on_device`` (a fleet, whose rows give places) those on
    device facts too."""
    if outcome.status in (Status.FAIL, Status.WAIVED):
        wanted: tuple[Status, ...] = (Status.FAIL,)
    elif outcome.status is Status.UNKNOWN:
        # A failure the sources disagree on is unknown: its failing conditions are the finding.
        wanted = (Status.UNKNOWN, Status.FAIL) if outcome.caveat else (Status.UNKNOWN,)
    else:
        return []
    return [c for c in outcome.reasons if c.status in wanted and (c.origins or (on_device and _on_device(c)))]


def _level(outcome: RuleOutcome) -> str:
    failed = outcome.status in (Status.FAIL, Status.WAIVED)  # a waived failure keeps its level, suppressed
    return _LEVELS.get(outcome.severity, "warning") if failed else "note"


def _finding_key(outcome: RuleOutcome, condition: Condition) -> tuple[str, str, str, tuple[ValueOrigin, ...]]:
    """What tells a fleet's findings apart: rule, status (a waived one by its waiver), setting, source."""
    status = outcome.status.value if outcome.waiver is None else f"{outcome.status.value}:{outcome.waiver.id}"
    return (outcome.rule, status, condition.fact, condition.origins)


def _suppressions(outcome: RuleOutcome) -> dict[str, Any]:
    """A waived failure's SARIF suppression (kept outside the inputs: ``external``, accepted, with
    the waiver's justification; its id, approver and expiry in the property bag)."""
    if outcome.waiver is None:
        return {}
    w = outcome.waiver
    suppression = {
        "kind": "external",
        "status": "accepted",
        "justification": w.justification,
        "properties": {"waiver": w.id, "approver": w.approver, "expires": w.expires},
    }
    return {"suppressions": [suppression]}


def _rule_name(title: str) -> str:
    """``A startup PIN is not required`` as ``AStartupPINIsNotRequired`` (masked first)."""
    words = re.findall(r"[A-Za-z0-9*]+", redact(title))
    return "".join(word[:1].upper() + word[1:] for word in words) or "Rule"


def _rule_descriptor(outcome: RuleOutcome, cited: Callable[[str], Citation] | None = None) -> dict[str, Any]:
    """A rule of ``tool.driver.rules``: the fix as help, with what the rule encodes (ids with their
    titles, from ``cited``) so that code scanning shows where the requirement comes from."""
    help_text = outcome.remediation or "See the rule's rationale."
    if outcome.events:
        help_text += f" BitLocker event ids: {', '.join(str(e) for e in outcome.events)}."
    cite = cited or (lambda ref: Citation(ref, ""))
    if outcome.encodes:
        help_text += " Encodes " + "; ".join(cite(ref).sentence() for ref in outcome.encodes) + "."
    if outcome.related:
        help_text += " Advice about " + "; ".join(cite(ref).sentence() for ref in outcome.related) + "."
    where = next((cite(ref).url for ref in (*outcome.encodes, *outcome.related) if cite(ref).url), "")
    return {
        "id": outcome.rule,
        "name": _rule_name(outcome.title),
        "shortDescription": {"text": outcome.title},
        "fullDescription": {"text": f"{outcome.title} (ruleset {outcome.ruleset})"},
        "help": {"text": help_text},
        **({"helpUri": where} if where else {}),
        "defaultConfiguration": {"level": _LEVELS.get(outcome.severity, "warning")},
        "properties": {
            "ruleset": outcome.ruleset,
            "severity": outcome.severity,
            "sources": list(outcome.encodes),
            "related": list(outcome.related),
            "scenarios": list(outcome.scenarios),
            "location": str(outcome.location or ""),
            "tags": ["bitlocker", "intune", outcome.ruleset],
        },
    }


def _result(
    outcome: RuleOutcome,
    condition: Condition,
    rule_index: int,
    locations: list[dict[str, Any]],
    devices: int | None = None,
    summary: str | None = None,
) -> dict[str, Any]:
    message = f"{summary or condition.sentence()} ({outcome.rule}: {outcome.title})"
    if outcome.caveat:
        message += f"; unknown because {outcome.caveat}"
    if outcome.status in (Status.FAIL, Status.WAIVED) and outcome.remediation:
        message += f". Fix: {outcome.remediation}"
    if outcome.waiver is not None:
        message += f" ({outcome.waiver.sentence()})"
    properties: dict[str, Any] = {
        "status": outcome.status.value,
        "severity": outcome.severity,
        "fact": condition.fact,
        "label": condition.label,
        "actual": condition.actual,
        "required": condition.required,
        "ruleText": condition.text,
        "ruleLocation": str(condition.location or ""),
        "source": origins_text(condition.origins),
        "decisive": condition.decisive,
    }
    if condition.conflict:
        properties["conflict"] = condition.conflict
    if devices is not None:
        properties["devices"] = devices
    fingerprint = _fingerprint(outcome.ruleset, outcome.rule, condition.fact, origins_text(condition.origins))
    result: dict[str, Any] = {
        "ruleId": outcome.rule,
        "ruleIndex": rule_index,
        "level": _level(outcome),
        "message": {"text": message},
        "locations": locations,
        "partialFingerprints": {"bitlockerRulesFinding/v1": fingerprint},
        **_suppressions(outcome),
        "properties": properties,
    }
    related = _rule_location(condition.location, f"rule text: {condition.text}", 1)
    if related is not None:
        result["relatedLocations"] = [related]
    return result


def _fingerprint(*parts: str) -> str:
    """A finding's partial fingerprint: the same finding in the next run has the same one."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _log(
    rules: list[dict[str, Any]],
    results: list[dict[str, Any]],
    inputs: Sequence[InputRecord],
    bad_rows: Sequence[Any] = (),
    properties: dict[str, Any] | None = None,
    unlisted: int = 0,
    more_files: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": installed_version(),
                "rules": rules,
                "shortDescription": {"text": "Intune BitLocker policies checked against device facts"},
            }
        },
    }
    if bad_rows:  # fleet rows that could not be read: the run did not cover every device
        notifications = [
            {"level": "error", "message": {"text": f"row {bad.number}: {bad.message}"}} for bad in bad_rows
        ]
        if unlisted:
            notifications.append({"level": "error", "message": {"text": f"… and {unlisted} more rows"}})
        run["invocations"] = [{"executionSuccessful": False, "toolExecutionNotifications": notifications}]
    run.update(
        {
            "columnKind": "unicodeCodePoints",
            "artifacts": [
                {"location": {"uri": uri}, "description": {"text": text}}
                for uri, text in [*_input_files(inputs), *more_files]
            ],
            "results": results,
        }
    )
    if properties:
        run["properties"] = properties
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _input_files(inputs: Sequence[InputRecord]) -> list[tuple[str, str]]:
    """Each file the inputs were read from once, as (uri, description): a snapshot's file holds
    many policies (``FILE.jsonl#LINE``), named up to ``_NAMED_INPUTS`` and then counted."""
    named: dict[str, list[str]] = {}
    for record in inputs:
        named.setdefault(artifact_uri(record.file), []).append(f"{record.name} ({record.kind})")
    return [(uri, _names_text(names)) for uri, names in named.items()]


def _names_text(names: list[str]) -> str:
    shown = "; ".join(names[:_NAMED_INPUTS])
    return shown if len(names) <= _NAMED_INPUTS else f"{shown}; and {len(names) - _NAMED_INPUTS} more"


_NAMED_INPUTS = 3


def _dump(log: dict[str, Any]) -> str:
    return masked_report(json.dumps(log, indent=2, ensure_ascii=False) + "\n")


def sarif_log(report: Report, *, read_text: ReadText | None = None) -> dict[str, Any]:
    """A device report as a SARIF log (plain data); ``read_text`` reads an input file's text.

    Findings are located through ``report.inputs`` (the command line fills it in); a report
    without inputs gives a valid log with the rules and no results.
    """
    locator = _Locator(report.inputs, read_text)
    rules, index = _rules(report.outcomes, report.citation)
    results = []
    for outcome in report.outcomes:
        for condition in _findings(outcome):
            locations = locator.locations(condition)
            if locations:
                results.append(_result(outcome, condition, index[outcome.rule], locations))
    properties: dict[str, Any] = {"scenarios": [_scenario(s, report) for s in report.scenarios]}
    if report.waivers_given:
        properties["waiverNotices"] = [n.sentence() for n in report.waiver_notices]
    return _log(rules, results, report.inputs, properties=properties)


def _scenario(scenario: ScenarioRecord, report: Report) -> dict[str, Any]:
    """A scenario of the check for the run's properties: its state, how it was decided, and the
    rules left unknown because it is not known."""
    return {
        "name": scenario.name,
        "label": scenario.label,
        "holds": scenario.holds,
        "how": scenario.how,
        "because": scenario.because,
        "text": scenario.sentence(),
        "notEvaluated": [o.rule for o in report.not_evaluated(scenario.name)],
    }


def render_sarif(report: Report, *, read_text: ReadText | None = None) -> str:
    """A device report as a SARIF 2.1.0 document, secrets masked."""
    return _dump(sarif_log(report, read_text=read_text))


def _rules(
    outcomes: Iterable[RuleOutcome],
    cited: Callable[[str], Citation] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.rule not in index:
            index[outcome.rule] = len(rules)
            rules.append(_rule_descriptor(outcome, cited))
    return rules, index


DEVICE_LOCATIONS = 10  # the failing devices a finding on device facts points at: the first, in file order
_DEVICE_NAMESPACES = ("device", "actor", "action", "tenant")  # facts a device row gives, not a policy


@frozen
class SeenDevice:
    """One device a finding on device facts points at: its name, its row, where the fact is in
    its records (``place.file`` "" for the fleet file) and what its condition says."""

    subject: str
    row: int
    place: RecordPlace
    sentence: str


class _DeviceFinding:
    """A finding on the devices' own facts (rule, status, fact): how many devices have it, and the
    first ``DEVICE_LOCATIONS`` of them, each where the fact is in its records."""

    __slots__ = ("condition", "devices", "outcome", "seen")

    def __init__(self, outcome: RuleOutcome, condition: Condition, devices: int = 0, seen: Iterable[SeenDevice] = ()):
        self.outcome, self.condition, self.devices = outcome, condition, devices
        self.seen = list(seen)


def _on_device(condition: Condition) -> bool:
    """Whether a condition reads a fact a device gives (its row, its joined records), not a policy."""
    return condition.fact.partition(".")[0] in _DEVICE_NAMESPACES


def _seen(result: Any, condition: Condition, places: Mapping[str, RecordPlace]) -> SeenDevice | None:
    """Where ``condition``'s fact is in ``result``'s device (a field of a record: its record's
    place), or None when the reader gave no place."""
    fact = condition.fact.split("[", 1)[0]  # device.volumes[1].x: the collection's place
    place = places.get(fact) or places.get("")
    return SeenDevice(result.subject, result.number, place, condition.sentence()) if place else None


class FleetSarif:
    """SARIF for a fleet: each finding once, with how many devices it affects.

    Feed it every device's report as the fleet streams (``add``: a ``Report``, or a
    ``fleet.DeviceResult``, whose outcomes are the failed and unknown ones); memory holds one
    entry per distinct finding, not per device. A finding on a policy's setting (rule, setting,
    source) is located in the policy's file. A finding on the devices' own facts (rule, status,
    fact) points at the records of the first ``DEVICE_LOCATIONS`` devices that have it, in
    file order (``DeviceResult.places``: the fleet file's row, or a snapshot's joined record);
    the others are counted. ``rules`` (outcomes of every rule, for ``tool.driver.rules``) and
    ``citations`` may be given up front; otherwise they come from the reports added. It is a
    collector (``fleet.parallel.Collector``): ``take`` in a worker process, ``merge`` in the
    reading one, in row order, so the devices pointed at are those one process would choose.
    """

    def __init__(
        self,
        inputs: Sequence[InputRecord],
        *,
        read_text: ReadText | None = None,
        rules: Iterable[RuleOutcome] = (),
        citations: Iterable[Citation] = (),
    ) -> None:
        self.inputs = tuple(inputs)
        self._read_text = read_text
        self._locator: _Locator | None = None
        self._outcomes: dict[str, RuleOutcome] = {}
        for outcome in rules:
            self._outcomes.setdefault(outcome.rule, _bare(outcome))
        # key -> [outcome, condition, locations, devices]
        self._found: dict[tuple[str, str, str, tuple[ValueOrigin, ...]], list] = {}
        # devices per finding since the last take()
        self._counted: dict[tuple[str, str, str, tuple[ValueOrigin, ...]], int] = {}
        self._by_outcome: dict[int, tuple[RuleOutcome, list, list]] = {}
        self._citations: dict[str, Citation] = {c.id: c for c in citations}
        self._devices: dict[tuple[str, str, str], _DeviceFinding] = {}
        # devices per device finding since the last take(), and how many of its seen were taken
        self._devices_counted: dict[tuple[str, str, str], int] = {}
        self._devices_taken: dict[tuple[str, str, str], int] = {}

    def __getstate__(self) -> dict[str, Any]:  # a worker process reads the files itself
        return {**self.__dict__, "_locator": None, "_by_outcome": {}}

    def add(self, report: Any) -> None:
        """Count the findings of one device."""
        if not self._citations:  # the same rules on every device: the first report's
            self._citations = {c.id: c for c in getattr(report, "citations", ())}
        if self._locator is None:
            self._locator = _Locator(self.inputs, self._read_text)
        places: Mapping[str, RecordPlace] | None = None
        for outcome in report.outcomes:
            if outcome.rule not in self._outcomes:
                self._outcomes[outcome.rule] = _bare(outcome)
            keys, on_device = self._keys(outcome)
            for key in keys:
                self._found[key][3] += 1
                self._counted[key] = self._counted.get(key, 0) + 1
            for finding, condition in on_device:
                entry = self._devices[finding]
                entry.devices += 1
                self._devices_counted[finding] = self._devices_counted.get(finding, 0) + 1
                if len(entry.seen) < DEVICE_LOCATIONS and hasattr(report, "places"):
                    places = report.places() if places is None else places  # once per device, for its first few
                    seen = _seen(report, condition, places)
                    if seen is not None:
                        entry.seen.append(seen)

    def _keys(
        self, outcome: RuleOutcome
    ) -> tuple[list[tuple[str, str, str, tuple[ValueOrigin, ...]]], list[tuple[tuple[str, str, str], Condition]]]:
        """The keys of an outcome's findings located in an input file, and those of its findings
        on device facts with their conditions (remembered by outcome: a fleet's devices share
        their explanations)."""
        known = self._by_outcome.get(id(outcome))
        if known is not None and known[0] is outcome:
            return known[1], known[2]
        keys: list[tuple[str, str, str, tuple[ValueOrigin, ...]]] = []
        on_device: list[tuple[tuple[str, str, str], Condition]] = []
        locator = self._locator or _Locator(self.inputs, self._read_text)
        self._locator = locator
        for condition in _findings(outcome, on_device=True):
            if _on_device(condition):
                device_key = _finding_key(outcome, condition)[:3]
                if device_key not in self._devices:
                    self._devices[device_key] = _DeviceFinding(outcome, condition)
                if all(device_key != k for k, _ in on_device):  # two conditions on one fact: one device
                    on_device.append((device_key, condition))
                continue
            key = _finding_key(outcome, condition)
            if key not in self._found:
                locations = locator.locations(condition)
                if not locations:  # a setting no policy file gives (a default): nowhere to point
                    continue
                self._found[key] = [outcome, condition, locations, 0]
            keys.append(key)
        if len(self._by_outcome) >= _OUTCOMES_REMEMBERED:
            self._by_outcome.clear()
        self._by_outcome[id(outcome)] = (outcome, keys, on_device)  # the outcome held, so its id stays its own
        return keys, on_device

    def take(self) -> tuple[list[list], list[_DeviceFinding]]:
        """The findings counted since the last take, each with that count, and the device
        findings with theirs and the devices seen since (for ``merge``)."""
        taken = [[*self._found[key][:3], devices] for key, devices in self._counted.items()]
        self._counted.clear()
        on_device = []
        for key, devices in self._devices_counted.items():
            entry, first = self._devices[key], self._devices_taken.get(key, 0)
            on_device.append(_DeviceFinding(entry.outcome, entry.condition, devices, entry.seen[first:]))
            self._devices_taken[key] = len(entry.seen)
        self._devices_counted.clear()
        return taken, on_device

    def merge(self, part: tuple[Iterable[list], Iterable[_DeviceFinding]]) -> None:
        """Add the findings another process took (parts merged in row order)."""
        findings, on_device = part
        for outcome, condition, locations, devices in findings:
            key = _finding_key(outcome, condition)
            self._outcomes.setdefault(outcome.rule, _bare(outcome))
            entry = self._found.setdefault(key, [outcome, condition, locations, 0])
            entry[3] += devices
        for taken in on_device:
            self._outcomes.setdefault(taken.outcome.rule, _bare(taken.outcome))
            finding = _finding_key(taken.outcome, taken.condition)[:3]
            mine = self._devices.setdefault(finding, _DeviceFinding(taken.outcome, taken.condition))
            mine.devices += taken.devices
            mine.seen.extend(taken.seen[: DEVICE_LOCATIONS - len(mine.seen)])

    def log(self, bad_rows: Sequence[Any] = (), unlisted: int = 0) -> dict[str, Any]:
        """The SARIF log (plain data); ``bad_rows`` (``fleet.BadRow``) become error notifications
        (and ``unlisted``, how many more there were, one more)."""
        rules, index = _rules(self._outcomes.values(), lambda ref: self._citations.get(ref, Citation(ref, "")))
        results = [
            _result(outcome, condition, index[outcome.rule], locations, devices)
            for outcome, condition, locations, devices in self._found.values()
        ]
        records = _RecordLines(self.inputs, self._read_text)
        unlocated = []
        for entry in self._devices.values():
            located = [location for seen in entry.seen if (location := records.location(seen)) is not None]
            if located:
                results.append(_device_result(entry, index[entry.outcome.rule], located))
            else:  # no device's record can be pointed at (a fleet read from standard input)
                unlocated.append(_unlocated(entry))
        log = _log(rules, results, self.inputs, bad_rows, unlisted=unlisted, more_files=records.files())
        if unlocated:
            log["runs"][0].setdefault("properties", {})["deviceFindingsWithoutLocation"] = unlocated
        return log

    def render(
        self,
        bad_rows: Sequence[Any] = (),
        unlisted: int = 0,
        unscoped: int = 0,
        waiver_notices: Sequence[str] | None = None,
    ) -> str:
        """The SARIF 2.1.0 document, secrets masked; ``unscoped``: devices in no policy's scope
        (the run's property ``unscopedDevices``); ``waiver_notices``: given waivers, their
        warnings (the run's property ``waiverNotices``)."""
        log = self.log(bad_rows, unlisted)
        if unscoped:
            log["runs"][0].setdefault("properties", {})["unscopedDevices"] = unscoped
        if waiver_notices is not None:
            log["runs"][0].setdefault("properties", {})["waiverNotices"] = list(waiver_notices)
        return _dump(log)


_OUTCOMES_REMEMBERED = 50_000


def _device_result(entry: _DeviceFinding, rule_index: int, located: list[dict[str, Any]]) -> dict[str, Any]:
    """A finding on device facts: one result, located at its first device's record; the next
    devices' records are related locations. SARIF 2.1.0 (3.27.12) keeps ``locations`` for places
    that must all change together, never for occurrences fixed one by one, as devices are."""
    outcome, condition, devices = entry.outcome, entry.condition, entry.devices
    verb = "leaves the rule undecided" if outcome.status is Status.UNKNOWN else "fails the rule"
    needs = "the rule applies when it is" if condition.role == "when" else "the rule needs"
    summary = f"{condition.label} {verb} on {devices} device{'s' if devices != 1 else ''}; {needs} {condition.required}"
    result = _result(outcome, attrs.evolve(condition, origins=()), rule_index, located[:1], devices, summary)
    properties = result["properties"]
    del properties["actual"]  # each device's own, in its location's message
    properties["source"] = "device records"
    properties["devicesLocated"] = len(located)
    properties["devicesWithoutLocation"] = devices - len(located)
    related = result.setdefault("relatedLocations", [])
    related.extend({"id": i, **location} for i, location in enumerate(located[1:], start=len(related) + 1))
    result["partialFingerprints"] = {
        "bitlockerRulesFinding/v1": _fingerprint(outcome.ruleset, outcome.rule, condition.fact, "device records")
    }
    if not related:
        del result["relatedLocations"]
    return result


def _unlocated(entry: _DeviceFinding) -> dict[str, Any]:
    """A finding on device facts whose devices' records cannot be pointed at, for the run's properties."""
    return {
        "ruleId": entry.outcome.rule,
        "status": entry.outcome.status.value,
        "fact": entry.condition.fact,
        "devices": entry.devices,
    }


class _RecordLines:
    """The records device findings point at, read back once each: with its byte offset a line
    is one seek away (a snapshot's joined files); the fleet file's lines are read in one pass
    up to the last one wanted, after the run, only for the few devices shown."""

    def __init__(self, inputs: Sequence[InputRecord], read_text: ReadText | None = None) -> None:
        self.read_text = read_text
        self._array: SourceText | None = None
        fleet = next((i.file for i in inputs if i.kind == "fleet"), None)
        self.fleet = fleet if fleet is not None and fleet != STANDARD_INPUT else None
        self.known = {i.file for i in inputs}
        self._more: dict[str, str] = {}
        self._lines: dict[tuple[str, int], str | None] = {}
        self._format: str | None = None

    def location(self, seen: SeenDevice) -> dict[str, Any] | None:
        """``seen``'s location: its record's line, and the column of the fact's key when the
        record gives it by name (no snippet: a record can hold a secret)."""
        file = seen.place.file or self.fleet
        if file is None:
            return None
        if file not in self.known:
            self._more.setdefault(file, f"{Path(file).name} (joined device records)")
        kind = self._fleet_format() if not seen.place.file else "jsonl"
        path = (seen.row - 1, *(seen.place.path or ())) if kind == "array" else seen.place.path or ()
        region = self._element_region(file, path) if kind == "array" else self._line_region(file, seen.place, kind)
        location: dict[str, Any] = {
            "physicalLocation": {"artifactLocation": {"uri": artifact_uri(file)}, "region": region},
            "message": {"text": f"{seen.subject}, row {seen.row}: {seen.sentence}"},
        }
        if path and kind != "csv":  # a JSON path names a member of a JSON record, not a CSV cell
            member = {"fullyQualifiedName": json_path_text(path, ascii_only=False), "kind": "member"}
            location["logicalLocations"] = [member]
        return location

    def files(self) -> list[tuple[str, str]]:
        """The files pointed at beyond the inputs (a snapshot's joined records), as (uri, description)."""
        return [(artifact_uri(file), text) for file, text in self._more.items()]

    def _line_region(self, file: str, place: RecordPlace, kind: str) -> dict[str, int]:
        """A JSON Lines record's line, with the key's columns; a CSV row's line."""
        region = {"startLine": place.line}
        text = self._line(file, place) if kind == "jsonl" and place.path else None
        if text is None or not place.path:
            return region
        try:
            start, end, depth = locate_json_offsets(text, place.path)
        except ValueError:  # not JSON after all: its line only
            return region
        if depth == len(place.path):
            region.update(startColumn=start + 1, endLine=place.line, endColumn=end + 1)
        return region

    def _element_region(self, file: str, path: tuple) -> dict[str, int]:
        """An element of a JSON array fleet (its number is no line): the value located in the file's text."""
        if self._array is None:
            self._array = _Locator((), self.read_text).text(file) or SourceText("", file)
        try:
            start, end, _ = locate_json_offsets(self._array.text, path)
        except ValueError:
            return {"startLine": 1}
        where = self._array.location(Span(start, end))
        return {
            "startLine": where.start_line,
            "startColumn": where.start_column,
            "endLine": where.end_line,
            "endColumn": where.end_column,
        }

    def _line(self, file: str, place: RecordPlace) -> str | None:
        key = (file, place.line)
        if key not in self._lines:
            self._lines[key] = _read_line(file, place)
        return self._lines[key]

    def _fleet_format(self) -> str:
        if self._format is None:
            self._format = _file_format(self.fleet) if self.fleet is not None else "jsonl"
        return self._format


def _read_line(file: str, place: RecordPlace) -> str | None:
    """Line ``place.line`` of ``file`` (from its byte offset when known), or None when it cannot be read."""
    try:
        with open(file, "rb") as stream:
            if place.offset is not None:
                stream.seek(place.offset)
                raw = stream.readline()
            else:
                raw = next(itertools.islice(stream, place.line - 1, None), b"")
        return raw.decode("utf-8-sig" if place.line == 1 else "utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        return None


def _file_format(file: str) -> str:
    """How the fleet file was read (``reading.fleet_format``), from its first byte that is not white space."""
    try:
        with open(file, "rb") as stream:
            head = stream.read(_HEAD).lstrip()[:1]
    except OSError:
        return "jsonl"
    return fleet_format(file, head)


_HEAD = 1 << 16


def _bare(outcome: RuleOutcome) -> RuleOutcome:
    return RuleOutcome(
        outcome.ruleset,
        outcome.rule,
        outcome.title,
        outcome.severity,
        outcome.encodes,
        Status.PASS,
        (),
        outcome.remediation,
        outcome.events,
        outcome.location,
        related=outcome.related,
        scenarios=outcome.scenarios,
    )
