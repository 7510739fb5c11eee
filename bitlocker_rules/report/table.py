"""The terminal report: one row per rule, then what to fix for each rule that did not pass."""

from __future__ import annotations

from tabulate import tabulate

from ..errors import redact
from ..outcome import Report, RuleOutcome, Status
from .fleet_detail import sorted_conflicts

_COLOURS = {Status.PASS: "32", Status.FAIL: "31", Status.UNKNOWN: "33", Status.NOT_APPLICABLE: "2"}
_LABELS = {Status.PASS: "pass", Status.FAIL: "FAIL", Status.UNKNOWN: "unknown", Status.NOT_APPLICABLE: "n/a"}


def render_table(report: Report, *, colour: bool = False, verbose: bool = False) -> str:
    """The report as a tabulate table plus details of failing and unknown rules."""
    rows = [
        [_status(o.status, colour), o.rule, o.severity, o.title, o.short_reason()]
        for o in report.outcomes
    ]
    parts = [f"BitLocker rules for {report.subject or 'the given facts'}", ""]
    parts.append(tabulate(rows, headers=["status", "rule", "severity", "title", "reason"], tablefmt="simple"))
    parts.append("")
    parts.append(_summary(report))
    for outcome in report.outcomes:
        if outcome.status in (Status.FAIL, Status.UNKNOWN) or (verbose and outcome.reasons):
            parts += ["", *_details(outcome)]
    if report.suggested_changes:
        parts += ["", "Smallest policy change that makes the failing rules pass:"]
        parts += [f"  - {change.sentence()}" for change in report.suggested_changes]
    if report.device_prerequisites:
        parts += ["", "Device prerequisites (no policy setting can fix these):"]
        parts += [f"  - {item}" for item in report.device_prerequisites]
    if report.conflicts:
        parts += ["", "Conflicting settings (treated as unknown):"]
        rows = [[c.label, c.fact, "\n".join(f"{src}: {shown}" for src, _, shown in c.values)]
                for c in report.conflicts]
        parts.append(tabulate(rows, headers=["setting", "fact", "values by policy"], tablefmt="simple"))
    applicable = [note for note in report.notes if note.applies is not False]
    if applicable:
        parts += ["", "Notes:"]
        parts += [f"  - {note.rule} {note.title}: {note.rationale}" for note in applicable]
    return redact("\n".join(parts)) + "\n"


def _status(status: Status, colour: bool) -> str:
    label = _LABELS[status]
    return f"\x1b[{_COLOURS[status]}m{label}\x1b[0m" if colour else label


def _summary(report: Report) -> str:
    counts = ", ".join(f"{report.count(s)} {s.value}" for s in Status)
    total = len(report.outcomes)
    return f"{total} rule{'' if total == 1 else 's'}: {counts}"


def _details(outcome: RuleOutcome) -> list[str]:
    head = f"{outcome.rule} {outcome.title} [{outcome.status.value}, {outcome.severity}]"
    where = [f"sources: {', '.join(outcome.sources)}"] if outcome.sources else []
    where += [f"rule: {outcome.location}"] if outcome.location else []
    lines = [head] + (["  " + "  ".join(where)] if where else [])
    for condition in outcome.reasons:
        lines.append(f"  - {condition.sentence()}")
        if condition.text:
            lines.append(f"      rule text: {condition.text}  ({condition.origin})")
    if outcome.status is Status.FAIL and outcome.remediation:
        lines.append(f"  fix: {outcome.remediation}")
    if outcome.events:
        lines.append(f"  events: {', '.join(str(e) for e in outcome.events)}")
    return lines


def render_fleet_table(summary, *, bad_row_limit: int = 20) -> str:
    """A fleet summary: per rule, how many devices pass, fail, are unknown or not applicable."""
    rows = [
        [t.ruleset, t.rule, t.severity, t.counts["pass"], t.counts["fail"], t.counts["unknown"],
         t.counts["not_applicable"], t.title]
        for t in summary.rules
    ]
    devices = f"{summary.devices} device{'' if summary.devices == 1 else 's'}"
    parts = [f"Fleet: {devices} evaluated, {summary.failed_devices} failing at least one rule"
             + (f", {len(summary.bad_rows)} rows not read" if summary.bad_rows else ""), ""]
    parts.append(tabulate(rows, headers=["ruleset", "rule", "severity", "pass", "fail", "unknown", "n/a", "title"]))
    conflicts = sorted_conflicts(summary.conflicts)
    if conflicts:
        parts += ["", "Policy conflicts (these settings are unknown on the devices that get them):"]
        parts += [f"  {c.devices:>7}  {c.record.sentence()}" for c in conflicts]
    reasons = summary.top_reasons()
    if reasons:
        parts += ["", "Most common failure reasons:"]
        parts += [f"  {count:>7}  {reason}" for reason, count in reasons]
    if summary.bad_rows:
        parts += ["", "Rows that could not be read:"]
        parts += [f"  row {bad.number}: {bad.message}" for bad in summary.bad_rows[:bad_row_limit]]
        if len(summary.bad_rows) > bad_row_limit:
            parts.append(f"  … and {len(summary.bad_rows) - bad_row_limit} more")
    return redact("\n".join(parts)) + "\n"
