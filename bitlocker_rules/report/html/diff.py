"""A diff of two fleet runs as one self-contained HTML page: the headline moves, the devices
whose results changed, the devices that came and went, the rules and the causes that moved."""

from __future__ import annotations

from typing import Any

from ..diff import CAUSE_HEADERS, change_line, headline, rule_headers, rule_rows
from ..masking import masked_report
from .page import card, code_span, escaped, html_page, kpi, lead, table


def render_diff_html(diff: Any, title: str = "BitLocker fleet changes") -> str:
    """The page for a ``history.Diff``."""
    totals = diff.totals
    body = [
        '<div class="kpis">',
        kpi("Newly failing", totals["newly_failing"], "fail"),
        kpi("Fixed", totals["fixed"], "pass"),
        kpi("Newly unknown", totals["newly_unknown"], "unknown"),
        kpi("Still failing", totals["still_failing"]),
        kpi("Devices appeared", totals["appeared"]),
        kpi("Devices left", totals["left"]),
        "</div>",
        *card("What changed", lead(escaped(headline(diff)))),
    ]
    if diff.devices:
        rows = [
            [escaped(d.device), *(escaped(cell) for cell in change_line(c))] for d in diff.devices for c in d.changes
        ]
        body += card("Devices whose results changed", table(["Device", "Rule", "Verdict", "Change"], rows))
    for heading, devices in (("Devices that appeared", diff.appeared), ("Devices that left", diff.left)):
        if devices:
            rows = [[escaped(p.device), escaped(", ".join(p.failing) or "none")] for p in devices]
            body += card(heading, table(["Device", "Failing rules"], rows))
    moved = rule_rows(diff)
    if moved:
        rows = [[code_span(row[0]), *(escaped(cell) for cell in row[1:])] for row in moved]
        headers = rule_headers(diff)
        body += card("Rules that moved", table(list(headers), rows, numeric=range(1, len(headers))))
    if diff.causes:
        rows = [
            [escaped(f"+{c.gained}"), escaped(f"-{c.lost}"), escaped(c.text), code_span(c.reason_id)]
            for c in diff.causes
        ]
        body += card(
            "Causes that moved",
            lead("How many device-rule results gained or lost each reason."),
            table(list(CAUSE_HEADERS), rows, numeric=(0, 1)),
        )
    subtitle = (
        f"From {escaped(diff.old)} ({diff.devices_before} devices) "
        f"to {escaped(diff.new)} ({diff.devices_after} devices)"
    )
    return masked_report(html_page(title, "Fleet diff", subtitle, body))
