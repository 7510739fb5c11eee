"""The charts of the HTML pages, drawn as inline SVG: no script, no image to fetch.

A fleet page has a stacked bar per rule (the share of devices in each status, grouped by
ruleset), a bar per failure cause and, given the runs of a results store, a line of the share of
devices failing over time; a device's page has one bar of its verdicts. Labels are
masked before they are cut to fit, so no part of a secret is left in a clipped label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ...errors import redact
from ...outcome import Status
from ..fleet_detail import split_reason
from .page import STATUS_NAMES, STATUS_ORDER, escaped, percent, svg_number

_FILL = {
    Status.PASS: "#2da44e",
    Status.FAIL: "#cf222e",
    Status.UNKNOWN: "#d4a72c",
    Status.NOT_APPLICABLE: "#c4cbd3",
    Status.WAIVED: "#8250df",
}
_INK = {
    Status.PASS: "#ffffff",
    Status.FAIL: "#ffffff",
    Status.UNKNOWN: "#3b2300",
    Status.NOT_APPLICABLE: "#24292f",
    Status.WAIVED: "#ffffff",
}
_CHAR = 6.5  # average width of a character of 13px system text, for truncating labels

# The rule chart's layout, in SVG units: the labels take the left, the bars the middle, the notes the right.
_CHART_W, _LABEL_W, _BAR_X, _BAR_W = 1100, 470, 480, 480
_ROW_H, _BAR_H, _RULESET_H, _AXIS_H = 24, 14, 30, 22  # a rule's row, its bar, a ruleset's label, the axis


class RuleTally(Protocol):
    """What the pages read of a fleet's tally for one rule (``fleet.RuleTally``, passed duck-typed)."""

    @property
    def ruleset(self) -> str:
        """The rule's ruleset."""

    @property
    def rule(self) -> str:
        """The rule's id."""

    @property
    def title(self) -> str:
        """The rule's title."""

    @property
    def severity(self) -> str:
        """The rule's severity."""

    @property
    def counts(self) -> Mapping[str, int]:
        """How many devices ended with each status, by the status's value."""


def legend(names: Mapping[Status, str] = STATUS_NAMES) -> str:
    """The key of the charts' colours, each status named by ``names``."""
    items = "".join(f'<span><i style="background:{_FILL[s]}"></i>{names[s]}</span>' for s in STATUS_ORDER)
    return f'<div class="legend" aria-hidden="true">{items}</div>'


def _clipped(text: str, width: float) -> str:
    """``text`` cut to about ``width`` pixels (masked first, so no part of a secret is left)."""
    text = redact(text)
    chars = max(4, int(width / _CHAR))
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _svg(view_box: str, label: str, title: str, shapes: Sequence[str]) -> str:
    """A chart: ``shapes`` one a line in an ``svg`` of the page's chart class, described for screen readers."""
    shapes_text = "\n".join(shapes)
    return (
        f'<svg class="chart" viewBox="{view_box}" role="img" aria-label="{label}">'
        f"<title>{title}</title>\n{shapes_text}\n</svg>"
    )


# --- the verdicts of every rule over a fleet ------------------------------------------------------


def rule_chart(tallies: Sequence[RuleTally], devices: int) -> str:
    """One stacked bar per rule, grouped by ruleset: the share of devices in each status."""
    rows, y = [], float(_AXIS_H)
    for ruleset, items in _by_ruleset(tallies).items():
        rows.append(_ruleset_label(ruleset, y + 6))
        y += _RULESET_H
        for tally in items:
            rows += _rule_row(tally, y + _ROW_H / 2, devices)
            y += _ROW_H
    return _svg(
        f"0 0 {_CHART_W} {svg_number(y + 6)}",
        "Share of devices that pass, fail, are unknown or not applicable, per rule",
        "Verdicts per rule",
        [*_grid_lines(y + 2), *_axis_labels(), *rows],
    )


def _by_ruleset(tallies: Sequence[RuleTally]) -> dict[str, list[RuleTally]]:
    """The tallies grouped by ruleset, rulesets and rules in the order first seen."""
    groups: dict[str, list[RuleTally]] = {}
    for tally in tallies:
        groups.setdefault(tally.ruleset, []).append(tally)
    return groups


def _tick_xs() -> list[tuple[int, float]]:
    """Each percentage the axis marks (every 25%), with its x on the bar."""
    return [(tick, _BAR_X + _BAR_W * tick / 100) for tick in range(0, 101, 25)]


def _axis_labels() -> list[str]:
    """The percentages above the bars."""
    return [
        f'<text x="{svg_number(x)}" y="13" font-size="11" fill="#6e7781" text-anchor="middle">{tick}%</text>'
        for tick, x in _tick_xs()
    ]


def _grid_lines(bottom: float) -> list[str]:
    """A vertical line at each percentage, from under the axis labels down to ``bottom``.

    Drawn first, right to left, so that every bar and label is painted over them.
    """
    return [
        f'<line x1="{svg_number(x)}" y1="{_AXIS_H - 4}" x2="{svg_number(x)}" y2="{svg_number(bottom)}" '
        f'stroke="#eaeef2" stroke-width="1"/>'
        for _, x in reversed(_tick_xs())
    ]


def _ruleset_label(ruleset: str, top: float) -> str:
    """A ruleset's name in small capitals above its rules."""
    return (
        f'<text x="0" y="{svg_number(top + 16)}" font-size="12" font-weight="600" fill="#59636e" '
        f'letter-spacing=".04em">{escaped(ruleset.upper().replace("_", " "))}</text>'
    )


def _rule_row(tally: RuleTally, mid: float, devices: int) -> list[str]:
    """One rule's row centred on ``mid``: its label, the bar's track and parts, and a note of what went wrong."""
    label = f"{tally.rule} {tally.title}"
    return [
        f'<text x="0" y="{svg_number(mid + 4.5)}" font-size="13" fill="#1f2328">'
        f'<title>{escaped(label)}</title><tspan font-weight="600">{escaped(tally.rule)}</tspan>'
        f'<tspan x="62" fill="#424a53">{escaped(_clipped(tally.title, _LABEL_W - 70))}</tspan></text>',
        f'<rect x="{_BAR_X}" y="{svg_number(mid - _BAR_H / 2)}" width="{_BAR_W}" height="{_BAR_H}" '
        f'rx="2" fill="#f3f5f8"/>',
        *_bar_parts(tally, mid, devices),
        _rule_note(tally, mid),
    ]


def _bar_parts(tally: RuleTally, mid: float, devices: int) -> list[str]:
    """The coloured part of the bar for each status, with its count written inside where it fits."""
    out, x = [], float(_BAR_X)
    for status in STATUS_ORDER:
        count = tally.counts[status.value]
        if not count or not devices:
            continue
        w = _BAR_W * count / devices
        out.append(
            f'<rect x="{svg_number(x)}" y="{svg_number(mid - _BAR_H / 2)}" width="{svg_number(w)}" '
            f'height="{_BAR_H}" fill="{_FILL[status]}"><title>{escaped(tally.rule)} {STATUS_NAMES[status]}: '
            f"{count} of {devices} devices ({percent(count, devices)})</title></rect>"
        )
        if w >= 8 * len(str(count)) + 6:  # about 8px a digit and a margin: a narrower part stays unlabelled
            out.append(
                f'<text x="{svg_number(x + w / 2)}" y="{svg_number(mid + 4)}" font-size="11" font-weight="600" '
                f'fill="{_INK[status]}" text-anchor="middle">{count}</text>'
            )
        x += w
    return out


def _rule_note(tally: RuleTally, mid: float) -> str:
    """Right of the bar: how many devices fail and are unknown, or that none fail."""
    fail, unknown = tally.counts["fail"], tally.counts["unknown"]
    notes = []
    if fail:
        notes.append(f'<tspan fill="#cf222e" font-weight="600">{fail} fail</tspan>')
    if unknown:
        notes.append(f'<tspan fill="#9a6700">{unknown} unknown</tspan>')
    if not notes:
        notes.append('<tspan fill="#8c959f">no failures</tspan>')
    x, y = _BAR_X + _BAR_W + 14, svg_number(mid + 4.5)
    return f'<text x="{x}" y="{y}" font-size="12">' + " · ".join(notes) + "</text>"


# --- the most common failure causes over a fleet -----------------------------------------------------

_CAUSE_CHART_W, _CAUSE_BAR_W, _CAUSE_ROW_H = 1100, 760, 46


def cause_chart(reasons: Sequence[tuple[str, int]], devices: int) -> str:
    """One bar per failure cause: how many devices fail a rule for that reason."""
    scale_to = max([1, *(count for _, count in reasons)])  # the longest bar is the most common cause
    out: list[str] = []
    for row, (reason, count) in enumerate(reasons):
        out += _cause_row(reason, count, row * _CAUSE_ROW_H, scale_to, devices)
    height = len(reasons) * _CAUSE_ROW_H
    return _svg(f"0 0 {_CAUSE_CHART_W} {max(height, 1)}", "Devices per failure cause", "Failure causes", out)


def _cause_row(reason: str, count: int, y: int, scale_to: int, devices: int) -> list[str]:
    """One cause at ``y``: the rule and the reason, the bar's track and its length, and the count."""
    rule, text = split_reason(reason)
    w = max(2.0, _CAUSE_BAR_W * count / scale_to)
    return [
        f'<text x="0" y="{y + 15}" font-size="13" fill="#1f2328"><title>{escaped(reason)}</title>'
        f'<tspan font-weight="600">{escaped(rule)}</tspan>'
        f'<tspan dx="8" fill="#424a53">{escaped(_clipped(text, _CAUSE_CHART_W - 90))}</tspan></text>',
        f'<rect x="0" y="{y + 22}" width="{_CAUSE_BAR_W}" height="14" rx="3" fill="#f3f5f8"/>',
        f'<rect x="0" y="{y + 22}" width="{svg_number(w)}" height="14" rx="3" fill="#cf222e">'
        f"<title>{count} devices</title></rect>",
        f'<text x="{svg_number(_CAUSE_BAR_W + 12)}" y="{y + 34}" font-size="12" fill="#1f2328">'
        f'<tspan font-weight="600">{count}</tspan><tspan fill="#59636e"> '
        f"device{'' if count == 1 else 's'} · {percent(count, devices)} of the fleet</tspan></text>",
    ]


# --- one device's verdicts ----------------------------------------------------------------------------

_STATUS_BAR_W, _STATUS_BAR_H = 1100, 26


def status_bar(counts: Mapping[Status, int], total: int, names: Mapping[Status, str] = STATUS_NAMES) -> str:
    """A single stacked bar of a device's verdicts."""
    out, x = [], 0.0
    for status in STATUS_ORDER:
        count = counts[status]
        if not count or not total:
            continue
        w = _STATUS_BAR_W * count / total
        out.append(
            f'<rect x="{svg_number(x)}" y="0" width="{svg_number(w)}" height="{_STATUS_BAR_H}" '
            f'fill="{_FILL[status]}"><title>{names[status]}: {count}</title></rect>'
        )
        if w > 10 * len(f"{count} {names[status]}"):  # about 10px a character of 13px bold: else no label
            out.append(
                f'<text x="{svg_number(x + 10)}" y="17" font-size="13" font-weight="600" fill="{_INK[status]}">'
                f"{count} {names[status]}</text>"
            )
        x += w
    return _svg(f"0 0 {_STATUS_BAR_W} {_STATUS_BAR_H}", "Verdicts of the rules", "Verdicts of the rules", out)


# --- a fleet's runs over time (from a results store) -----------------------------------------------


class RunPoint(Protocol):
    """One run of a results store, as the trend chart reads it (``history.RunRow``)."""

    @property
    def run_id(self) -> int: ...

    @property
    def started_at(self) -> str: ...

    @property
    def devices(self) -> int: ...

    @property
    def failed_devices(self) -> int: ...


_TREND_H, _TREND_TOP, _TREND_BOTTOM, _TREND_LEFT = 190, 14, 36, 48  # the plot's height and margins


def trend_chart(runs: Sequence[RunPoint]) -> str:
    """The share of devices failing at least one rule in each run, oldest first: a line with a
    dot per run (its run, date and counts in its tooltip), the first and last dates below."""
    width, height = _CHART_W - _TREND_LEFT - 10, _TREND_H - _TREND_TOP - _TREND_BOTTOM
    step = width / max(len(runs) - 1, 1)
    points = [
        (_TREND_LEFT + i * step, _TREND_TOP + height * (1 - (run.failed_devices / run.devices if run.devices else 0)))
        for i, run in enumerate(runs)
    ]
    line = " ".join(f"{svg_number(x)},{svg_number(y)}" for x, y in points)
    return _svg(
        f"0 0 {_CHART_W} {_TREND_H}",
        "Share of devices failing at least one rule, run by run",
        "Devices failing at least one rule, over time",
        [
            *_trend_grid(width, height),
            f'<polyline points="{line}" fill="none" stroke="{_FILL[Status.FAIL]}" stroke-width="2"/>',
            *(_trend_dot(run, x, y) for run, (x, y) in zip(runs, points)),
            *_trend_dates(runs, points),
        ],
    )


def _trend_grid(width: float, height: float) -> list[str]:
    """A line and a label at every 25% of devices."""
    shapes = []
    for tick in range(0, 101, 25):
        y = svg_number(_TREND_TOP + height * (1 - tick / 100))
        shapes += [
            f'<line x1="{_TREND_LEFT}" y1="{y}" x2="{svg_number(_TREND_LEFT + width)}" y2="{y}" '
            'stroke="#eaeef2" stroke-width="1"/>',
            f'<text x="{_TREND_LEFT - 6}" y="{y}" font-size="11" fill="#6e7781" text-anchor="end" '
            f'dominant-baseline="middle">{tick}%</text>',
        ]
    return shapes


def _trend_dot(run: RunPoint, x: float, y: float) -> str:
    """One run's dot, its numbers in its tooltip."""
    share = percent(run.failed_devices, run.devices)
    what = f"run {run.run_id}, {run.started_at}: {run.failed_devices} of {run.devices} devices failing ({share})"
    return (
        f'<circle cx="{svg_number(x)}" cy="{svg_number(y)}" r="4" fill="{_FILL[Status.FAIL]}">'
        f"<title>{escaped(redact(what))}</title></circle>"
    )


def _trend_dates(runs: Sequence[RunPoint], points: Sequence[tuple[float, float]]) -> list[str]:
    """The first run's date under its dot, and the last run's under its own."""
    y = svg_number(_TREND_H - 12)
    ends = [(runs[0], points[0], "start"), (runs[-1], points[-1], "end")] if len(runs) > 1 else []
    return [
        f'<text x="{svg_number(x)}" y="{y}" font-size="11" fill="#6e7781" text-anchor="{anchor}">'
        f"{escaped(redact(f'run {run.run_id}, {run.started_at}'))}</text>"
        for run, (x, _), anchor in ends
    ]
