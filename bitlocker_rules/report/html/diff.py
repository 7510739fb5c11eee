"""A diff of two fleet runs as one self-contained HTML page: the headline moves, the devices
whose results changed, the devices that came and went, the rules and the causes that moved;
for two snapshots, the policies' drift (each policy's settings and assignments that changed)."""

from __future__ import annotations

from typing import Any

from ..diff import (
    CAUSE_HEADERS,
    SETTING_HEADERS,
    assignment_cells,
    change_line,
    drift_headline,
    headline,
    policy_title,
    rule_headers,
    rule_rows,
    setting_cells,
)
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
    if diff.drift is not None:
        body += _drift_cards(diff.drift)
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


def _drift_cards(drift: Any) -> list[str]:
    """The policy drift: its headline, then one card per policy that drifted."""
    cards = card(
        "Policy drift",
        lead(f"From {escaped(drift.old)} to {escaped(drift.new)}: {escaped(drift_headline(drift))}"),
    )
    for policy in drift.policies:
        parts = []
        if policy.settings:
            rows = [
                [escaped(label), escaped(before), escaped(after), code_span(key)]
                for label, before, after, key in map(setting_cells, policy.settings)
            ]
            parts.append(table(list(SETTING_HEADERS), rows))
        changes = assignment_cells(policy)
        if changes:
            parts.append(table(["Assignment", "Target"], [[escaped(how), escaped(what)] for how, what in changes]))
        cards += card(escaped(policy_title(policy)), *parts)
    return cards
