"""SARIF 2.1.0: a device's findings, and a fleet's, as results a code-scanning tool shows.

A result is one condition of a rule that failed (level from the rule's severity) or could not
be decided (level ``note``). For a device, and for a fleet's policy settings, it is a
condition whose value came from an input file: a policy export or a device file, located
there (``sarif_locations.Locator``: the line and column of the setting); a value several
policies agree on (or disagree on, for a conflict) gives one result with a location in each
file. A fleet's finding on its devices' own facts is one result per rule, status and fact,
pointing at the records of the first ``DEVICE_LOCATIONS`` devices that have it
(``sarif_locations.RecordLines``), the others counted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import redact
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
from ..resources import installed_version
from ..source import RecordPlace
from .masking import masked_report
from .sarif_locations import Locator, ReadText, RecordLines, SeenDevice, artifact_uri, rule_location

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "bitlocker-rules"
_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


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


_FindingKey = tuple[str, str, str, tuple[ValueOrigin, ...]]  # rule, status, fact, where its value came from


def _finding_key(outcome: RuleOutcome, condition: Condition) -> _FindingKey:
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
    related = rule_location(condition.location, f"rule text: {condition.text}", 1)
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
    locator = Locator(report.inputs, read_text)
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


class _Remembered:
    """What ``FleetSarif`` keeps of one outcome object (shared by the devices it explains): its
    findings' keys, its device findings with their conditions, the devices counted since the
    last ``_flush``, and whether a device finding of it still wants devices to point at."""

    __slots__ = ("devices", "keys", "on_device", "open", "outcome")

    def __init__(self, outcome: RuleOutcome, keys: list, on_device: list[tuple[_DeviceFinding, Condition]]) -> None:
        self.outcome, self.keys, self.on_device, self.devices = outcome, keys, on_device, 0
        self.open = bool(on_device)


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
        self._locator: Locator | None = None
        self._outcomes: dict[str, RuleOutcome] = {}
        for outcome in rules:
            self._outcomes.setdefault(outcome.rule, _bare(outcome))
        # key -> [outcome, condition, locations, devices]
        self._found: dict[_FindingKey, list] = {}
        # devices per finding since the last take()
        self._counted: dict[_FindingKey, int] = {}
        self._by_outcome: dict[int, _Remembered] = {}
        self._citations: dict[str, Citation] = {c.id: c for c in citations}
        self._devices: dict[tuple[str, str, str], _DeviceFinding] = {}
        # per device finding, its devices and its seen at the last take()
        self._devices_taken: dict[tuple[str, str, str], tuple[int, int]] = {}
        # take(): what this collector is in the parts it gives, and the index of each finding and
        # device finding it has given (what a finding is crosses once; then its index and counts)
        self._source: bytes | None = None
        self._sent: dict[_FindingKey, int] = {}
        self._sent_devices: dict[tuple[str, str, str], int] = {}
        # merge(): per collector that gave parts, its findings' and device findings' keys by index
        self._received: dict[bytes, tuple[dict[int, _FindingKey], dict[int, tuple[str, str, str]]]] = {}

    def __getstate__(self) -> dict[str, Any]:  # a worker process reads the files itself
        self._flush()
        return {**self.__dict__, "_locator": None, "_by_outcome": {}}

    def add(self, report: Any) -> None:
        """Count the findings of one device: once per outcome (a fleet's devices share their
        explanations), the findings' counts made from it when they are read (``_flush``)."""
        if not self._citations:  # the same rules on every device: the first report's
            self._citations = {c.id: c for c in getattr(report, "citations", ())}
        places: Mapping[str, RecordPlace] | None = None
        for outcome in report.outcomes:
            known = self._by_outcome.get(id(outcome))
            if known is None or known.outcome is not outcome:
                known = self._remember(outcome)
            known.devices += 1
            if known.open:  # one of its device findings points at fewer devices than it may
                places = self._see(report, known, places)

    def _see(
        self, result: Any, known: _Remembered, places: Mapping[str, RecordPlace] | None
    ) -> Mapping[str, RecordPlace] | None:
        """Point ``known``'s device findings that want more devices at ``result``'s records; its
        places, asked once per device."""
        if not hasattr(result, "places"):  # a Report: no device records to point at
            known.open = False
            return places
        places = result.places() if places is None else places
        for entry, condition in known.on_device:
            if len(entry.seen) < DEVICE_LOCATIONS:
                seen = _seen(result, condition, places)
                if seen is not None:
                    entry.seen.append(seen)
        known.open = any(len(entry.seen) < DEVICE_LOCATIONS for entry, _ in known.on_device)
        return places

    def _remember(self, outcome: RuleOutcome) -> _Remembered:
        """An outcome seen for the first time: its findings located in an input file (by key) and
        its findings on device facts with their conditions."""
        if outcome.rule not in self._outcomes:
            self._outcomes[outcome.rule] = _bare(outcome)
        keys: list[_FindingKey] = []
        on_device: list[tuple[_DeviceFinding, Condition]] = []
        locator = self._locator or Locator(self.inputs, self._read_text)
        self._locator = locator
        for condition in _findings(outcome, on_device=True):
            if _on_device(condition):
                entry = self._devices.setdefault(
                    _finding_key(outcome, condition)[:3], _DeviceFinding(outcome, condition)
                )
                if all(entry is not e for e, _ in on_device):  # two conditions on one fact: one device
                    on_device.append((entry, condition))
                continue
            key = _finding_key(outcome, condition)
            if key not in self._found:
                locations = locator.locations(condition)
                if not locations:  # a setting no policy file gives (a default): nowhere to point
                    continue
                self._found[key] = [outcome, condition, locations, 0]
            keys.append(key)
        if len(self._by_outcome) >= _OUTCOMES_REMEMBERED:
            self._flush()
            self._by_outcome.clear()
        known = _Remembered(outcome, keys, on_device)  # the outcome held, so that its id stays its own
        self._by_outcome[id(outcome)] = known
        return known

    def _flush(self) -> None:
        """Move the devices counted per outcome into its findings' counts."""
        for known in self._by_outcome.values():
            if known.devices:
                for key in known.keys:
                    self._found[key][3] += known.devices
                    self._counted[key] = self._counted.get(key, 0) + known.devices
                for entry, _ in known.on_device:
                    entry.devices += known.devices
                known.devices = 0

    def take(self) -> tuple[bytes, list[tuple], list[tuple]]:
        """What was counted since the last take, for ``merge``: which collector gives it, each
        finding counted with its devices, and each device finding with its devices and the
        devices seen since. A finding's outcome, condition and locations (a device finding's
        outcome and condition) are given the first time only, with its index; then its index
        alone (they are most of what crosses between processes, and never change)."""
        self._flush()
        if self._source is None:  # made where the parts are taken: a forked worker's copy makes its own
            self._source = os.urandom(8)
        taken = [
            _given(self._sent, key, (devices,), tuple(self._found[key][:3])) for key, devices in self._counted.items()
        ]
        self._counted.clear()
        on_device = []
        for key, entry in self._devices.items():
            devices, seen = self._devices_taken.get(key, (0, 0))
            if entry.devices > devices:
                counts = (entry.devices - devices, entry.seen[seen:])
                on_device.append(_given(self._sent_devices, key, counts, (entry.outcome, entry.condition)))
                self._devices_taken[key] = (entry.devices, len(entry.seen))
        return self._source, taken, on_device

    def merge(self, part: tuple[bytes, Iterable[tuple], Iterable[tuple]]) -> None:
        """Add what another collector took (its parts merged in the order it took them, and all
        parts in row order)."""
        source, findings, on_device = part
        keys, device_keys = self._received.setdefault(source, ({}, {}))
        for index, devices, *first in findings:
            if first:
                outcome, condition, locations = first
                keys[index] = key = _finding_key(outcome, condition)
                self._outcomes.setdefault(outcome.rule, _bare(outcome))
                self._found.setdefault(key, [outcome, condition, locations, 0])
            self._found[keys[index]][3] += devices
        for index, devices, seen, *first in on_device:
            if first:
                outcome, condition = first
                device_keys[index] = finding = _finding_key(outcome, condition)[:3]
                self._outcomes.setdefault(outcome.rule, _bare(outcome))
                self._devices.setdefault(finding, _DeviceFinding(outcome, condition))
            mine = self._devices[device_keys[index]]
            mine.devices += devices
            mine.seen.extend(seen[: DEVICE_LOCATIONS - len(mine.seen)])

    def log(self, bad_rows: Sequence[Any] = (), unlisted: int = 0) -> dict[str, Any]:
        """The SARIF log (plain data); ``bad_rows`` (``fleet.BadRow``) become error notifications
        (and ``unlisted``, how many more there were, one more)."""
        self._flush()
        rules, index = _rules(self._outcomes.values(), lambda ref: self._citations.get(ref, Citation(ref, "")))
        results = [
            _result(outcome, condition, index[outcome.rule], locations, devices)
            for outcome, condition, locations, devices in self._found.values()
        ]
        records = RecordLines(self.inputs, self._read_text)
        records.read(seen for entry in self._devices.values() for seen in entry.seen)
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


def _given(sent: dict[Any, int], key: Any, counts: tuple, what: tuple) -> tuple:
    """A finding as ``take`` gives it: its index and ``counts``, with ``what`` it is the first
    time (its index noted in ``sent``)."""
    index = sent.get(key)
    if index is not None:
        return (index, *counts)
    sent[key] = index = len(sent)
    return (index, *counts, *what)


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
