"""JUnit XML for CI pipelines: one test case per rule and device.

One ``<testsuite>`` per ruleset (and, for a fleet, per device), one ``<testcase>`` per rule:
``classname`` is the ruleset, ``name`` is ``RULE-ID title``. A failed rule has a
``<failure>`` (message: the first reason; text: every reason, the fix and the event ids);
a rule that does not apply is ``<skipped>`` with the condition that was false. A rule that
could not be decided (``unknown``) is ``<skipped>`` too, with a message that starts
``unknown:`` and names the missing or conflicting settings: like the exit code, which
``unknown`` never makes 1, a CI run does not go red for what could not be decided, yet the
reason is shown. Elements are built with ``xml.etree`` (escaping is automatic); characters
XML cannot hold are dropped; every suite is written as soon as its device is evaluated, so a
fleet streams in flat memory.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from io import StringIO
from typing import TextIO

from ..errors import redact
from ..outcome import Condition, Report, RuleOutcome, Status
from .wording import citations

SUITES_NAME = "bitlocker-rules"
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
            lines.append(f"    rule text: {c.text}" + (f"  ({c.origin})" if c.origin else ""))
        if c.source:
            lines.append(f"    value from: {c.source}")
    if outcome.status in (Status.FAIL, Status.UNKNOWN) and outcome.remediation:
        lines.append(f"fix: {outcome.remediation}")
    if outcome.events:
        lines.append(f"events: {', '.join(str(e) for e in outcome.events)}")
    if outcome.location:
        lines.append(f"rule: {outcome.location}")
    return "\n".join(lines)


def _testcase(outcome: RuleOutcome, verbose: bool, report: Report) -> ET.Element:
    case = ET.Element("testcase", {
        "classname": _clean(outcome.ruleset),
        "name": _clean(f"{outcome.rule} {outcome.title}"),
        "time": "0",
    })
    if outcome.location:
        case.set("file", _clean(outcome.location.rsplit(":", 2)[0]))
    if outcome.status is Status.FAIL:
        failure = ET.SubElement(case, "failure", {"message": _clean(_first_reason(outcome)),
                                                   "type": _clean(outcome.severity)})
        failure.text = _clean(_details(outcome, report))
    elif outcome.status is Status.NOT_APPLICABLE:
        message = _first_reason(outcome) if outcome.reasons else "The rule does not apply"
        ET.SubElement(case, "skipped", {"message": _clean(message)})
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
        suite = ET.Element("testsuite", {
            "name": _clean(name),
            "tests": str(len(outcomes)),
            "failures": str(count[Status.FAIL]),
            "errors": "0",
            "skipped": str(count[Status.UNKNOWN] + count[Status.NOT_APPLICABLE]),
            "time": "0",
        })
        if report.subject:
            suite.set("hostname", _clean(report.subject))
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", {"name": "subject", "value": _clean(report.subject)})
        ET.SubElement(properties, "property", {"name": "unknown", "value": str(count[Status.UNKNOWN])})
        ET.SubElement(properties, "property",
                      {"name": "not_applicable", "value": str(count[Status.NOT_APPLICABLE])})
        for scenario in report.relevant_scenarios():  # what the check is about, and how that was decided
            ET.SubElement(properties, "property", {"name": _clean(scenario.fact),
                                                   "value": _clean(f"{scenario.state}, {scenario.provenance()}")})
        for outcome in outcomes:
            suite.append(_testcase(outcome, verbose, report))
        suites.append(suite)
    return suites


class JUnitWriter:
    """Writes a JUnit document to ``stream`` one device at a time (``add``), then ``close``."""

    def __init__(self, stream: TextIO, *, fleet: bool = False, verbose: bool = False) -> None:
        self.stream, self.fleet, self.verbose = stream, fleet, verbose
        stream.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="{SUITES_NAME}">\n')

    def add(self, report: Report) -> None:
        """Write the suites of one device."""
        for suite in report_suites(report, fleet=self.fleet, verbose=self.verbose):
            ET.indent(suite, space="  ", level=1)
            self.stream.write("  " + redact(ET.tostring(suite, encoding="unicode")) + "\n")

    def close(self) -> None:
        """End the document."""
        self.stream.write("</testsuites>\n")


def render_junit(reports: Report | Iterable[Report], *, verbose: bool = False) -> str:
    """JUnit XML for one device ``Report`` or for a fleet (an iterable of reports), secrets masked.

    For a fleet each suite is named ``ruleset (device)`` and carries the device as ``hostname``.
    """
    out = StringIO()
    fleet = not isinstance(reports, Report)
    writer = JUnitWriter(out, fleet=fleet, verbose=verbose)
    for report in (reports if fleet else [reports]):
        writer.add(report)
    writer.close()
    return redact(out.getvalue())
