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

from ..outcome import (
    Cause,
    Condition,
    ConflictRecord,
    InputRecord,
    NoteOutcome,
    Origins,
    Report,
    RuleOutcome,
    RuleTurnOff,
    Status,
    Undecided,
    ValueOrigin,
)
from .fleet_detail import (
    DEFAULT_LIMIT,
    examples_by_rule,
    fleet_scenarios,
    reasons_by_rule,
    sorted_conflicts,
    split_reason,
    worst_devices,
)
from .masking import masked_report
from .wording import (
    STATUS_WORDS,
    by_file,
    conflict_fix,
    conflict_rows,
    device_causes,
    device_only,
    fleet_waiver_lines,
    hidden_rows,
    other_conflicts,
    plural,
    rules_broken,
    scenario_pending,
    shown_outcomes,
    verdict,
    waiver_lines,
)

_STATUS_WORDS = {
    Status.PASS: "pass",
    Status.FAIL: "**FAIL**",
    Status.UNKNOWN: "unknown",
    Status.NOT_APPLICABLE: "does not apply",
    Status.WAIVED: "waived",
}
_CONFLICTS_LEAD = (
    "Assigned policies give these settings different values, so the rules that read them are "
    "unknown until one value wins."
)
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
    return tabulate(list(rows), headers=list(headers), tablefmt="github", disable_numparse=True, colalign=align)


# --- a device -----------------------------------------------------------------------------------


def render_markdown(report: Report, *, verbose: bool = False) -> str:
    """A device report: the verdict, scenarios, causes, what is unknown and the fix first; then
    the rules that fail or could not be decided (every rule with ``verbose``) in full."""
    conflicts = {c.fact: c for c in report.conflicts}
    shown = shown_outcomes(report, verbose)
    # passing rules are explained only on request, and only those with reasons: the others would say nothing
    passes = [o for o in shown if o.status in (Status.PASS, Status.NOT_APPLICABLE) and o.reasons]
    return _document(
        [
            _device_headline(report),
            _scenarios(report),
            _causes(report),
            _undecided(report.undecided()),
            _the_fix(report),
            _waivers(report),
            _device_rules(report, shown, verbose),
            _explained("Failing rules", [o for o in shown if o.status is Status.FAIL], conflicts, report),
            _explained("Waived failures", [o for o in shown if o.status is Status.WAIVED], conflicts, report),
            _explained(
                "Rules that could not be decided", [o for o in shown if o.status is Status.UNKNOWN], conflicts, report
            ),
            _explained("Rules that pass or do not apply", passes, conflicts, report),
            _device_conflicts(other_conflicts(report)),
            _notes(report.notes),
            _inputs(report.inputs),
        ]
    )


def _waivers(report: Report) -> list[str]:
    """The failures waivers accept, each with its waiver, and the warnings about waivers."""
    said = waiver_lines(report)
    if not said:
        return []
    return ["", "## Waivers", "", *(f"- {text(line)}" for line in said)]


def _document(sections: Iterable[Sequence[str]]) -> str:
    """The sections' lines as one page, ending in a newline; redacted last, so no section can leak a secret."""
    return masked_report("\n".join(line for section in sections for line in section) + "\n")


def _device_headline(report: Report) -> list[str]:
    """The title, the verdict in a sentence, and how many rules ended with each status."""
    statuses = (Status.FAIL, Status.UNKNOWN, Status.PASS, Status.NOT_APPLICABLE)
    waived = [str(report.count(Status.WAIVED))] if report.waivers_given else []
    counts = [str(len(report.outcomes)), *(str(report.count(s)) for s in statuses), *waived]
    heads = ["Rules", "Fail", "Unknown", "Pass", "Do not apply", *(["Waived"] if waived else [])]
    word, sentence = verdict(report)
    return [
        f"# BitLocker rules report: {text(report.subject or 'the given facts')}",
        "",
        f"**{word}** — {text(sentence)}",
        "",
        _table(heads, [counts], ["right"] * len(heads)),
    ]


def _scenarios(report: Report) -> list[str]:
    """What the check is about: each scenario, its state and how it was decided; for one not
    known, the rules it left unevaluated and how to declare it."""
    shown = report.relevant_scenarios()
    if not shown:
        return []
    lines = ["", "## What this check is about", ""]
    for scenario in shown:
        pending = scenario_pending(report, scenario)
        line = f"- **{text(scenario.label)}**: {text(scenario.state)}, {text(scenario.provenance())}"
        if pending:
            line += ". " + text(pending[0].upper() + pending[1:]).replace(
                text(f"--scenario {scenario.name}"), code(f"--scenario {scenario.name}", table=False)
            )
        lines.append(line)
    return lines


def _causes(report: Report) -> list[str]:
    """Each distinct cause, worst first: the value at fault, the rules it breaks, the fix."""
    causes = report.causes()
    if not causes:
        return []
    lines = ["", "## Causes", "", "Each setting or device fact at fault, with the rules it breaks; the worst first."]
    for number, cause in enumerate(causes, 1):
        lines += ["", *_cause(number, cause, report)]
    return lines


def _cause(number: int, cause: Cause, report: Report) -> list[str]:
    """One cause: a heading with the value, the rules with what each needs, the fix and events."""
    if cause.kind == "conflict":
        lines = [
            f"### {number}. {text(cause.label)} is in conflict between policies",
            "",
            _table(["Policy", "Value"], [[text(s), text(shown)] for s, _, shown in cause.values]),
            "",
        ]
    else:
        lines = [f"### {number}. {text(cause.sentence())}", ""]
    facts = [text(rules_broken(cause).capitalize())]
    if cause.fact:
        facts.append(code(cause.fact, table=False))
    origins = by_file(cause.origins, report.inputs) if cause.kind != "conflict" else []
    if origins:
        facts.append("value from " + "; ".join(_origin_cell(o) for o in origins))
    lines += [
        " · ".join(facts),
        "",
        _table(
            ["Rule", "Severity", "Title", "Needs"],
            [[code(r.rule), text(r.severity), text(r.title), text(r.required)] for r in cause.rules],
        ),
    ]
    fixes = ([conflict_fix(cause)] if cause.kind == "conflict" else []) + list(cause.fixes)
    if len(fixes) == 1:
        lines += ["", f"**Fix:** {text(fixes[0])}"]
    elif fixes:
        lines += ["", "**Fix:**", "", *(f"- {text(fix)}" for fix in fixes)]
    if cause.events:
        lines += ["", f"**BitLocker event ids:** {', '.join(str(e) for e in cause.events)}"]
    return lines


def _undecided(groups: Sequence[Undecided]) -> list[str]:
    """The rules that could not be decided, one row per set of missing facts (or caveat)."""
    if not groups:
        return []
    rows = []
    for group in groups:
        why = (
            "<br>".join(f"{text(label)} {code(fact)}" for fact, label in group.facts)
            if group.facts
            else text(group.caveat)
        )
        rows.append([why, "<br>".join(f"{code(r.rule)} {text(r.title)}" for r in group.rules)])
    total = sum(len(g.rules) for g in groups)
    return [
        "",
        "## What is not known",
        "",
        f"{text(plural(total, 'rule'))} could not be decided. Give the missing facts to decide them.",
        "",
        _table(["Missing", "Rules"], rows),
    ]


def _device_rules(report: Report, shown: Sequence[RuleOutcome], verbose: bool) -> list[str]:
    """The rules listed, one row each (status, severity, title, short reason), and what was left out."""
    lines = ["", "## Rules that fail or could not be decided" if shown and not verbose else "## Rules"]
    if shown:
        lines += [
            "",
            _table(
                ["Status", "Rule", "Severity", "Title", "Reason"],
                [
                    [
                        _STATUS_WORDS[o.status],
                        code(o.rule),
                        text(o.severity) + (" (advice)" if o.advice else ""),
                        text(o.title),
                        text(o.short_reason()),
                    ]
                    for o in shown
                ],
            ),
        ]
    hidden = hidden_rows(report, verbose)
    if hidden:
        lines += ["", text(hidden).replace(text("--verbose"), code("--verbose", table=False))]
    return lines


def _explained(
    heading: str, outcomes: Sequence[RuleOutcome], conflicts: Mapping[str, ConflictRecord], report: Report
) -> list[str]:
    """A section that explains each of ``outcomes`` in full; nothing when there are none."""
    if not outcomes:
        return []
    lines = ["", f"## {heading}"]
    for outcome in outcomes:
        lines += ["", *_explain(outcome, conflicts, report)]
    return lines


def _the_fix(report: Report) -> list[str]:
    """The fewest policy changes that make the failing rules pass, and what only the device can change."""
    if not (report.suggested_changes or report.device_prerequisites or report.turn_off_changes):
        return []
    lines = ["", "## The fix"]
    if report.suggested_changes:
        lines += ["", "The fewest policy settings to change so that the failing rules pass:", ""]
        lines += [f"- **{text(c.label)}**: {text(c.current)} → **{text(c.new)}**" for c in report.suggested_changes]
    numbers, others = device_only(report)
    if numbers:  # already shown as causes: say which, rather than repeat them
        lines += ["", text(device_causes(numbers))]
    if others:
        lines += ["", "No policy setting can fix these; the device must change:", ""]
        lines += [f"- {text(item)}" for item in others]
    if report.turn_off_changes:
        lines += ["", "Not a fix: these changes would only turn a rule off (it would no longer apply):", ""]
        lines += [_turn_off(t) for t in report.turn_off_changes]
    return lines


def _turn_off(item: RuleTurnOff) -> str:
    """One rule and the changes that would only turn it off, as a list item."""
    changes = "; ".join(f"**{text(c.label)}**: {text(c.current)} → {text(c.new)}" for c in item.changes)
    return f"- {text(item.rule)} {text(item.title)}: {changes}"


def _device_conflicts(conflicts: Sequence[ConflictRecord]) -> list[str]:
    """The settings the device's policies disagree on that no cause shows, one row per policy."""
    if not conflicts:
        return []
    return [
        "",
        "## Other settings in conflict",
        "",
        _CONFLICTS_LEAD + " No rule checked reads these.",
        "",
        _table(
            ["Setting", "Fact", "Policy", "Value"], [row for c in conflicts for row in conflict_rows(c, text, code)]
        ),
    ]


def _notes(notes: Sequence[NoteOutcome]) -> list[str]:
    """The notes that apply or may apply (those known not to apply are left out)."""
    shown = [n for n in notes if n.applies is not False]
    if not shown:
        return []
    return ["", "## Notes", "", *(_note_line(n) for n in shown)]


def _note_line(note: NoteOutcome) -> str:
    """A note as a list item: the rule, its title, whether it only may apply, and why it matters."""
    return (
        f"- {code(note.rule, table=False)} **{text(note.title)}**"
        + (" (may apply)" if note.applies is None else "")
        + (f": {text(note.rationale)}" if note.rationale else "")
    )


def _explain(outcome: RuleOutcome, conflicts: Mapping[str, ConflictRecord], report: Report) -> list[str]:
    """One rule in full: its verdict, severity, what it encodes, the settings it read, and the fix."""
    lines = [f"### {text(outcome.rule)} {text(outcome.title)}", ""]
    facts = [f"**{STATUS_WORDS[outcome.status]}**", f"severity {text(outcome.severity)}"]
    if outcome.advice:
        facts.append("advice")
    if outcome.location:
        facts.append(f"rule at {code(outcome.location, table=False)}")
    lines.append(" · ".join(facts))
    cited = [_citation("Encodes", ref, report) for ref in outcome.encodes]
    cited += [_citation("Advice about", ref, report) for ref in outcome.related]
    if cited:
        lines += ["", *cited]
    if outcome.caveat:
        lines += ["", f"**Unknown because** {text(outcome.caveat.rstrip('.'))}."]
    if outcome.reasons:
        lines += ["", _conditions_table(outcome.reasons, conflicts)]
        if any(not c.decisive for c in outcome.reasons):
            lines += ["", "Settings marked *also* are wrong too, but the others alone decide the verdict."]
    return lines + _fix_and_events(outcome, with_fix=outcome.status in (Status.FAIL, Status.UNKNOWN))


def _citation(verb: str, ref: str, report: Report) -> str:
    """``- Encodes [S9](url): title (document)`` as a list item, linked when the id has an address."""
    cited = report.citation(ref)
    name = f"[{text(cited.id)}](<{cited.url}>)" if cited.url else f"**{text(cited.id)}**"
    title = f": {text(cited.title)}" if cited.title else ""
    return f"- {verb} {name}{title}" + (f" ({text(cited.document)})" if cited.document else "")


def _fix_and_events(outcome: RuleOutcome, *, with_fix: bool = True) -> list[str]:
    """The rule's fix (when ``with_fix``: a passing rule needs none) and the BitLocker event ids it names."""
    lines = []
    if with_fix and outcome.remediation:
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
        rule_text = code(c.text) + (f"<br>{code(c.location)}" if c.location else "")
        rows.append([setting, text(c.status.value), actual, text(c.required), _source_cell(c.origins), rule_text])
    return _table(["Setting", "Verdict", "Actual value", "Required", "Value from", "Rule text"], rows)


def _source_cell(origins: Origins) -> str:
    """Where a value came from, one origin per line (``*not given*`` when nothing says)."""
    return "<br>".join(_origin_cell(o) for o in origins) if origins else "*not given*"


def _origin_cell(origin: ValueOrigin) -> str:
    """``policy 'A' (id) `$.x.y` ``: the input's name, and its place in code."""
    return f"{text(origin.input)} {code(origin.place())}" if origin.path is not None else text(origin.text())


def _inputs(inputs: Sequence[InputRecord]) -> list[str]:
    if not inputs:
        return []
    return [
        "",
        "## Inputs read",
        "",
        _table(["Input", "File", "Read as"], [[text(i.name), code(i.file), text(i.kind)] for i in inputs]),
    ]


# --- a fleet --------------------------------------------------------------------------------------


def render_fleet_markdown(
    summary: Any,
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
    explained = examples_by_rule(examples)  # indexed once: the failing and the undecided rules both read it
    return _document(
        [
            _fleet_headline(summary),
            _fleet_scenarios(summary),
            _fleet_rules(summary.rules, summary.waivers_given),
            _fleet_waivers(summary),
            _fleet_conflicts(summary.conflicts),
            _failure_reasons(summary.top_reasons()),
            _worst_devices(worst_devices(devices, limit), limit),
            _why_rules_fail(summary, explained),
            _undecided_rules(summary.rules, explained),
            _bad_rows(summary.bad_rows, bad_row_limit, summary.bad_row_count),
            _inputs(inputs),
        ]
    )


def _fleet_headline(summary: Any) -> list[str]:
    """The title and one sentence: devices evaluated, how many failed, and the rows not read."""
    line = f"**{plural(summary.devices, 'device')} evaluated, {summary.failed_devices} failing at least one rule**"
    if summary.devices:
        line += f" ({100 * summary.failed_devices / summary.devices:.0f}%)"
    if summary.bad_rows:
        line += f"; {plural(summary.bad_row_count, 'row')} could not be read"
    if summary.unscoped_devices:
        line += f"; {plural(summary.unscoped_devices, 'device')} in no BitLocker policy's scope"
    return ["# BitLocker rules report: fleet", "", line + "."]


def _fleet_scenarios(summary: Any) -> list[str]:
    """Per scenario, on how many devices it was in scope, out of scope or not known."""
    scenarios = fleet_scenarios(summary)
    if not scenarios:
        return []
    return [
        "",
        "## What the checks are about",
        "",
        "Declared for the whole run, or inferred device by device from the policies it gets.",
        "",
        *(f"- {text(s.sentence())}" for s in scenarios),
    ]


def _fleet_waivers(summary: Any) -> list[str]:
    """How many failures each waiver waived, and the warnings about waivers."""
    said = fleet_waiver_lines(summary)
    return ["", "## Waivers", "", *(f"- {text(line)}" for line in said)] if said else []


def _fleet_rules(tallies: Sequence[Any], waivers_given: bool = False) -> list[str]:
    """Every rule with how many devices it passed, failed (in bold when any), left unknown or did
    not apply to (and, given waivers, on how many its failure was waived)."""
    waived = ["Waived"] if waivers_given else []
    return [
        "",
        "## Rules",
        "",
        _table(
            ["Ruleset", "Rule", "Severity", "Title", "Pass", "Fail", "Unknown", "N/A", *waived],
            [
                [
                    text(t.ruleset),
                    code(t.rule),
                    text(t.severity),
                    text(t.title),
                    str(t.counts["pass"]),
                    f"**{t.counts['fail']}**" if t.counts["fail"] else "0",
                    str(t.counts["unknown"]),
                    str(t.counts["not_applicable"]),
                    *([str(t.counts["waived"])] if waived else []),
                ]
                for t in tallies
            ],
            ["left", "left", "left", "left", "right", "right", "right", "right", *(["right"] if waived else [])],
        ),
    ]


def _fleet_conflicts(conflicts: Iterable[Any]) -> list[str]:
    """The settings assigned policies disagree on, most devices first, with how many devices get each."""
    ordered = sorted_conflicts(conflicts)
    if not ordered:
        return []
    return [
        "",
        "## Policy conflicts",
        "",
        _CONFLICTS_LEAD + " Devices: how many evaluated devices get the conflict.",
        "",
        _table(
            ["Setting", "Fact", "Policy", "Value", "Devices"],
            [row for c in ordered for row in conflict_rows(c.record, text, code, [str(c.devices)])],
            ["left", "left", "left", "left", "right"],
        ),
    ]


def _failure_reasons(reasons: Sequence[tuple[str, int]]) -> list[str]:
    """The most common failure reasons (``"RULE: reason"``) with how many devices each."""
    if not reasons:
        return []
    return [
        "",
        "## Most common failure reasons",
        "",
        _table(
            ["Devices", "Rule", "Reason"],
            [[str(count), code(split_reason(reason)[0]), text(split_reason(reason)[1])] for reason, count in reasons],
            ["right", "left", "left"],
        ),
    ]


def _worst_devices(worst: Sequence[Mapping[str, Any]], limit: int) -> list[str]:
    """The devices with the most failed rules (already chosen, at most ``limit``), one row each."""
    if not worst:
        return []
    return [
        "",
        f"## Devices with the most failed rules (at most {limit})",
        "",
        _table(
            ["Row", "Device", "Failed", "Unknown", "Failing rules"],
            [
                [
                    str(d.get("row", "")),
                    text(d.get("device", "")),
                    str(d["summary"].get("fail", 0)),
                    str(d["summary"].get("unknown", 0)),
                    ", ".join(code(r["rule"]) for r in d.get("results", []) if r.get("status") == "fail"),
                ]
                for d in worst
            ],
            ["right", "left", "right", "right", "left"],
        ),
    ]


def _why_rules_fail(summary: Any, explained: Mapping[tuple[str, Status], RuleOutcome]) -> list[str]:
    """Every rule that failed somewhere, most failures first, explained with its reasons and an example."""
    failing = [t for t in summary.rules if t.counts["fail"]]
    if not failing:
        return []
    grouped = reasons_by_rule(summary.reason_counts)
    lines = ["", "## Why rules fail"]
    for tally in sorted(failing, key=lambda t: -t.counts["fail"]):
        lines += _failing_rule(
            tally, summary.devices, grouped.get(tally.rule, []), explained.get((tally.rule, Status.FAIL))
        )
    return lines


def _failing_rule(
    tally: Any, devices: int, reasons: Sequence[tuple[str, int]], example: RuleOutcome | None
) -> list[str]:
    """One failing rule: how often, its ten commonest reasons, and from ``example`` the settings and the fix."""
    lines = [
        "",
        f"### {text(tally.rule)} {text(tally.title)}",
        "",
        f"**Fails on {plural(tally.counts['fail'], 'device')}** "
        f"of {devices} · severity {text(tally.severity)} · ruleset {text(tally.ruleset)}",
    ]
    if reasons:
        lines += [""] + [f"- {count} × {text(reason)}" for reason, count in reasons[:10]]
    if example is not None:
        lines += ["", _fleet_conditions(example), *_fix_and_events(example)]
    return lines


def _undecided_rules(tallies: Sequence[Any], explained: Mapping[tuple[str, Status], RuleOutcome]) -> list[str]:
    """The rules left unknown on some devices, most first, with the facts an example was missing."""
    undecided = sorted((t for t in tallies if t.counts["unknown"]), key=lambda t: -t.counts["unknown"])
    if not undecided:
        return []
    rows = [
        [code(t.rule), text(t.title), str(t.counts["unknown"]), _missing_facts(explained.get((t.rule, Status.UNKNOWN)))]
        for t in undecided
    ]
    return [
        "",
        "## Rules that could not be decided",
        "",
        "A missing fact or a conflict between policies leaves a rule unknown: not failed, but not known to pass.",
        "",
        _table(["Rule", "Title", "Devices", "Missing or conflicting"], rows, ["left", "left", "right", "left"]),
    ]


def _missing_facts(example: RuleOutcome | None) -> str:
    """The facts missing or in conflict in ``example``, each once, in order; empty without an example."""
    return (
        ""
        if example is None
        else ", ".join(
            dict.fromkeys(
                f"{text(c.label)} {code(c.fact)}" + (" (conflict)" if c.conflict else "")
                for c in example.reasons
                if c.missing
            )
        )
    )


def _bad_rows(bad_rows: Sequence[Any], limit: int, count: int) -> list[str]:
    """The rows that could not be read, at most ``limit`` of the ``count``, and how many more there were."""
    if not bad_rows:
        return []
    lines = [
        "",
        "## Rows that could not be read",
        "",
        _table(["Row", "Problem"], [[str(b.number), text(b.message)] for b in bad_rows[:limit]], ["right", "left"]),
    ]
    if count > limit:
        lines += ["", f"… and {count - min(limit, len(bad_rows))} more."]
    return lines


def _fleet_conditions(outcome: RuleOutcome) -> str:
    rows = [
        [
            f"{text(c.label)}<br>{code(c.fact)}",
            text(c.required),
            code(c.text) + (f"<br>{code(c.location)}" if c.location else ""),
        ]
        for c in outcome.reasons
        if c.status is Status.FAIL
    ]
    return _table(["Setting", "Required", "Rule text"], rows)
