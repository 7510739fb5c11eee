"""A plan as one self-contained HTML page, causes first as the device report: the verdict, the
settings that change and the conflicts created or resolved, then today's fleet under the
proposal (``diff``'s rows), then every possible device with its witness."""

from __future__ import annotations

from typing import Any

from ..diff import change_line, headline
from ..masking import masked_report
from ..plan import (
    PLAN_RULE_HEADERS,
    conflict_line,
    memberships_line,
    plan_rule_rows,
    possible_groups,
    possible_line,
    proposal_line,
    safe_line,
    verdict,
)
from .page import card, code_span, escaped, html_page, kpi, lead, table


def render_plan_html(plan: Any, title: str = "BitLocker policy change plan") -> str:
    """The page for a ``plan.Plan``."""
    body = [*card("Verdict", lead(escaped(verdict(plan))), lead(escaped(proposal_line(plan))))]
    body += [lead(escaped(f"Note: {n}")) for n in plan.proposal.notes]
    fleet = plan.fleet
    if fleet is not None:
        totals = fleet.diff.totals
        body += [
            '<div class="kpis">',
            kpi("Devices newly failing", fleet.newly_failing_devices, "fail"),
            kpi("Newly failing results", totals["newly_failing"], "fail"),
            kpi("Fixed results", totals["fixed"], "pass"),
            kpi("Newly unknown results", totals["newly_unknown"], "unknown"),
            kpi("Devices with other settings", fleet.settings_changed_devices),
            "</div>",
        ]
        rows = [
            [escaped(m.delta.label), escaped(m.delta.before), escaped(m.delta.after), escaped(m.devices)]
            for m in fleet.settings
        ]
        causes = [table(["Setting", "Today", "Proposal", "Devices"], rows, numeric=(3,))] if rows else []
        causes += [lead(escaped(f"Conflict {conflict_line(m)}")) for m in fleet.conflicts]
        body += card("What changes", *(causes or [lead("No effective setting changes.")]))
        moved = plan_rule_rows(plan)
        fleet_parts = [lead(escaped(headline(fleet.diff)))]
        if moved:
            rows = [[code_span(row[0]), *(escaped(cell) for cell in row[1:])] for row in moved]
            fleet_parts.append(table(list(PLAN_RULE_HEADERS), rows, numeric=range(1, len(PLAN_RULE_HEADERS))))
        body += card(f"Today's fleet ({fleet.diff.devices_before} devices)", *fleet_parts)
        if fleet.diff.devices:
            rows = [
                [escaped(d.device), *(escaped(cell) for cell in change_line(c))]
                for d in fleet.diff.devices
                for c in d.changes
            ]
            body += card("Devices whose results change", table(["Device", "Rule", "Verdict", "Change"], rows))
    searched = memberships_line(plan)
    if searched:
        body += card("Every possible membership", lead(escaped(searched)))
    for heading, found, safe in possible_groups(plan):
        possible = []
        for p in found:
            possible.append(lead(escaped(possible_line(p))))
            if p.witness:
                possible.append(table(["Fact", "Value"], [[escaped(w.label), escaped(w.value)] for w in p.witness]))
        if safe:
            possible.append(lead(escaped(safe_line(safe))))
        body += card(f"Every possible device: {heading}", *possible)
    return masked_report(html_page(title, "Plan", "Today's policies against the proposal", body))
