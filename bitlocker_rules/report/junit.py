"""JUnit XML for CI pipelines: one test case per rule.

One ``<testsuite>`` per ruleset, one ``<testcase>`` per rule: ``classname`` is the ruleset,
``name`` is ``RULE-ID title``. For one device, a failed rule has a ``<failure>`` (message:
the first reason; text: every reason, the fix and the event ids); a rule that does not apply
is ``<skipped>`` with the condition that was false. A rule that could not be decided
(``unknown``) is ``<skipped>`` too, with a message that starts ``unknown:`` and names the
missing or conflicting settings: like the exit code, which ``unknown`` never makes 1, a CI
run does not go red for what could not be decided, yet the reason is shown.

A fleet keeps the same test cases, one per rule (so a pipeline's history follows each rule
from run to run): a rule that fails on any device has a ``<failure>`` that says on how many,
the most common reasons, the first devices that fail it and one example explained; the rows
that could not be read are an ``<error>``. Its size does not grow with the fleet: a few
devices are named per rule, the rest are counted (``--jsonl`` lists every device).
Elements are built with ``xml.etree`` (escaping is automatic); characters XML cannot hold
are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from io import StringIO
from typing import Any, TextIO

from ..outcome import Citation, Condition, Report, RuleOutcome, Status, origins_text
from .fleet_detail import RuleExamples, examples_by_rule, reasons_by_rule
from .masking import masked_report
from .wording import citations, plural

SUITES_NAME = "bitlocker-rules"
# The fleet's records (``fleet.FleetSummary``, ``RuleTally``, ``DeviceResult``) rank above the
# renderers, which cannot import them: they are read by their attributes, typed ``Any``.
_CaseKey = tuple[str, str, Status]  # ruleset, rule, status
_Examples = Mapping[tuple[str, Status], RuleOutcome]  # one outcome explained per rule and status
_Reasons = Mapping[str, list[tuple[str, int]]]  # per rule, its most common failure reasons with their counts
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: object) -> str:
    return _NOT_XML.sub("", str(text))


def _deciding(outcome: RuleOutcome) -> list[Condition]:
    """The reasons to name first: decisive failing ones for a failure, else all of them."""
    if outcome.status is Status.FAIL:
        failing = [c for c in outcome.reasons if c.status is Status.FAIL]
        return [c for c in failing if c.decisive] or failing or list(outcome.reasons)
    return list(outcome.reasons)


def _first_reason(outcome: RuleOutcome) -> str:
    if outcome.caveat:  # the facts decide, the sources do not: that is the reason
        return outcome.caveat
    deciding = _deciding(outcome)
    return deciding[0].sentence() if deciding else outcome.title


def _details(outcome: RuleOutcome, report: Report) -> str:
    lines = [f"{cited[:1].upper()}{cited[1:]}" for cited in citations(outcome, report)]
    if outcome.caveat:
        lines.append(f"unknown because {outcome.caveat}")
    for c in outcome.reasons:
        lines.append(f"- {c.sentence()}")
        if c.text:
            lines.append(f"    rule text: {c.text}" + (f"  ({c.location})" if c.location else ""))
        if c.origins:
            lines.append(f"    value from: {origins_text(c.origins)}")
    if outcome.waiver is not None:
        lines.append(outcome.waiver.sentence())
    if outcome.status in (Status.FAIL, Status.UNKNOWN, Status.WAIVED) and outcome.remediation:
        lines.append(f"fix: {outcome.remediation}")
    if outcome.events:
        lines.append(f"events: {', '.join(str(e) for e in outcome.events)}")
    if outcome.location:
        lines.append(f"rule: {outcome.location}")
    return "\n".join(lines)


def _testcase(outcome: RuleOutcome, verbose: bool, report: Report) -> ET.Element:
    case = ET.Element(
        "testcase",
        {
            "classname": _clean(outcome.ruleset),
            "name": _clean(f"{outcome.rule} {outcome.title}"),
            "time": "0",
        },
    )
    if outcome.location:
        case.set("file", _clean(outcome.location.file))
    if outcome.status is Status.FAIL:
        failure = ET.SubElement(
            case, "failure", {"message": _clean(_first_reason(outcome)), "type": _clean(outcome.severity)}
        )
        failure.text = _clean(_details(outcome, report))
    elif outcome.status is Status.NOT_APPLICABLE:
        message = _first_reason(outcome) if outcome.reasons else "The rule does not apply"
        ET.SubElement(case, "skipped", {"message": _clean(message)})
    elif outcome.status is Status.WAIVED and outcome.waiver is not None:
        # Accepted, not passed: skipped with the waiver's reason (type waived), the failure's reasons kept.
        message = f"{outcome.waiver.sentence()}; fails: {_first_reason(outcome)}"
        skipped = ET.SubElement(case, "skipped", {"message": _clean(message), "type": "waived"})
        skipped.text = _clean(_details(outcome, report))
    elif outcome.status is Status.UNKNOWN:
        message = "unknown" + (f": {_first_reason(outcome)}" if outcome.reasons else "")
        skipped = ET.SubElement(case, "skipped", {"message": _clean(message), "type": "unknown"})
        skipped.text = _clean(_details(outcome, report))
    elif verbose and outcome.reasons:
        ET.SubElement(case, "system-out").text = _clean(_details(outcome, report))
    return case


def report_suites(report: Report, *, fleet: bool = False, verbose: bool = False) -> list[ET.Element]:
    """The ``<testsuite>`` elements of one device: one per ruleset, in report order."""
    by_ruleset: dict[str, list[RuleOutcome]] = {}
    for outcome in report.outcomes:
        by_ruleset.setdefault(outcome.ruleset, []).append(outcome)
    suites = []
    for ruleset, outcomes in by_ruleset.items():
        count = {s: sum(1 for o in outcomes if o.status is s) for s in Status}
        name = f"{ruleset} ({report.subject})" if fleet and report.subject else ruleset
        suite = ET.Element(
            "testsuite",
            {
                "name": _clean(name),
                "tests": str(len(outcomes)),
                "failures": str(count[Status.FAIL]),
                "errors": "0",
                "skipped": str(count[Status.UNKNOWN] + count[Status.NOT_APPLICABLE] + count[Status.WAIVED]),
                "time": "0",
            },
        )
        if report.subject:
            suite.set("hostname", _clean(report.subject))
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", {"name": "subject", "value": _clean(report.subject)})
        ET.SubElement(properties, "property", {"name": "unknown", "value": str(count[Status.UNKNOWN])})
        ET.SubElement(properties, "property", {"name": "not_applicable", "value": str(count[Status.NOT_APPLICABLE])})
        if report.waivers_given:
            ET.SubElement(properties, "property", {"name": "waived", "value": str(count[Status.WAIVED])})
        for scenario in report.relevant_scenarios():  # what the check is about, and how that was decided
            ET.SubElement(
                properties,
                "property",
                {"name": _clean(scenario.fact), "value": _clean(f"{scenario.state}, {scenario.provenance()}")},
            )
        for outcome in outcomes:
            suite.append(_testcase(outcome, verbose, report))
        suites.append(suite)
    return suites


_HEADER = f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="{SUITES_NAME}">\n'
_FOOTER = "</testsuites>\n"


def _suite_texts(report: Report, *, fleet: bool, verbose: bool) -> Iterator[str]:
    """The suites of one device as the document writes them: indented, one line after each (unmasked)."""
    for suite in report_suites(report, fleet=fleet, verbose=verbose):
        ET.indent(suite, space="  ", level=1)
        yield "  " + ET.tostring(suite, encoding="unicode") + "\n"


class JUnitWriter:
    """Writes a JUnit document to ``stream`` one device at a time (``add``), then ``close``."""

    def __init__(self, stream: TextIO, *, fleet: bool = False, verbose: bool = False) -> None:
        self.stream, self.fleet, self.verbose = stream, fleet, verbose
        stream.write(_HEADER)

    def add(self, report: Report) -> None:
        """Write the suites of one device, each masked as it leaves."""
        for text in _suite_texts(report, fleet=self.fleet, verbose=self.verbose):
            self.stream.write(masked_report(text))

    def close(self) -> None:
        """End the document."""
        self.stream.write(_FOOTER)


def render_junit(reports: Report | Iterable[Report], *, verbose: bool = False) -> str:
    """JUnit XML for one device ``Report`` or for a fleet (an iterable of reports), secrets masked.

    For a fleet each suite is named ``ruleset (device)`` and carries the device as ``hostname``.
    """
    fleet = not isinstance(reports, Report)
    suites = "".join(
        text
        for report in ([reports] if isinstance(reports, Report) else reports)
        for text in _suite_texts(report, fleet=fleet, verbose=verbose)
    )
    return masked_report(_HEADER + suites + _FOOTER)


# ---------------------------------------------------------------------------------------------
# A fleet: one test case per rule, its devices counted and a few named.

DEVICES_PER_CASE = 20  # how many devices a fleet's test case names for each verdict
FLEET_INPUT_SUITE = "fleet input"


class FleetCases:
    """What a fleet's test cases show beyond the counts: per rule, the first devices that fail
    it or leave it unknown, and an example of each. A collector (``fleet.parallel.Collector``):
    bounded however large the fleet, and merged from worker processes with the same result."""

    def __init__(self, limit: int = DEVICES_PER_CASE) -> None:
        self.limit = limit
        self.devices: dict[tuple[str, str, Status], list[str]] = {}
        self._new: dict[tuple[str, str, Status], list[str]] = {}  # named since the last take()
        self.examples = RuleExamples()

    def add(self, result: Any) -> None:
        """Take one device's result (a ``fleet.DeviceResult``)."""
        devices, limit = self.devices, self.limit
        for outcome in result.outcomes:
            key = (outcome.ruleset, outcome.rule, outcome.status)
            named = devices.get(key)
            if named is None or len(named) < limit:  # most rules soon have their devices named
                self._name(key, [result.subject], self._new)
        if self.examples.wants(result.outcomes):
            self.examples.add(result.report())

    def _name(self, key: _CaseKey, subjects: list[str], new: dict[_CaseKey, list[str]] | None = None) -> None:
        named = self.devices.setdefault(key, [])
        for subject in subjects[: max(0, self.limit - len(named))]:
            named.append(subject)
            if new is not None:
                new.setdefault(key, []).append(subject)

    def take(self) -> tuple[dict, list[RuleOutcome]]:
        """What was gathered since the last take."""
        taken, self._new = self._new, {}
        return taken, self.examples.take()

    def merge(self, part: tuple[dict, list[RuleOutcome]]) -> None:
        """Add what another process gathered (parts in row order)."""
        named, outcomes = part
        for key, subjects in named.items():
            self._name(key, subjects)
        self.examples.merge(outcomes)


def render_fleet_junit(
    summary: Any, cases: FleetCases, *, citations: Sequence[Citation] = (), verbose: bool = False
) -> str:
    """JUnit XML for a fleet (``fleet.FleetSummary``): a suite per ruleset, a case per rule,
    and a ``fleet input`` suite whose case has an ``<error>`` when rows could not be read."""
    cited = Report("", (), citations=tuple(citations))
    examples = examples_by_rule(cases.examples.outcomes())
    reasons = reasons_by_rule(summary.reason_counts)
    out = StringIO()
    out.write(_HEADER)
    by_ruleset: dict[str, list] = {}
    for tally in summary.rules:
        by_ruleset.setdefault(tally.ruleset, []).append(tally)
    suites = [
        _fleet_suite(ruleset, tallies, summary, cases, examples, reasons, cited, verbose)
        for ruleset, tallies in by_ruleset.items()
    ]
    for suite in [*suites, _input_suite(summary)]:
        ET.indent(suite, space="  ", level=1)
        out.write("  " + ET.tostring(suite, encoding="unicode") + "\n")
    out.write(_FOOTER)
    return masked_report(out.getvalue())


def _fleet_suite(
    ruleset: str,
    tallies: list[Any],
    summary: Any,
    cases: FleetCases,
    examples: _Examples,
    reasons: _Reasons,
    cited: Report,
    verbose: bool,
) -> ET.Element:
    failures = sum(1 for t in tallies if t.counts["fail"])
    skipped = sum(
        1
        for t in tallies
        if not t.counts["fail"] and (t.counts["unknown"] or t.counts.get("waived") or not t.counts["pass"])
    )
    suite = ET.Element(
        "testsuite",
        {
            "name": _clean(ruleset),
            "tests": str(len(tallies)),
            "failures": str(failures),
            "errors": "0",
            "skipped": str(skipped),
            "time": "0",
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("devices", summary.devices),
        ("failed_devices", summary.failed_devices),
        ("rows_not_read", summary.bad_row_count),
        # in no BitLocker policy's scope: only where assignments leave some device without a policy
        *((("unscoped_devices", summary.unscoped_devices),) if summary.unscoped_devices else ()),
        *((("waived", sum(summary.waived_by.values())),) if summary.waivers_given else ()),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": str(value)})
    for tally in tallies:
        suite.append(_fleet_case(tally, summary.devices, cases, examples, reasons, cited, verbose))
    return suite


def _fleet_case(
    tally: Any, devices: int, cases: FleetCases, examples: _Examples, reasons: _Reasons, cited: Report, verbose: bool
) -> ET.Element:
    counts = tally.counts
    case = ET.Element(
        "testcase", {"classname": _clean(tally.ruleset), "name": _clean(f"{tally.rule} {tally.title}"), "time": "0"}
    )
    failed, unknown = examples.get((tally.rule, Status.FAIL)), examples.get((tally.rule, Status.UNKNOWN))
    example = failed or unknown
    if example is not None and example.location:
        case.set("file", _clean(example.location.file))
    if counts["fail"]:
        common = reasons.get(tally.rule, [])
        head = f"fails on {counts['fail']} of {plural(devices, 'device')}"
        message = f"{head}: {common[0][0]}" if common else head
        failure = ET.SubElement(case, "failure", {"message": _clean(message), "type": _clean(tally.severity)})
        failure.text = _clean(_case_text(tally, devices, cases, failed, common, cited, Status.FAIL))
    elif counts.get("waived"):  # every failure accepted by a waiver: skipped, not passed
        message = f"waived on {counts['waived']} of {plural(devices, 'device')}: accepted failures (docs/waivers.md)"
        skipped = ET.SubElement(case, "skipped", {"message": message, "type": "waived"})
        skipped.text = _clean(_counts_sentence(counts, devices))
    elif counts["unknown"]:
        first = f": {_first_reason(unknown)}" if unknown is not None and unknown.reasons else ""
        skipped = ET.SubElement(
            case,
            "skipped",
            {
                "message": _clean(f"unknown on {counts['unknown']} of {plural(devices, 'device')}{first}"),
                "type": "unknown",
            },
        )
        skipped.text = _clean(_case_text(tally, devices, cases, unknown, [], cited, Status.UNKNOWN))
    elif not counts["pass"]:
        ET.SubElement(
            case,
            "skipped",
            {"message": "The rule does not apply to any device" if devices else "No device was evaluated"},
        )
    elif verbose:
        ET.SubElement(case, "system-out").text = _clean(_counts_sentence(counts, devices))
    return case


def _case_text(
    tally: Any,
    devices: int,
    cases: FleetCases,
    example: RuleOutcome | None,
    common: list[tuple[str, int]],
    cited: Report,
    status: Status,
) -> str:
    lines = [_counts_sentence(tally.counts, devices)]
    if common:
        lines.append("Most common reasons:")
        lines += [f"  {count:>7}  {reason}" for reason, count in common[:10]]
    named = cases.devices.get((tally.ruleset, tally.rule, status), [])
    total = tally.counts[status.value]
    if named:
        more = f", and {total - len(named)} more (--jsonl lists every device)" if total > len(named) else ""
        lines.append(f"{_DEVICES_WHERE[status]}: {', '.join(named)}{more}")
    if example is not None:
        lines += ["Example:", _details(example, cited)]
    return "\n".join(lines)


def _counts_sentence(counts: Mapping[str, int], devices: int) -> str:
    """``40 devices: passes on 21, fails on 3, does not apply to 16.``"""
    parts = [f"{_ON[status]} {counts[status.value]}" for status in Status if counts.get(status.value)]
    return f"{plural(devices, 'device')}: " + (", ".join(parts) if parts else "none evaluated") + "."


_ON = {
    Status.PASS: "passes on",
    Status.FAIL: "fails on",
    Status.UNKNOWN: "unknown on",
    Status.NOT_APPLICABLE: "does not apply to",
    Status.WAIVED: "waived (an accepted failure) on",
}
_DEVICES_WHERE = {Status.FAIL: "Devices where it fails", Status.UNKNOWN: "Devices where it is unknown"}


def _input_suite(summary: Any) -> ET.Element:
    """The fleet file itself: one case, an ``<error>`` listing the rows that could not be read."""
    bad = summary.bad_rows
    suite = ET.Element(
        "testsuite",
        {
            "name": FLEET_INPUT_SUITE,
            "tests": "1",
            "failures": "0",
            "errors": str(int(bool(bad))),
            "skipped": "0",
            "time": "0",
        },
    )
    case = ET.SubElement(
        suite, "testcase", {"classname": FLEET_INPUT_SUITE, "name": "every row can be read", "time": "0"}
    )
    if bad:
        count = summary.bad_row_count
        error = ET.SubElement(
            case, "error", {"message": _clean(f"{plural(count, 'row')} could not be read"), "type": "input"}
        )
        shown = [f"row {b.number}: {b.message}" for b in bad[:_BAD_ROW_LIMIT]]
        if count > len(shown):
            shown.append(f"… and {count - len(shown)} more")
        error.text = _clean("\n".join(shown))
    return suite


_BAD_ROW_LIMIT = 50
