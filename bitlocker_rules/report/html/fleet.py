"""A fleet's HTML page: the encryption-readiness picture.

The headline numbers, a stacked bar per rule (pass, fail, unknown, not applicable), the
settings the assigned policies disagree on (with how many devices get each conflict), a bar per
failure cause (the most common failure reasons), the devices with the most failed rules (from
the device records, at most ``limit``), an explanation of every failing rule (its reasons, what
it needs, the rule text, the fix and the event ids), the rules that could not be decided, the
rows that could not be read and the inputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...outcome import InputRecord, RuleOutcome, Status
from ..fleet_detail import (
    DEFAULT_LIMIT,
    examples_by_rule,
    fleet_scenarios,
    reasons_by_rule,
    sorted_conflicts,
    worst_devices,
)
from ..masking import masked_report
from ..wording import conflict_rows, fleet_waiver_lines
from .charts import RuleTally, RunPoint, cause_chart, legend, rule_chart, trend_chart
from .page import (
    CONFLICTS_LEAD,
    card,
    code_span,
    escaped,
    fix_box,
    html_page,
    inputs_card,
    kpi,
    lead,
    meter,
    percent,
    rule_text_cell,
    ruleset_names,
    setting_cell,
    table,
)


def render_fleet_html(
    summary: Any,
    *,
    devices: Iterable[Mapping[str, Any]] | None = None,
    examples: Iterable[RuleOutcome] = (),
    inputs: Sequence[InputRecord] = (),
    limit: int = DEFAULT_LIMIT,
    title: str = "BitLocker encryption readiness",
    bad_row_limit: int = 50,
    trend: Sequence[RunPoint] = (),
) -> str:
    """The fleet page for a ``fleet.FleetSummary``.

    ``devices``: device records as ``fleet.device_record`` makes them (any number; at most
    ``limit`` worst are kept); ``examples``: failing or unknown outcomes (one per rule is
    enough) to explain each rule with its settings, rule text and fix; ``inputs``: the files
    read; ``trend``: runs of a results store, oldest first (``history.RunRow``), charted when
    there are two or more.
    """
    examples = tuple(examples)  # read by two sections: a one-shot iterator must serve both
    subtitle = (
        f"{summary.devices} device{'' if summary.devices == 1 else 's'} checked against "
        f"{len(summary.rules)} rules of {ruleset_names(summary.rules)}"
    )
    body = [
        *_fleet_kpis(summary),
        *_over_time(trend),
        *_fleet_scenarios(summary),
        *_waivers(summary),
        *_verdicts_per_rule(summary.rules, summary.devices),
        *_policy_conflicts(summary.conflicts),
        *_failure_causes(summary.top_reasons(), summary.devices),
        *_worst_devices(worst_devices(devices, limit), limit),
        *_why_rules_fail(summary, examples),
        *_undecided_rules(summary.rules, examples),
        *_bad_rows(summary.bad_rows, bad_row_limit, summary.bad_row_count),
        *inputs_card(inputs),
    ]
    return masked_report(html_page(title, "Fleet report", subtitle, body))


def _waivers(summary: Any) -> list[str]:
    """How many failures each waiver waived (not counted as failing above), and the warnings."""
    said = fleet_waiver_lines(summary)
    if not said:
        return []
    items = [f"<li>{escaped(line)}</li>" for line in said]
    return card(
        "Waivers", lead("Failures accepted as risks: not counted as failing."), '<ul class="reasons">', *items, "</ul>"
    )


def _fleet_kpis(summary: Any) -> list[str]:
    """The headline numbers: devices evaluated, failing and passing, rules failing somewhere, rows not read."""
    total, failed = summary.devices, summary.failed_devices
    clean = total - failed
    failing_rules = sum(1 for t in summary.rules if t.counts["fail"])
    return [
        '<div class="kpis">',
        kpi("Devices evaluated", total, bar=meter([(clean, "#2da44e"), (failed, "#cf222e")], total)),
        kpi("Failing at least one rule", failed, "fail", f"<small>{percent(failed, total)}</small>"),
        kpi("Passing every rule", clean, "pass", f"<small>{percent(clean, total)}</small>"),
        kpi(
            "Rules failing somewhere",
            failing_rules,
            "fail" if failing_rules else "",
            f"<small>of {len(summary.rules)}</small>",
        ),
        kpi("Rows not read", summary.bad_row_count, "unknown" if summary.bad_rows else "na"),
        *(
            [kpi("In no BitLocker policy's scope", summary.unscoped_devices, "unknown")]
            if summary.unscoped_devices
            else []
        ),
        "</div>",
    ]


def _over_time(runs: Sequence[RunPoint]) -> list[str]:
    """The share of devices failing in each run of the results store (nothing for fewer than two runs)."""
    if len(runs) < 2:
        return []
    return card(
        "Over time",
        lead(f"The share of devices failing at least one rule in the last {len(runs)} runs of the results store."),
        trend_chart(runs),
    )


def _verdicts_per_rule(tallies: Sequence[RuleTally], devices: int) -> list[str]:
    """The chart of every rule's verdicts across the fleet."""
    return card(
        "Verdicts per rule",
        lead(
            "The share of devices for which each rule passed, failed, could not be decided "
            "(a setting or device fact was missing or in conflict) or did not apply."
        ),
        legend(),
        rule_chart(tallies, devices),
    )


def _fleet_scenarios(summary: Any) -> list[str]:
    """Per scenario, on how many devices it was in scope, out of scope or not known."""
    scenarios = fleet_scenarios(summary)
    if not scenarios:
        return []
    items = "".join(f"<li>{escaped(s.sentence())}</li>" for s in scenarios)
    return card(
        "What the checks are about",
        lead("Declared for the whole run, or inferred device by device from the policies it gets."),
        f"<ul>{items}</ul>",
    )


def _policy_conflicts(conflicts: Iterable[Any]) -> list[str]:
    """The settings assigned policies disagree on, most devices first, with how many devices get each."""
    ordered = sorted_conflicts(conflicts)
    if not ordered:
        return []
    rows = [
        row
        for c in ordered
        for row in conflict_rows(c.record, escaped, code_span, [f'<span class="count">{c.devices}</span>'])
    ]
    return card(
        "Policy conflicts",
        lead(f"{CONFLICTS_LEAD} Devices: how many evaluated devices get the conflict."),
        table(["Setting", "Fact", "Policy", "Value", "Devices"], rows, numeric=(4,)),
    )


def _failure_causes(reasons: Sequence[tuple[str, int]], devices: int) -> list[str]:
    """The chart of the most common failure reasons."""
    if not reasons:
        return []
    return card(
        "Failure causes",
        lead(
            "The most common reasons a rule failed: the setting or device fact at fault and "
            "its value, with the number of devices."
        ),
        cause_chart(reasons, devices),
    )


def _worst_devices(worst: Sequence[Mapping[str, Any]], limit: int) -> list[str]:
    """The devices with the most failed rules (already chosen, at most ``limit``)."""
    if not worst:
        return []
    return card(
        "Devices with the most failed rules",
        lead(
            f"Devices that failed a rule, the most failed rules first, then the most "
            f"undecided: {len(worst)} shown (at most {limit})."
        ),
        _worst_table(worst),
    )


def _why_rules_fail(summary: Any, examples: Iterable[RuleOutcome]) -> list[str]:
    """Every rule that failed somewhere, most failures first (ties in ruleset order), with its reasons and fix."""
    failing = [t for t in summary.rules if t.counts["fail"]]
    if not failing:
        return []
    explained = examples_by_rule(examples)
    grouped = reasons_by_rule(summary.reason_counts)
    rulesets = list(dict.fromkeys(t.ruleset for t in summary.rules))
    return card(
        "Why rules fail, and the fix",
        lead(
            "Every rule that failed on a device, most failures first: the reasons seen, "
            "what the rule needs, where the rule is written, and what to change."
        ),
        *(
            _fleet_rule(tally, summary.devices, grouped.get(tally.rule, []), explained.get((tally.rule, Status.FAIL)))
            for tally in sorted(failing, key=lambda t: (-t.counts["fail"], rulesets.index(t.ruleset)))
        ),
    )


def _undecided_rules(tallies: Sequence[RuleTally], examples: Iterable[RuleOutcome]) -> list[str]:
    """The rules left unknown on some devices, most first, with the facts an example was missing."""
    undecided = sorted((t for t in tallies if t.counts["unknown"]), key=lambda t: -t.counts["unknown"])
    if not undecided:
        return []
    explained = examples_by_rule(examples)
    rows = [_undecided_row(t, explained.get((t.rule, Status.UNKNOWN))) for t in undecided]
    return card(
        "Rules that could not be decided",
        lead(
            "A missing fact or a conflict between policies leaves a rule unknown: not failed, "
            "but not known to pass. Add the fact to the inventory, or resolve the conflict."
        ),
        table(["Rule", "Title", "Devices", "Missing or conflicting"], rows, numeric=(2,)),
    )


def _undecided_row(tally: RuleTally, example: RuleOutcome | None) -> list[str]:
    """An undecided rule's row: the rule, how many devices, and the facts ``example`` was missing (if any)."""
    missing = (
        ""
        if example is None
        else ", ".join(
            dict.fromkeys(
                f"{escaped(c.label)} {code_span(c.fact)}" + (" (conflict)" if c.conflict else "")
                for c in example.reasons
                if c.missing
            )
        )
    )
    return [
        f'<span class="chip">{escaped(tally.rule)}</span>',
        escaped(tally.title),
        f'<span class="count">{tally.counts["unknown"]}</span>',
        missing or '<span class="muted">—</span>',
    ]


def _bad_rows(bad_rows: Sequence[Any], limit: int, count: int) -> list[str]:
    """The rows that could not be read, at most ``limit`` of the ``count``, and how many more there were."""
    if not bad_rows:
        return []
    shown = bad_rows[:limit]
    more = count - len(shown)
    return card(
        "Rows that could not be read",
        lead("These rows were skipped; the other rows were evaluated."),
        table(["Row", "Problem"], [[str(b.number), escaped(b.message)] for b in shown], numeric=(0,)),
        f'<p class="muted">… and {more} more.</p>' if more else "",
    )


def _worst_table(worst: Sequence[Mapping[str, Any]]) -> str:
    """The worst devices' table: each device, its row, how many rules failed and were unknown, which failed."""
    rows = []
    for record in worst:
        summary = record.get("summary", {})
        rows.append(
            [
                _device_name(str(record.get("device", ""))),
                str(record.get("row", "")),
                f'<span class="count" style="color:var(--fail)">{summary.get("fail", 0)}</span>',
                str(summary.get("unknown", 0)),
                _failing_rules(record),
            ]
        )
    return table(["Device", "Row", "Failed", "Unknown", "Failing rules and the first reason"], rows, numeric=(1, 2, 3))


def _failing_rules(record: Mapping[str, Any]) -> str:
    """The first four rules a device record failed, each with its first reason, and how many more."""
    failing = [r for r in record.get("results", []) if r.get("status") == "fail"]
    items = []
    for result in failing[:4]:
        first = (result.get("reasons") or [""])[0]
        items.append(f'<div><span class="chip fail">{escaped(result["rule"])}</span>{escaped(first)}</div>')
    if len(failing) > 4:
        items.append(f'<div class="muted">and {len(failing) - 4} more</div>')
    return "".join(items)


_SUBJECT = re.compile(r"device '(?P<name>.*)'(?: \((?P<id>[^()]*)\))?")


def _device_name(subject: str) -> str:
    """``device 'NAME' (id)`` as the name in bold with the id under it."""
    match = _SUBJECT.fullmatch(subject)
    if not match:
        return escaped(subject)
    ident = match.group("id")
    return f"<b>{escaped(match.group('name'))}</b>" + (
        f'<br><span class="muted">{escaped(ident)}</span>' if ident else ""
    )


def _fleet_rule(tally: RuleTally, devices: int, reasons: Sequence[tuple[str, int]], example: RuleOutcome | None) -> str:
    """A failing rule: how many devices fail it, the reasons seen most, and an example's settings and fix."""
    head = (
        f'<div class="rule-head"><span class="chip fail">{escaped(tally.rule)}</span><h3>{escaped(tally.title)}</h3>'
        f'<span class="badge sev">{escaped(tally.severity)}</span>'
        f'<span class="where">fails on <b>{tally.counts["fail"]}</b> of {devices} devices '
        f"({percent(tally.counts['fail'], devices)}) · {escaped(tally.ruleset)}</span></div>"
    )
    parts = [f'<div class="rule">{head}']
    if reasons:
        items = "".join(f'<li><span class="count">{n}</span> × {escaped(reason)}</li>' for reason, n in reasons[:8])
        parts.append(f'<ul class="reasons">{items}</ul>')
    if example is not None:
        parts += _example_settings(example)
    parts.append("</div>")
    return "".join(parts)


def _example_settings(example: RuleOutcome) -> list[str]:
    """What an example device failed: each setting, what the rule needs, the rule text; then the fix."""
    rows = [
        [setting_cell(c), escaped(c.required), rule_text_cell(c)] for c in example.reasons if c.status is Status.FAIL
    ]
    settings = (
        [table(["Setting or fact", "What the rule needs", "Rule text"], rows, widths=(30, 30, 40))] if rows else []
    )
    return [*settings, fix_box(example)]
