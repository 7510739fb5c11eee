"""The JSON report: one document per device, with stable field names (schema version 1).

The scenarios and the causes lead, as in the reports for people; fields are only ever added
within a version (see docs/json-schema.md).
"""

from __future__ import annotations

import json
from typing import Any

from ..outcome import Cause, Condition, ConflictRecord, Report, RuleOutcome, ScenarioRecord, Status, origins_text
from .fleet_detail import sorted_conflicts
from .masking import masked_report

SCHEMA = "bitlocker-rules/report/1"


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data."""
    return {
        "schema": SCHEMA,
        "subject": report.subject,
        "summary": {s.value: report.count(s) for s in report.counted_statuses()},
        "scenarios": [_scenario(sc, report) for sc in report.scenarios],
        "causes": [_cause(c) for c in report.causes()],
        "results": [_outcome(o) for o in report.outcomes],
        "notes": [
            {
                "ruleset": n.ruleset,
                "rule": n.rule,
                "title": n.title,
                "sources": list(n.encodes),
                "applies": n.applies,
                "text": n.rationale,
            }
            for n in report.notes
        ],
        "inputs": [{"name": i.name, "file": i.file, "kind": i.kind} for i in report.inputs],
        "suggested_changes": [
            {"fact": c.fact, "label": c.label, "current": c.current, "new": c.new} for c in report.suggested_changes
        ],
        "device_prerequisites": list(report.device_prerequisites),
        "turn_off_changes": [
            {
                "rule": t.rule,
                "title": t.title,
                "changes": [{"fact": c.fact, "label": c.label, "current": c.current, "new": c.new} for c in t.changes],
            }
            for t in report.turn_off_changes
        ],
        "conflicts": [conflict_to_dict(c) for c in report.conflicts],
        "citations": [
            {"id": c.id, "title": c.title, "url": c.url, "kind": c.kind, "source": c.document} for c in report.citations
        ],
        **_waiver_notices(report.waivers_given, report.waiver_notices),
    }


def _waiver_notices(given: bool, notices: Any) -> dict[str, Any]:
    """Given a waivers file: its warnings (a waiver expired, or waived nothing); nothing otherwise."""
    if not given:
        return {}
    return {
        "waiver_notices": [
            {"waiver": n.waiver, "kind": n.kind, "date": n.date or None, "explanation": n.sentence()} for n in notices
        ]
    }


def _waiver(o: RuleOutcome) -> dict[str, Any]:
    """A waived failure's waiver (nothing for any other outcome)."""
    if o.waiver is None:
        return {}
    w = o.waiver
    return {"waiver": {"id": w.id, "justification": w.justification, "approver": w.approver, "expires": w.expires}}


def conflict_to_dict(c: ConflictRecord) -> dict[str, Any]:
    """A setting in conflict: its fact, label, and each policy with its value."""
    return {
        "fact": c.fact,
        "label": c.label,
        "values": [{"source": s, "value": v, "shown": shown} for s, v, shown in c.values],
    }


def render_json(report: Report) -> str:
    """The report as an indented JSON document, secrets masked."""
    return masked_report(json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n")


def _outcome(o: RuleOutcome) -> dict[str, Any]:
    return {
        "ruleset": o.ruleset,
        "rule": o.rule,
        "title": o.title,
        "severity": o.severity,
        "sources": list(o.encodes),
        "status": o.status.value,
        "reasons": [_condition(c) for c in o.reasons],
        "applies_because": [_condition(c) for c in o.applies_because],
        "missing_facts": list(o.missing_facts),
        "remediation": o.remediation if o.status in (Status.FAIL, Status.UNKNOWN, Status.WAIVED) else "",
        "events": list(o.events),
        "location": str(o.location or ""),
        "related": list(o.related),
        "advice": o.advice,
        "caveat": o.caveat,
        "scenarios": list(o.scenarios),
        **_waiver(o),
    }


def _scenario(scenario: ScenarioRecord, report: Report) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "label": scenario.label,
        "fact": scenario.fact,
        "holds": scenario.holds,
        "how": scenario.how,
        "because": scenario.because,
        "explanation": scenario.sentence(),
        "not_evaluated": [o.rule for o in report.not_evaluated(scenario.name)],
    }


def _cause(cause: Cause) -> dict[str, Any]:
    return {
        "kind": cause.kind,
        "fact": cause.fact,
        "label": cause.label,
        "actual": cause.actual,
        "severity": cause.severity,
        "source": origins_text(cause.origins),
        "values": [{"source": s, "value": v, "shown": shown} for s, v, shown in cause.values],
        "rules": [
            {
                "ruleset": r.ruleset,
                "rule": r.rule,
                "title": r.title,
                "severity": r.severity,
                "status": r.status.value,
                "required": r.required,
            }
            for r in cause.rules
        ],
        "remediations": list(cause.fixes),
        "events": list(cause.events),
        "explanation": cause.sentence(),
    }


def _condition(c: Condition) -> dict[str, Any]:
    return {
        "fact": c.fact,
        "label": c.label,
        "actual": c.actual,
        "required": c.required,
        "status": c.status.value,
        "text": c.text,
        "location": str(c.location or ""),
        "source": origins_text(c.origins),
        "conflict": c.conflict,
        "decisive": c.decisive,
        "role": c.role,
        "explanation": c.sentence(),
    }


FLEET_SCHEMA = "bitlocker-rules/fleet/1"


def fleet_to_dict(summary: Any) -> dict[str, Any]:
    """A fleet summary as plain JSON-ready data."""
    return {
        "schema": FLEET_SCHEMA,
        "devices": summary.devices,
        "failed_devices": summary.failed_devices,
        "unscoped_devices": summary.unscoped_devices,  # in no BitLocker policy's scope (assignments give none)
        "rules": [
            {"ruleset": t.ruleset, "rule": t.rule, "title": t.title, "severity": t.severity, **t.counts}
            for t in summary.rules
        ],
        "top_failure_reasons": [{"reason": r, "devices": c} for r, c in summary.top_reasons()],
        "conflicts": [
            {**conflict_to_dict(c.record), "devices": c.devices} for c in sorted_conflicts(summary.conflicts)
        ],
        "bad_rows": [{"row": b.number, "message": b.message} for b in summary.bad_rows],
        "bad_rows_not_listed": summary.unlisted_bad_rows,  # counted beyond the rows listed, so memory stays bounded
        "scenarios": [
            {
                "name": s.name,
                "label": s.label,
                "in_scope": s.in_scope,
                "out_of_scope": s.out_of_scope,
                "not_known": s.not_known,
            }
            for s in summary.scenarios
        ],
        **_waiver_notices(summary.waivers_given, summary.waiver_notices),
    }


def render_fleet_json(summary: Any) -> str:
    """A fleet summary as an indented JSON document, secrets masked."""
    return masked_report(json.dumps(fleet_to_dict(summary), indent=2, ensure_ascii=False) + "\n")
