"""The Markdown report: a reviewer's page for a device or a fleet, for a code-hosting site.

GitHub-flavoured Markdown: tables for summaries, settings, conflicts and inputs; every piece
of text from the inputs is escaped (pipes in table cells, Markdown punctuation, HTML
brackets), and code spans are fenced with enough backticks for whatever they hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tabulate import tabulate

from ..errors import redact
from ..outcome import Condition, ConflictRecord, InputRecord, Report, RuleOutcome, Status
from .fleet_detail import (
    DEFAULT_LIMIT, examples_by_rule, reasons_by_rule, sorted_conflicts, split_reason, worst_devices,
)

_STATUS_WORDS = {Status.PASS: "pass", Status.FAIL: "**FAIL**", Status.UNKNOWN: "unknown",
                 Status.NOT_APPLICABLE: "n/a"}
_CONFLICTS_LEAD = ("Assigned policies give these settings different values, so the rules that read them are "
                   "unknown until one value wins.")
_SPECIAL = re.compile(r"([\\`*\[\]<>|~&])|((?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))|(^#)", re.M)


def text(value: Any) -> str:
    """Plain text made safe for Markdown: one line, punctuation that means something escaped.

    Pipes are escaped too, which a table cell needs and which renders as ``|`` elsewhere.
    """
    flat = " ".join(str(value).split())
    return _SPECIAL.sub(lambda m: "\\" + m.group(0), flat)


def code(value: Any, *, table: bool = True) -> str:
    """A code span that holds ``value`` exactly; in a table (the default) pipes are escaped."""
    flat = " ".join(str(value).split())
    if not flat:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    if table:
        flat = flat.replace("|", "\\|")
    return f"{fence}{pad}{flat}{pad}{fence}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: Sequence[str] | None = None) -> str:
    return tabulate(list(rows), headers=list(headers), tablefmt="github", disable_numparse=True,
                    colalign=align)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- a device -----------------------------------------------------------------------------------


def render_markdown(report: Report, *, verbose: bool = False) -> str:
    """A device report: summary, failing and unknown rules explained, conflicts, notes, inputs."""
    subject = report.subject or "the given facts"
    counts = {s: report.count(s) for s in Status}
    conflicts = {c.fact: c for c in report.conflicts}
    parts = [f"# BitLocker rules report: {text(subject)}", ""]
    parts.append(_verdict_line(report))
    parts += ["", _table(["Rules", "Failed", "Unknown", "Passed", "Not applicable"],
                         [[str(len(report.outcomes)), str(counts[Status.FAIL]), str(counts[Status.UNKNOWN]),
                           str(counts[Status.PASS]), str(counts[Status.NOT_APPLICABLE])]],
                         ["right"] * 5)]
    parts += ["", "## Rules", "", _table(
        ["Status", "Rule", "Severity", "Title", "Reason"],
        [[_STATUS_WORDS[o.status], code(o.rule), text(o.severity),
          text(o.title), text(o.short_reason())] for o in report.outcomes])]
    for status, heading in ((Status.FAIL, "Failing rules"), (Status.UNKNOWN, "Rules that could not be decided")):
        chosen = [o for o in report.outcomes if o.status is status]
        if chosen:
            parts += ["", f"## {heading}"]
            for outcome in chosen:
                parts += ["", *_explain(outcome, conflicts)]
    if verbose:
        explained = [o for o in report.outcomes
                     if o.status in (Status.PASS, Status.NOT_APPLICABLE) and o.reasons]
        if explained:
            parts += ["", "## Passing and not applicable rules"]
            for outcome in explained:
                parts += ["", *_explain(outcome, conflicts)]
    if report.suggested_changes or report.device_prerequisites:
        parts += ["", "## The fix", ""]
        if report.suggested_changes:
            parts += ["The fewest policy settings to change so that the failing rules pass:", ""]
            parts += [f"- **{text(c.label)}**: {text(c.current)} → **{text(c.new)}**" for c in report.suggested_changes]
        if report.device_prerequisites:
            parts += ["", "No policy setting can fix these; the device must change:", ""]
            parts += [f"- {text(item)}" for item in report.device_prerequisites]
    if report.conflicts:
        parts += ["", "## Conflicting settings", "", _CONFLICTS_LEAD, "",
                  _table(["Setting", "Fact", "Policy", "Value"],
                         [row for c in report.conflicts for row in _conflict_rows(c)])]
    notes = [n for n in report.notes if n.applies is not False]
    if notes:
        parts += ["", "## Notes", ""]
        parts += [f"- {code(n.rule, table=False)} **{text(n.title)}**"
                  + (" (may apply)" if n.applies is None else "")
                  + (f": {text(n.rationale)}" if n.rationale else "") for n in notes]
    parts += _inputs(report.inputs)
    return redact("\n".join(parts)) + "\n"


def _conflict_rows(conflict: ConflictRecord, extra: Sequence[str] = ()) -> list[list[str]]:
    """A conflict as table rows, one per policy: the setting and ``extra`` cells on the first row only."""
    return [[text(conflict.label) if i == 0 else "", code(conflict.fact) if i == 0 else "",
             text(source), text(shown), *(extra if i == 0 else [""] * len(extra))]
            for i, (source, _, shown) in enumerate(conflict.values)]


def _verdict_line(report: Report) -> str:
    failed = report.failed
    if failed:
        by_severity = {}
        for outcome in failed:
            by_severity[outcome.severity] = by_severity.get(outcome.severity, 0) + 1
        detail = ", ".join(f"{count} {severity}" for severity, count in by_severity.items())
        line = f"**Result: {_plural(len(failed), 'rule')} failed** ({detail})."
    else:
        line = "**Result: no rule failed.**"
    unknown = report.count(Status.UNKNOWN)
    if unknown:
        line += f" {_plural(unknown, 'rule')} could not be decided (missing or conflicting settings)."
    return line


def _explain(outcome: RuleOutcome, conflicts: Mapping[str, ConflictRecord]) -> list[str]:
    lines = [f"### {text(outcome.rule)} {text(outcome.title)}", ""]
    facts = [f"**{outcome.status.value}**", f"severity {text(outcome.severity)}"]
    if outcome.sources:
        facts.append(f"sources {text(', '.join(outcome.sources))}")
    if outcome.location:
        facts.append(f"rule at {code(outcome.location, table=False)}")
    lines.append(" · ".join(facts))
    if outcome.reasons:
        lines += ["", _conditions_table(outcome.reasons, conflicts)]
        if any(not c.decisive for c in outcome.reasons):
            lines += ["", "Settings marked *also* are wrong too, but the others alone decide the verdict."]
    if outcome.status in (Status.FAIL, Status.UNKNOWN) and outcome.remediation:
        lines += ["", f"**Fix:** {text(outcome.remediation)}"]
    if outcome.events:
        lines += ["", f"**BitLocker event ids:** {', '.join(str(e) for e in outcome.events)}"]
    return lines


def _conditions_table(conditions: Sequence[Condition], conflicts: Mapping[str, ConflictRecord]) -> str:
    rows = []
    for c in conditions:
        setting = f"{text(c.label)}<br>{code(c.fact)}"
        if not c.decisive:
            setting += " *also*"
        if c.conflict and c.fact in conflicts:
            actual = "*in conflict:*<br>" + "<br>".join(text(shown) for _, _, shown in conflicts[c.fact].values)
        elif c.conflict:
            actual = f"*in conflict:* {text(c.conflict)}"
        elif c.missing:
            actual = "*missing*"
        else:
            actual = text(c.actual)
        rule_text = code(c.text) + (f"<br>{code(c.origin)}" if c.origin else "")
        rows.append([setting, text(c.status.value), actual, text(c.required),
                     _source_cell(c.source), rule_text])
    return _table(["Setting", "Verdict", "Actual value", "Required", "Value from", "Rule text"], rows)


def _source_cell(source: str) -> str:
    """``policy 'A' (id) $.x.y`` as the input's name and the JSON path in code, one per line."""
    if not source:
        return "*not given*"
    cells = []
    for entry in source.split("; "):
        name, mark, path = entry.partition(" $")
        cells.append(f"{text(name)} {code('$' + path)}" if mark else text(entry))
    return "<br>".join(cells)


def _inputs(inputs: Sequence[InputRecord]) -> list[str]:
    if not inputs:
        return []
    return ["", "## Inputs read", "",
            _table(["Input", "File", "Read as"],
                   [[text(i.name), code(i.file), text(i.kind)] for i in inputs])]


# --- a fleet --------------------------------------------------------------------------------------


def render_fleet_markdown(
    summary,
    *,
    devices: Iterable[Mapping[str, Any]] | None = None,
    examples: Iterable[RuleOutcome] = (),
    inputs: Sequence[InputRecord] = (),
    limit: int = DEFAULT_LIMIT,
    bad_row_limit: int = 50,
) -> str:
    """A fleet summary (``fleet.FleetSummary``): counts per rule, policy conflicts, top failure reasons, bad rows.

    ``devices`` (records as ``fleet.device_record`` makes them) adds the worst devices, at
    most ``limit``; ``examples`` (failing or unknown outcomes, one per rule is enough) adds
    an explanation of each failing rule: its settings, what they must be, the rule text and
    the fix.
    """
    parts = ["# BitLocker rules report: fleet", ""]
    line = (f"**{_plural(summary.devices, 'device')} evaluated, "
            f"{summary.failed_devices} failing at least one rule**")
    if summary.devices:
        line += f" ({100 * summary.failed_devices / summary.devices:.0f}%)"
    if summary.bad_rows:
        line += f"; {_plural(len(summary.bad_rows), 'row')} could not be read"
    parts += [line + ".", ""]
    parts += ["## Rules", "", _table(
        ["Ruleset", "Rule", "Severity", "Title", "Pass", "Fail", "Unknown", "N/A"],
        [[text(t.ruleset), code(t.rule), text(t.severity),
          text(t.title), str(t.counts["pass"]),
          f"**{t.counts['fail']}**" if t.counts["fail"] else "0",
          str(t.counts["unknown"]), str(t.counts["not_applicable"])] for t in summary.rules],
        ["left", "left", "left", "left", "right", "right", "right", "right"])]
    conflicts = sorted_conflicts(summary.conflicts)
    if conflicts:
        parts += ["", "## Policy conflicts", "",
                  _CONFLICTS_LEAD + " Devices: how many evaluated devices get the conflict.", "",
                  _table(["Setting", "Fact", "Policy", "Value", "Devices"],
                         [row for c in conflicts for row in _conflict_rows(c.record, [str(c.devices)])],
                         ["left", "left", "left", "left", "right"])]
    reasons = summary.top_reasons()
    if reasons:
        parts += ["", "## Most common failure reasons", "", _table(
            ["Devices", "Rule", "Reason"],
            [[str(count), code(split_reason(reason)[0]), text(split_reason(reason)[1])]
             for reason, count in reasons], ["right", "left", "left"])]
    worst = worst_devices(devices, limit)
    if worst:
        parts += ["", f"## Devices with the most failed rules (at most {limit})", "", _table(
            ["Row", "Device", "Failed", "Unknown", "Failing rules"],
            [[str(d.get("row", "")), text(d.get("device", "")), str(d["summary"].get("fail", 0)),
              str(d["summary"].get("unknown", 0)),
              ", ".join(code(r["rule"]) for r in d.get("results", []) if r.get("status") == "fail")]
             for d in worst], ["right", "left", "right", "right", "left"])]
    explained = examples_by_rule(examples)
    failing = [t for t in summary.rules if t.counts["fail"]]
    if failing:
        grouped = reasons_by_rule(summary.reason_counts)
        parts += ["", "## Why rules fail"]
        for tally in sorted(failing, key=lambda t: -t.counts["fail"]):
            parts += ["", f"### {text(tally.rule)} {text(tally.title)}", "",
                      f"**Fails on {_plural(tally.counts['fail'], 'device')}** "
                      f"of {summary.devices} · severity {text(tally.severity)} · ruleset {text(tally.ruleset)}"]
            found = grouped.get(tally.rule, [])
            if found:
                parts += [""] + [f"- {count} × {text(reason)}" for reason, count in found[:10]]
            example = explained.get((tally.rule, Status.FAIL))
            if example is not None:
                parts += ["", _fleet_conditions(example)]
                if example.remediation:
                    parts += ["", f"**Fix:** {text(example.remediation)}"]
                if example.events:
                    parts += ["", f"**BitLocker event ids:** {', '.join(str(e) for e in example.events)}"]
    undecided = [t for t in summary.rules if t.counts["unknown"]]
    if undecided:
        rows = []
        for tally in sorted(undecided, key=lambda t: -t.counts["unknown"]):
            example = explained.get((tally.rule, Status.UNKNOWN))
            missing = [] if example is None else list(dict.fromkeys(
                f"{text(c.label)} {code(c.fact)}" + (" (conflict)" if c.conflict else "")
                for c in example.reasons if c.missing))
            rows.append([code(tally.rule), text(tally.title), str(tally.counts["unknown"]), ", ".join(missing)])
        parts += ["", "## Rules that could not be decided", "",
                  "A missing fact or a conflict between policies leaves a rule unknown: not failed, but not "
                  "known to pass.", "",
                  _table(["Rule", "Title", "Devices", "Missing or conflicting"], rows,
                         ["left", "left", "right", "left"])]
    if summary.bad_rows:
        shown = summary.bad_rows[:bad_row_limit]
        parts += ["", "## Rows that could not be read", "",
                  _table(["Row", "Problem"], [[str(b.number), text(b.message)] for b in shown],
                         ["right", "left"])]
        if len(summary.bad_rows) > bad_row_limit:
            parts += ["", f"… and {len(summary.bad_rows) - bad_row_limit} more."]
    parts += _inputs(inputs)
    return redact("\n".join(parts)) + "\n"


def _fleet_conditions(outcome: RuleOutcome) -> str:
    rows = [[f"{text(c.label)}<br>{code(c.fact)}", text(c.required),
             code(c.text) + (f"<br>{code(c.origin)}" if c.origin else "")]
            for c in outcome.reasons if c.status is Status.FAIL]
    return _table(["Setting", "Required", "Rule text"], rows)
