"""The HTML report: one self-contained page, for a fleet (the encryption-readiness picture) or a device.

Everything is in the one file: the style sheet is inline, the charts are inline SVG drawn
here, there are no scripts, fonts, images or links to fetch, so the page opens the same
offline, from a mail attachment or an artifact store. Text from the inputs is escaped with
``html.escape``; the finished page passes through ``redact``.

A fleet page shows the headline numbers, a stacked bar per rule (pass, fail, unknown, not
applicable), the settings the assigned policies disagree on (with how many devices get each
conflict), a bar per failure cause (the most common failure reasons), the devices with the
most failed rules (from the device records, at most ``limit``), an explanation of every
failing rule (its reasons, what it needs, the rule text, the fix and the event ids), the rules
that could not be decided, the rows that could not be read and the inputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from ..errors import redact
from ..outcome import (
    Cause, Condition, ConflictRecord, InputRecord, NoteOutcome, Report, RuleOutcome, Status, Undecided, ValueOrigin,
)
from .fleet_detail import (
    DEFAULT_LIMIT, examples_by_rule, fleet_scenarios, reasons_by_rule, sorted_conflicts, split_reason, worst_devices,
)
from .wording import (
    citations, conflict_fix, device_causes, device_only, hidden_rows, other_conflicts, rules_broken, scenario_pending,
    shown_outcomes, value_from, verdict,
)

_ORDER = (Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE)
_NAMES = {Status.PASS: "pass", Status.FAIL: "fail", Status.UNKNOWN: "unknown", Status.NOT_APPLICABLE: "n/a"}
_DEVICE_NAMES = {**_NAMES, Status.NOT_APPLICABLE: "does not apply"}  # one device's page says it in words
_FILL = {Status.PASS: "#2da44e", Status.FAIL: "#cf222e", Status.UNKNOWN: "#d4a72c", Status.NOT_APPLICABLE: "#c4cbd3"}
_INK = {Status.PASS: "#ffffff", Status.FAIL: "#ffffff", Status.UNKNOWN: "#3b2300", Status.NOT_APPLICABLE: "#24292f"}
_CONFLICTS_LEAD = ("Assigned policies give these settings different values; the rules that read them are unknown "
                   "until one value wins.")
_CHAR = 6.5  # average width of a character of 13px system text, for truncating labels

# The rule chart's layout, in SVG units: the labels take the left, the bars the middle, the notes the right.
_CHART_W, _LABEL_W, _BAR_X, _BAR_W = 1100, 470, 480, 480
_ROW_H, _BAR_H, _RULESET_H, _AXIS_H = 24, 14, 30, 22  # a rule's row, its bar, a ruleset's label, the axis

_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --border: #d1d9e0; --line: #eaeef2; --bg: #f3f5f8;
  --pass: #1a7f37; --fail: #cf222e; --unknown: #9a6700; --na: #6e7781; --accent: #0969da; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
.top { background: #ffffff; border-bottom: 1px solid var(--border); }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 32px; }
.top .wrap { padding-top: 26px; padding-bottom: 22px; }
.eyebrow { color: var(--accent); font-size: 12px; font-weight: 600; letter-spacing: .08em; text-transform: uppercase; }
h1 { font-size: 26px; line-height: 1.25; margin: 4px 0 6px; font-weight: 650; }
.subtitle { color: var(--muted); margin: 0; }
main.wrap { padding-top: 22px; padding-bottom: 40px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 14px; margin-bottom: 22px; }
.kpi { background: #ffffff; border: 1px solid var(--border); border-radius: 10px; padding: 14px 18px 16px; }
.kpi .label { color: var(--muted); font-size: 13px; }
.kpi .value { font-size: 30px; font-weight: 650; line-height: 1.2; font-variant-numeric: tabular-nums; }
.kpi .value small { font-size: 15px; color: var(--muted); font-weight: 500; margin-left: 4px; }
.kpi.fail .value { color: var(--fail); } .kpi.pass .value { color: var(--pass); }
.kpi.unknown .value { color: var(--unknown); } .kpi.na .value { color: var(--na); }
.meter { height: 6px; border-radius: 3px; background: var(--line); margin-top: 8px; overflow: hidden; display: flex; }
.meter span { display: block; height: 100%; }
section.card { background: #ffffff; border: 1px solid var(--border); border-radius: 10px; padding: 20px 24px 22px; margin-bottom: 22px; }
h2 { font-size: 18px; margin: 0 0 2px; font-weight: 650; }
h3 { font-size: 15px; margin: 0; font-weight: 650; }
.lead { color: var(--muted); margin: 0 0 14px; }
.legend { display: flex; flex-wrap: wrap; gap: 16px; margin: 0 0 10px; color: var(--muted); font-size: 13px; }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart text { font-family: inherit; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; border-bottom-color: var(--border); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:last-child td { border-bottom: 0; }
code { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 12.5px; background: #f3f5f8; border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; overflow-wrap: break-word; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge.fail { background: #ffebe9; color: #a40e26; } .badge.pass { background: #dafbe1; color: #116329; }
.badge.unknown { background: #fff8c5; color: #7d4e00; } .badge.na { background: #eaeef2; color: #424a53; }
.badge.sev { background: #ffffff; border: 1px solid var(--border); color: var(--muted); font-weight: 500; }
.chip { display: inline-block; font-weight: 600; font-size: 12px; padding: 0 6px; border-radius: 4px; background: #eaeef2; color: #24292f; margin-right: 4px; white-space: nowrap; }
.chip.fail { background: #ffebe9; color: #a40e26; }
.rule { border: 1px solid var(--line); border-left: 4px solid var(--fail); border-radius: 8px; padding: 14px 18px; margin-top: 14px; }
.rule.unknown { border-left-color: #d4a72c; } .rule.pass { border-left-color: #2da44e; } .rule.na { border-left-color: #c4cbd3; }
.rule-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 12px; }
.rule-head .where { color: var(--muted); font-size: 13px; margin-left: auto; }
.rule table { margin-top: 10px; }
.fix { margin: 12px 0 0; padding: 10px 14px; background: #f0f7ff; border: 1px solid #c7e0fb; border-radius: 6px; }
.fix b { color: #0550ae; }
.muted { color: var(--muted); }
.verdict { font-size: 16px; margin: 0 0 14px; } .verdict .badge { font-size: 14px; padding: 2px 12px; margin-right: 6px; }
.fix ul.reasons { margin: 2px 0 4px; }
ul.cites { margin: 8px 0 0; padding-left: 20px; color: var(--muted); font-size: 13px; }
.caveat { margin: 10px 0 0; padding: 8px 12px; background: #fff8c5; border-radius: 6px; }
ul.reasons { margin: 8px 0 0; padding-left: 20px; }
ul.reasons li { margin: 2px 0; }
.count { font-variant-numeric: tabular-nums; font-weight: 600; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 22px; }
@media (max-width: 900px) { .grid2 { grid-template-columns: 1fr; } .wrap { padding: 0 16px; } }
footer { color: var(--muted); font-size: 12px; padding: 6px 0 30px; }
@media print { body { background: #ffffff; } section.card, .kpi { break-inside: avoid; } }
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _c(value: Any) -> str:
    """Text in a code span that may wrap after ``.``, ``_`` and ``[`` (fact names, JSON paths)."""
    text = _e(value)
    for mark in (".", "_", "["):
        text = text.replace(mark, mark + "<wbr>")
    return f"<code>{text}</code>"


def _lines(items: Sequence[str]) -> str:
    return "\n".join(items)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


def _num(value: float) -> str:
    """A coordinate for SVG: at most one decimal, no trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _clip(text: str, width: float) -> str:
    """``text`` cut to about ``width`` pixels (masked first, so no part of a secret is left)."""
    text = redact(text)
    chars = max(4, int(width / _CHAR))
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _page(title: str, eyebrow: str, subtitle: str, body: list[str]) -> str:
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        '<header class="top"><div class="wrap">',
        f'<div class="eyebrow">{_e(eyebrow)}</div>',
        f"<h1>{_e(title)}</h1>",
        f'<p class="subtitle">{subtitle}</p>',
        "</div></header>",
        '<main class="wrap">',
        *body,
        "<footer>Made by bitlocker-rules. This page is self-contained: it loads nothing from the network.</footer>",
        "</main>",
        "</body>",
        "</html>",
    ]) + "\n"


def _legend(names: Mapping[Status, str] = _NAMES) -> str:
    items = "".join(f'<span><i style="background:{_FILL[s]}"></i>{names[s]}</span>' for s in _ORDER)
    return f'<div class="legend" aria-hidden="true">{items}</div>'


def _kpi(label: str, value: Any, kind: str = "", extra: str = "", meter: str = "") -> str:
    return (f'<div class="kpi {kind}"><div class="label">{_e(label)}</div>'
            f'<div class="value">{_e(value)}{extra}</div>{meter}</div>')


def _meter(parts: Sequence[tuple[int, str]], whole: int) -> str:
    spans = "".join(f'<span style="width:{_num(100 * n / whole)}%;background:{colour}"></span>'
                    for n, colour in parts if whole and n)
    return f'<div class="meter">{spans}</div>'


def _badge(status: Status, names: Mapping[Status, str] = _NAMES) -> str:
    kind = "na" if status is Status.NOT_APPLICABLE else status.value
    return f'<span class="badge {kind}">{names[status]}</span>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = (),
           widths: Sequence[int] = ()) -> str:
    cols = "<colgroup>" + "".join(f'<col style="width:{w}%">' for w in widths) + "</colgroup>" if widths else ""
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{_e(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{cell}</td>' for i, cell in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table>{cols}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# --- charts ----------------------------------------------------------------------------------


def _rule_chart(tallies: Sequence[Any], devices: int) -> str:
    """One stacked bar per rule, grouped by ruleset: the share of devices in each status."""
    rows, y = [], _AXIS_H
    for ruleset, items in _by_ruleset(tallies).items():
        rows.append(_ruleset_label(ruleset, y + 6))
        y += _RULESET_H
        for tally in items:
            rows += _rule_row(tally, y + _ROW_H / 2, devices)
            y += _ROW_H
    out = [*_grid_lines(y + 2), *_axis_labels(), *rows]
    return (f'<svg class="chart" viewBox="0 0 {_CHART_W} {_num(y + 6)}" role="img" '
            f'aria-label="Share of devices that pass, fail, are unknown or not applicable, per rule">'
            f'<title>Verdicts per rule</title>\n{_lines(out)}\n</svg>')


def _by_ruleset(tallies: Sequence[Any]) -> dict[str, list[Any]]:
    """The tallies grouped by ruleset, rulesets and rules in the order first seen."""
    groups: dict[str, list[Any]] = {}
    for tally in tallies:
        groups.setdefault(tally.ruleset, []).append(tally)
    return groups


def _tick_xs() -> list[tuple[int, float]]:
    """Each percentage the axis marks (every 25%), with its x on the bar."""
    return [(tick, _BAR_X + _BAR_W * tick / 100) for tick in range(0, 101, 25)]


def _axis_labels() -> list[str]:
    """The percentages above the bars."""
    return [f'<text x="{_num(x)}" y="13" font-size="11" fill="#6e7781" text-anchor="middle">{tick}%</text>'
            for tick, x in _tick_xs()]


def _grid_lines(bottom: float) -> list[str]:
    """A vertical line at each percentage, from under the axis labels down to ``bottom``.

    Drawn first, right to left, so that every bar and label is painted over them.
    """
    return [f'<line x1="{_num(x)}" y1="{_AXIS_H - 4}" x2="{_num(x)}" y2="{_num(bottom)}" '
            f'stroke="#eaeef2" stroke-width="1"/>' for _, x in reversed(_tick_xs())]


def _ruleset_label(ruleset: str, top: float) -> str:
    """A ruleset's name in small capitals above its rules."""
    return (f'<text x="0" y="{_num(top + 16)}" font-size="12" font-weight="600" fill="#59636e" '
            f'letter-spacing=".04em">{_e(ruleset.upper().replace("_", " "))}</text>')


def _rule_row(tally: Any, mid: float, devices: int) -> list[str]:
    """One rule's row centred on ``mid``: its label, the bar's track and parts, and a note of what went wrong."""
    label = f"{tally.rule} {tally.title}"
    return [f'<text x="0" y="{_num(mid + 4.5)}" font-size="13" fill="#1f2328">'
            f'<title>{_e(label)}</title><tspan font-weight="600">{_e(tally.rule)}</tspan>'
            f'<tspan x="62" fill="#424a53">{_e(_clip(tally.title, _LABEL_W - 70))}</tspan></text>',
            f'<rect x="{_BAR_X}" y="{_num(mid - _BAR_H / 2)}" width="{_BAR_W}" height="{_BAR_H}" '
            f'rx="2" fill="#f3f5f8"/>',
            *_bar_parts(tally, mid, devices),
            _rule_note(tally, mid)]


def _bar_parts(tally: Any, mid: float, devices: int) -> list[str]:
    """The coloured part of the bar for each status, with its count written inside where it fits."""
    out, x = [], _BAR_X
    for status in _ORDER:
        count = tally.counts[status.value]
        if not count or not devices:
            continue
        w = _BAR_W * count / devices
        out.append(f'<rect x="{_num(x)}" y="{_num(mid - _BAR_H / 2)}" width="{_num(w)}" height="{_BAR_H}" '
                   f'fill="{_FILL[status]}"><title>{_e(tally.rule)} {_NAMES[status]}: {count} of '
                   f'{devices} devices ({_pct(count, devices)})</title></rect>')
        if w >= 8 * len(str(count)) + 6:  # about 8px a digit and a margin: a narrower part stays unlabelled
            out.append(f'<text x="{_num(x + w / 2)}" y="{_num(mid + 4)}" font-size="11" font-weight="600" '
                       f'fill="{_INK[status]}" text-anchor="middle">{count}</text>')
        x += w
    return out


def _rule_note(tally: Any, mid: float) -> str:
    """Right of the bar: how many devices fail and are unknown, or that none fail."""
    fail, unknown = tally.counts["fail"], tally.counts["unknown"]
    notes = []
    if fail:
        notes.append(f'<tspan fill="#cf222e" font-weight="600">{fail} fail</tspan>')
    if unknown:
        notes.append(f'<tspan fill="#9a6700">{unknown} unknown</tspan>')
    if not notes:
        notes.append('<tspan fill="#8c959f">no failures</tspan>')
    return f'<text x="{_BAR_X + _BAR_W + 14}" y="{_num(mid + 4.5)}" font-size="12">' + " · ".join(notes) + "</text>"


def _cause_chart(reasons: Sequence[tuple[str, int]], devices: int) -> str:
    """One bar per failure cause: how many devices fail a rule for that reason."""
    width, bar_w, row_h = 1100, 760, 46
    scale_to = max([1, *(count for _, count in reasons)])  # the longest bar is the most common cause
    out, y = [], 0
    for reason, count in reasons:
        rule, text = split_reason(reason)
        out.append(f'<text x="0" y="{y + 15}" font-size="13" fill="#1f2328"><title>{_e(reason)}</title>'
                   f'<tspan font-weight="600">{_e(rule)}</tspan>'
                   f'<tspan dx="8" fill="#424a53">{_e(_clip(text, width - 90))}</tspan></text>')
        w = max(2.0, bar_w * count / scale_to)
        out.append(f'<rect x="0" y="{y + 22}" width="{bar_w}" height="14" rx="3" fill="#f3f5f8"/>')
        out.append(f'<rect x="0" y="{y + 22}" width="{_num(w)}" height="14" rx="3" fill="#cf222e">'
                   f'<title>{count} devices</title></rect>')
        out.append(f'<text x="{_num(bar_w + 12)}" y="{y + 34}" font-size="12" fill="#1f2328">'
                   f'<tspan font-weight="600">{count}</tspan><tspan fill="#59636e"> '
                   f'device{"" if count == 1 else "s"} · {_pct(count, devices)} of the fleet</tspan></text>')
        y += row_h
    return (f'<svg class="chart" viewBox="0 0 {width} {max(y, 1)}" role="img" '
            f'aria-label="Devices per failure cause"><title>Failure causes</title>\n{_lines(out)}\n</svg>')


def _status_bar(counts: Mapping[Status, int], total: int, names: Mapping[Status, str] = _NAMES) -> str:
    """A single stacked bar of a device's verdicts."""
    width, h = 1100, 26
    out, x = [], 0.0
    for status in _ORDER:
        count = counts[status]
        if not count or not total:
            continue
        w = width * count / total
        out.append(f'<rect x="{_num(x)}" y="0" width="{_num(w)}" height="{h}" fill="{_FILL[status]}">'
                   f'<title>{names[status]}: {count}</title></rect>')
        if w > 10 * len(f"{count} {names[status]}"):  # about 10px a character of 13px bold: else no label
            out.append(f'<text x="{_num(x + 10)}" y="17" font-size="13" font-weight="600" fill="{_INK[status]}">'
                       f'{count} {names[status]}</text>')
        x += w
    return (f'<svg class="chart" viewBox="0 0 {width} {h}" role="img" aria-label="Verdicts of the rules">'
            f'<title>Verdicts of the rules</title>\n{_lines(out)}\n</svg>')


# --- a fleet ---------------------------------------------------------------------------------------


def render_fleet_html(
    summary,
    *,
    devices: Iterable[Mapping[str, Any]] | None = None,
    examples: Iterable[RuleOutcome] = (),
    inputs: Sequence[InputRecord] = (),
    limit: int = DEFAULT_LIMIT,
    title: str = "BitLocker encryption readiness",
    bad_row_limit: int = 50,
) -> str:
    """The fleet page for a ``fleet.FleetSummary``.

    ``devices``: device records as ``fleet.device_record`` makes them (any number; at most
    ``limit`` worst are kept); ``examples``: failing or unknown outcomes (one per rule is
    enough) to explain each rule with its settings, rule text and fix; ``inputs``: the files
    read.
    """
    examples = tuple(examples)  # read by two sections: a one-shot iterator must serve both
    subtitle = (f"{summary.devices} device{'' if summary.devices == 1 else 's'} checked against "
                f"{len(summary.rules)} rules of {_ruleset_names(summary.rules)}")
    body = [
        *_fleet_kpis(summary),
        *_fleet_scenarios(summary),
        *_verdicts_per_rule(summary.rules, summary.devices),
        *_policy_conflicts(summary.conflicts),
        *_failure_causes(summary.top_reasons(), summary.devices),
        *_worst_devices(worst_devices(devices, limit), limit),
        *_why_rules_fail(summary, examples),
        *_undecided_rules(summary.rules, examples),
        *_bad_rows(summary.bad_rows, bad_row_limit, summary.bad_row_count),
        *_inputs_section(inputs),
    ]
    return redact(_page(title, "Fleet report", subtitle, body))


def _ruleset_names(items: Iterable[Any]) -> str:
    """The rulesets of ``items`` (rule tallies or outcomes) in the order first seen, escaped, for a subtitle."""
    return _e(", ".join(dict.fromkeys(i.ruleset for i in items)) or "no ruleset")


def _card(heading: str, *content: str) -> list[str]:
    """A section of the page: a card with ``heading``, then ``content``, one item a line."""
    return ['<section class="card">', f"<h2>{heading}</h2>", *content, "</section>"]


def _lead(html: str) -> str:
    """The paragraph under a card's heading that says what the card shows."""
    return f'<p class="lead">{html}</p>'


def _fleet_kpis(summary: Any) -> list[str]:
    """The headline numbers: devices evaluated, failing and passing, rules failing somewhere, rows not read."""
    total, failed = summary.devices, summary.failed_devices
    clean = total - failed
    failing_rules = sum(1 for t in summary.rules if t.counts["fail"])
    return ['<div class="kpis">',
            _kpi("Devices evaluated", total, meter=_meter([(clean, "#2da44e"), (failed, "#cf222e")], total)),
            _kpi("Failing at least one rule", failed, "fail", f"<small>{_pct(failed, total)}</small>"),
            _kpi("Passing every rule", clean, "pass", f"<small>{_pct(clean, total)}</small>"),
            _kpi("Rules failing somewhere", failing_rules, "fail" if failing_rules else "",
                 f"<small>of {len(summary.rules)}</small>"),
            _kpi("Rows not read", summary.bad_row_count, "unknown" if summary.bad_rows else "na"),
            "</div>"]


def _verdicts_per_rule(tallies: Sequence[Any], devices: int) -> list[str]:
    """The chart of every rule's verdicts across the fleet."""
    return _card("Verdicts per rule",
                 _lead("The share of devices for which each rule passed, failed, could not be decided "
                       "(a setting or device fact was missing or in conflict) or did not apply."),
                 _legend(), _rule_chart(tallies, devices))


def _fleet_scenarios(summary: Any) -> list[str]:
    """Per scenario, on how many devices it was in scope, out of scope or not known."""
    scenarios = fleet_scenarios(summary)
    if not scenarios:
        return []
    items = "".join(f"<li>{_e(s.sentence())}</li>" for s in scenarios)
    return _card("What the checks are about",
                 _lead("Declared for the whole run, or inferred device by device from the policies it gets."),
                 f"<ul>{items}</ul>")


def _policy_conflicts(conflicts: Iterable[Any]) -> list[str]:
    """The settings assigned policies disagree on, most devices first, with how many devices get each."""
    ordered = sorted_conflicts(conflicts)
    if not ordered:
        return []
    rows = [row for c in ordered for row in _conflict_rows(c.record, [f'<span class="count">{c.devices}</span>'])]
    return _card("Policy conflicts", _lead(f"{_CONFLICTS_LEAD} Devices: how many evaluated devices get the conflict."),
                 _table(["Setting", "Fact", "Policy", "Value", "Devices"], rows, numeric=(4,)))


def _failure_causes(reasons: Sequence[tuple[str, int]], devices: int) -> list[str]:
    """The chart of the most common failure reasons."""
    if not reasons:
        return []
    return _card("Failure causes",
                 _lead("The most common reasons a rule failed: the setting or device fact at fault and "
                       "its value, with the number of devices."),
                 _cause_chart(reasons, devices))


def _worst_devices(worst: Sequence[Mapping[str, Any]], limit: int) -> list[str]:
    """The devices with the most failed rules (already chosen, at most ``limit``)."""
    if not worst:
        return []
    return _card("Devices with the most failed rules",
                 _lead(f"Devices that failed a rule, the most failed rules first, then the most "
                       f"undecided: {len(worst)} shown (at most {limit})."),
                 _worst_table(worst))


def _why_rules_fail(summary: Any, examples: Iterable[RuleOutcome]) -> list[str]:
    """Every rule that failed somewhere, most failures first (ties in ruleset order), with its reasons and fix."""
    failing = [t for t in summary.rules if t.counts["fail"]]
    if not failing:
        return []
    explained = examples_by_rule(examples)
    grouped = reasons_by_rule(summary.reason_counts)
    rulesets = list(dict.fromkeys(t.ruleset for t in summary.rules))
    return _card("Why rules fail, and the fix",
                 _lead("Every rule that failed on a device, most failures first: the reasons seen, "
                       "what the rule needs, where the rule is written, and what to change."),
                 *(_fleet_rule(tally, summary.devices, grouped.get(tally.rule, []),
                               explained.get((tally.rule, Status.FAIL)))
                   for tally in sorted(failing, key=lambda t: (-t.counts["fail"], rulesets.index(t.ruleset)))))


def _undecided_rules(tallies: Sequence[Any], examples: Iterable[RuleOutcome]) -> list[str]:
    """The rules left unknown on some devices, most first, with the facts an example was missing."""
    undecided = sorted((t for t in tallies if t.counts["unknown"]), key=lambda t: -t.counts["unknown"])
    if not undecided:
        return []
    explained = examples_by_rule(examples)
    rows = [_undecided_row(t, explained.get((t.rule, Status.UNKNOWN))) for t in undecided]
    return _card("Rules that could not be decided",
                 _lead("A missing fact or a conflict between policies leaves a rule unknown: not failed, "
                       "but not known to pass. Add the fact to the inventory, or resolve the conflict."),
                 _table(["Rule", "Title", "Devices", "Missing or conflicting"], rows, numeric=(2,)))


def _undecided_row(tally: Any, example: RuleOutcome | None) -> list[str]:
    """An undecided rule's row: the rule, how many devices, and the facts ``example`` was missing (if any)."""
    missing = "" if example is None else ", ".join(dict.fromkeys(
        f"{_e(c.label)} {_c(c.fact)}" + (" (conflict)" if c.conflict else "") for c in example.reasons if c.missing))
    return [f'<span class="chip">{_e(tally.rule)}</span>', _e(tally.title),
            f'<span class="count">{tally.counts["unknown"]}</span>', missing or '<span class="muted">—</span>']


def _bad_rows(bad_rows: Sequence[Any], limit: int, count: int) -> list[str]:
    """The rows that could not be read, at most ``limit`` of the ``count``, and how many more there were."""
    if not bad_rows:
        return []
    shown = bad_rows[:limit]
    more = count - len(shown)
    return _card("Rows that could not be read", _lead("These rows were skipped; the other rows were evaluated."),
                 _table(["Row", "Problem"], [[str(b.number), _e(b.message)] for b in shown], numeric=(0,)),
                 f'<p class="muted">… and {more} more.</p>' if more else "")


def _worst_table(worst: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for record in worst:
        failing = [r for r in record.get("results", []) if r.get("status") == "fail"]
        items = []
        for result in failing[:4]:
            first = (result.get("reasons") or [""])[0]
            items.append(f'<div><span class="chip fail">{_e(result["rule"])}</span>{_e(first)}</div>')
        if len(failing) > 4:
            items.append(f'<div class="muted">and {len(failing) - 4} more</div>')
        summary = record.get("summary", {})
        rows.append([_device_name(str(record.get("device", ""))), str(record.get("row", "")),
                     f'<span class="count" style="color:var(--fail)">{summary.get("fail", 0)}</span>',
                     str(summary.get("unknown", 0)), "".join(items)])
    return _table(["Device", "Row", "Failed", "Unknown", "Failing rules and the first reason"], rows,
                  numeric=(1, 2, 3))


_SUBJECT = re.compile(r"device '(?P<name>.*)'(?: \((?P<id>[^()]*)\))?")


def _device_name(subject: str) -> str:
    """``device 'NAME' (id)`` as the name in bold with the id under it."""
    match = _SUBJECT.fullmatch(subject)
    if not match:
        return _e(subject)
    ident = match.group("id")
    return f'<b>{_e(match.group("name"))}</b>' + (f'<br><span class="muted">{_e(ident)}</span>' if ident else "")


def _fleet_rule(tally: Any, devices: int, reasons: Sequence[tuple[str, int]], example: RuleOutcome | None) -> str:
    head = (f'<div class="rule-head"><span class="chip fail">{_e(tally.rule)}</span><h3>{_e(tally.title)}</h3>'
            f'<span class="badge sev">{_e(tally.severity)}</span>'
            f'<span class="where">fails on <b>{tally.counts["fail"]}</b> of {devices} devices '
            f'({_pct(tally.counts["fail"], devices)}) · {_e(tally.ruleset)}</span></div>')
    parts = [f'<div class="rule">{head}']
    if reasons:
        parts.append('<ul class="reasons">' + "".join(
            f'<li><span class="count">{count}</span> × {_e(reason)}</li>' for reason, count in reasons[:8]) + "</ul>")
    if example is not None:
        rows = [[f"{_e(c.label)}<br>{_c(c.fact)}", _e(c.required),
                 _c(c.text) + (f'<br><span class="muted">{_e(c.origin)}</span>' if c.origin else "")]
                for c in example.reasons if c.status is Status.FAIL]
        if rows:
            parts.append(_table(["Setting or fact", "What the rule needs", "Rule text"], rows, widths=(30, 30, 40)))
        parts.append(_fix(example))
    parts.append("</div>")
    return "".join(parts)


def _fix(outcome: RuleOutcome) -> str:
    items = []
    if outcome.remediation:
        items.append(f"<b>Fix:</b> {_e(outcome.remediation)}")
    if outcome.events:
        items.append(f"<b>BitLocker event ids:</b> {_e(', '.join(str(e) for e in outcome.events))}")
    return f'<div class="fix">{"<br>".join(items)}</div>' if items else ""


def _inputs_section(inputs: Sequence[InputRecord]) -> list[str]:
    """The files read and what each was read as."""
    if not inputs:
        return []
    return _card("Inputs read", _table(["Input", "File", "Read as"],
                                       [[_e(i.name), _c(i.file), _e(i.kind)] for i in inputs]))


# --- a device ---------------------------------------------------------------------------------------


def render_html(report: Report, *, verbose: bool = False) -> str:
    """The page for one device: the verdict, scenarios, causes, what is unknown and the fix
    first; then the rules that fail or could not be decided (every rule with ``verbose``),
    each explained, the conflicts, the notes and the inputs."""
    outcomes, conflicts = report.outcomes, {c.fact: c for c in report.conflicts}
    counts = {s: report.count(s) for s in Status}
    shown = shown_outcomes(report, verbose)
    # passing rules are explained only on request, and only those with reasons: the others would say nothing
    passes = [o for o in shown if o.status in (Status.PASS, Status.NOT_APPLICABLE) and o.reasons]
    subtitle = f"{len(outcomes)} rule{'' if len(outcomes) == 1 else 's'} of {_ruleset_names(outcomes)}"
    body = [
        *_device_kpis(counts),
        *_verdict_card(report),
        *_causes_card(report),
        *_undecided_card(report.undecided()),
        *_fix_card(report),
        *_verdicts(report, counts, shown, verbose),
        *_rules_card("Failing rules", [o for o in shown if o.status is Status.FAIL], conflicts, report,
                     "The settings at fault, their values, what each rule needs, and the fix."),
        *_rules_card("Rules that could not be decided", [o for o in shown if o.status is Status.UNKNOWN], conflicts,
                     report, "A fact is missing, assigned policies disagree on a setting, or the sources "
                             "do not settle the verdict."),
        *_rules_card("Rules that pass or do not apply", passes, conflicts, report),
        *_conflicting_settings(other_conflicts(report)),
        *_notes(report.notes),
        *_inputs_section(report.inputs),
    ]
    return redact(_page(f"BitLocker rules: {report.subject or 'the given facts'}", "Device report", subtitle, body))


def _device_kpis(counts: Mapping[Status, int]) -> list[str]:
    """The headline numbers: how many rules fail, are unknown, pass and do not apply."""
    return ['<div class="kpis">',
            _kpi("Fail", counts[Status.FAIL], "fail"),
            _kpi("Unknown", counts[Status.UNKNOWN], "unknown"),
            _kpi("Pass", counts[Status.PASS], "pass"),
            _kpi("Do not apply", counts[Status.NOT_APPLICABLE], "na"),
            "</div>"]


def _verdict_card(report: Report) -> list[str]:
    """The verdict in a sentence, then what the check is about: each scenario and how it was decided."""
    word, sentence = verdict(report)
    line = f'<p class="verdict"><span class="badge {word.lower()}">{word}</span> {_e(sentence)}</p>'
    shown = report.relevant_scenarios()
    if not shown:
        return _card("Verdict", line)
    items = []
    for scenario in shown:
        pending = scenario_pending(report, scenario)
        items.append(f"<li><b>{_e(scenario.label)}</b>: {_e(scenario.state)}, {_e(scenario.provenance())}"
                     + (f'. <span class="muted">{_e(pending[0].upper() + pending[1:])}</span>' if pending else "")
                     + "</li>")
    return _card("Verdict", line, "<h3>What this check is about</h3>", '<ul class="reasons">', *items, "</ul>")


def _causes_card(report: Report) -> list[str]:
    """Each distinct cause, worst first: the value at fault, the rules it breaks, the fix."""
    causes = report.causes()
    if not causes:
        return []
    return _card("Causes", _lead("Each setting or device fact at fault, with the rules it breaks; the worst first."),
                 *(_cause_block(number, cause, report) for number, cause in enumerate(causes, 1)))


def _cause_block(number: int, cause: Cause, report: Report) -> str:
    """One cause: its value (or each policy's), the rules with what each needs, the fix and events."""
    kind = "unknown" if cause.kind == "conflict" else "fail"
    heading = (f"{cause.label} is in conflict between policies" if cause.kind == "conflict" else cause.sentence())
    source = value_from(cause.source, report.inputs) if cause.kind != "conflict" else ""
    where = " · ".join(filter(None, [rules_broken(cause), f"value from {source}" if source else ""]))
    parts = [f'<div class="rule {kind}"><div class="rule-head"><span class="chip{" fail" if kind == "fail" else ""}">'
             f'{number}</span><h3>{_e(heading)}</h3><span class="badge sev">{_e(cause.severity)}</span>'
             f'<span class="where">{_e(where)}</span></div>']
    if cause.kind == "conflict":
        parts.append(_table(["Policy", "Value"], [[_e(src), f"<b>{_e(shown)}</b>"] for src, _, shown in cause.values]))
    parts.append(_table(["Rule", "Severity", "Title", "What the rule needs"],
                        [[f'<span class="chip">{_e(r.rule)}</span>', _e(r.severity), _e(r.title), _e(r.required)]
                         for r in cause.rules], widths=(10, 10, 45, 35)))
    fixes = ([conflict_fix(cause)] if cause.kind == "conflict" else []) + list(cause.fixes)
    items = ([f"<b>Fix:</b> {_e(fixes[0])}"] if len(fixes) == 1 else
             ['<b>Fix:</b><ul class="reasons">' + "".join(f"<li>{_e(fix)}</li>" for fix in fixes) + "</ul>"]
             if fixes else [])
    if cause.events:
        items.append(f"<b>BitLocker event ids:</b> {_e(', '.join(str(e) for e in cause.events))}")
    if items:
        parts.append('<div class="fix">' + "".join(f"<div>{item}</div>" for item in items) + "</div>")
    parts.append("</div>")
    return "".join(parts)


def _undecided_card(groups: Sequence[Undecided]) -> list[str]:
    """The rules that could not be decided, one row per set of missing facts (or caveat)."""
    if not groups:
        return []
    rows = [["<br>".join(f"{_e(label)} {_c(fact)}" for fact, label in g.facts) if g.facts else _e(g.caveat),
             "<br>".join(f'<span class="chip">{_e(r.rule)}</span>{_e(r.title)}' for r in g.rules)]
            for g in groups]
    total = sum(len(g.rules) for g in groups)
    return _card("What is not known",
                 _lead(_e(f"{total} rule{'' if total == 1 else 's'} could not be decided. "
                          "Give the missing facts to decide them.")),
                 _table(["Missing", "Rules"], rows, widths=(45, 55)))


def _fix_card(report: Report) -> list[str]:
    """The smallest policy change, the device prerequisites, and what would only turn a rule off."""
    parts = []
    if report.suggested_changes:
        parts += [_lead("The fewest policy settings to change so that the failing rules pass:"),
                  _table(["Setting", "Now", "Change to"],
                         [[_e(c.label), _e(c.current), f"<b>{_e(c.new)}</b>"] for c in report.suggested_changes])]
    numbers, others = device_only(report)
    if numbers:  # already shown as causes: say which, rather than repeat them
        parts.append(f"<p>{_e(device_causes(numbers))}</p>")
    if others:
        parts += ["<p>No policy setting can fix these; the device must change:</p>",
                  '<ul class="reasons">', *(f"<li>{_e(item)}</li>" for item in others), "</ul>"]
    if report.turn_off_changes:
        parts += ["<p>Not a fix: these changes would only turn a rule off (it would no longer apply):</p>",
                  '<ul class="reasons">', *(f"<li>{_e(item.sentence())}</li>" for item in report.turn_off_changes),
                  "</ul>"]
    return _card("The fix", *parts) if parts else []


def _verdicts(report: Report, counts: Mapping[Status, int], shown: Sequence[RuleOutcome], verbose: bool) -> list[str]:
    """The verdicts as one bar, the rules listed in a table, and what was left out."""
    hidden = hidden_rows(report, verbose)
    table = _table(["Status", "Rule", "Severity", "Title", "Reason"],
                   [[_badge(o.status, _DEVICE_NAMES), f'<span class="chip">{_e(o.rule)}</span>',
                     _e(o.severity) + (' <span class="muted">advice</span>' if o.advice else ""), _e(o.title),
                     _e(o.short_reason())] for o in shown]) if shown else ""
    heading = "Every rule" if verbose else "Rules that fail or could not be decided" if shown else "Verdicts"
    return _card(heading,
                 _legend(_DEVICE_NAMES), _status_bar(counts, len(report.outcomes), _DEVICE_NAMES),
                 '<div style="height:16px"></div>', table,
                 f'<p class="muted">{_e(hidden)}</p>' if hidden else "")


def _rules_card(heading: str, outcomes: Sequence[RuleOutcome], conflicts: Mapping[str, ConflictRecord],
                report: Report, lead: str = "") -> list[str]:
    """A card that explains each of ``outcomes`` in full; nothing when there are none."""
    if not outcomes:
        return []
    return _card(heading, *([_lead(lead)] if lead else []), *(_device_rule(o, conflicts, report) for o in outcomes))


def _conflicting_settings(conflicts: Sequence[ConflictRecord]) -> list[str]:
    """The settings the device's policies disagree on that no cause shows, one row per policy."""
    if not conflicts:
        return []
    return _card("Other settings in conflict", _lead(_CONFLICTS_LEAD + " No rule checked reads these."),
                 _table(["Setting", "Fact", "Policy", "Value"], [row for c in conflicts for row in _conflict_rows(c)]))


def _notes(notes: Sequence[NoteOutcome]) -> list[str]:
    """The notes that apply or may apply (those known not to apply are left out)."""
    shown = [n for n in notes if n.applies is not False]
    if not shown:
        return []
    return _card("Notes", '<ul class="reasons">', *(_note_item(n) for n in shown), "</ul>")


def _note_item(note: NoteOutcome) -> str:
    """A note as a list item: the rule, its title, whether it only may apply, and why it matters."""
    return (f'<li><span class="chip">{_e(note.rule)}</span><b>{_e(note.title)}</b>'
            + (' <span class="muted">(may apply)</span>' if note.applies is None else "")
            + (f": {_e(note.rationale)}" if note.rationale else "") + "</li>")


def _conflict_rows(conflict: ConflictRecord, extra: Sequence[str] = ()) -> list[list[str]]:
    """A conflict as table rows, one per policy: the setting and ``extra`` cells on the first row only."""
    return [[_e(conflict.label) if i == 0 else "", _c(conflict.fact) if i == 0 else "", _e(source), _e(shown),
             *(extra if i == 0 else [""] * len(extra))]
            for i, (source, _, shown) in enumerate(conflict.values)]


def _device_rule(outcome: RuleOutcome, conflicts: Mapping[str, ConflictRecord], report: Report) -> str:
    """One rule in full: verdict, severity, what it encodes or advises on, its conditions and the fix."""
    kind = "na" if outcome.status is Status.NOT_APPLICABLE else outcome.status.value
    advice = '<span class="badge sev">advice</span>' if outcome.advice else ""
    head = (f'<div class="rule-head"><span class="chip{" fail" if kind == "fail" else ""}">{_e(outcome.rule)}</span>'
            f"<h3>{_e(outcome.title)}</h3>{_badge(outcome.status, _DEVICE_NAMES)}"
            f'<span class="badge sev">{_e(outcome.severity)}</span>{advice}'
            f'<span class="where">{_e(outcome.location)}</span></div>')
    cited = citations(outcome, report)
    cites = ('<ul class="cites">' + "".join(f"<li>{_e(c[:1].upper() + c[1:])}</li>" for c in cited) + "</ul>"
             if cited else "")
    caveat = (f'<p class="caveat"><b>Unknown because</b> {_e(outcome.caveat.rstrip("."))}.</p>'
              if outcome.caveat else "")
    rows = [_condition_row(c, conflicts) for c in outcome.reasons]
    table = _table(["Setting", "Actual value", "What the rule needs", "Value from", "Rule text"], rows,
                   widths=(21, 15, 16, 26, 22)) if rows else ""
    fix = _fix(outcome) if outcome.status in (Status.FAIL, Status.UNKNOWN) else ""
    return f'<div class="rule {kind}">{head}{cites}{caveat}{table}{fix}</div>'


def _condition_row(c: Condition, conflicts: Mapping[str, ConflictRecord]) -> list[str]:
    setting = f"{_e(c.label)}<br>{_c(c.fact)}"
    if not c.decisive:
        setting += '<br><span class="muted">also wrong; not needed for the verdict</span>'
    if c.conflict and c.fact in conflicts:
        actual = '<span class="badge unknown">conflict</span><br>' + "<br>".join(
            _e(shown) for _, _, shown in conflicts[c.fact].values)
    elif c.conflict:
        actual = f'<span class="badge unknown">conflict</span> {_e(c.conflict)}'
    elif c.missing:
        actual = '<span class="badge na">missing</span>'
    else:
        actual = f"<b>{_e(c.actual)}</b>"
    source = "<br>".join(_origin_html(o) for o in c.source) if c.source else \
        '<span class="muted">not given</span>'
    rule_text = _c(c.text) + (f'<br><span class="muted">{_e(c.origin)}</span>' if c.origin else "")
    return [setting, actual, _e(c.required), source, rule_text]


def _origin_html(origin: ValueOrigin) -> str:
    """The input's name, and its place in code below it."""
    return f"{_e(origin.input)}<br>{_c(origin.place())}" if origin.path is not None else _e(origin.text())
