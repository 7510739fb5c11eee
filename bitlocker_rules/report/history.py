"""A results store's runs, and one rule's counts over them, as text or JSON (``history``).

The records (``history.RunRow``, ``history.TrendPoint``) are passed in duck-typed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from .masking import masked_report

HISTORY_SCHEMA = "bitlocker-rules/history/1"
_STATUSES = ("pass", "fail", "unknown", "not_applicable")


def render_runs(runs: Sequence[Any], fmt: str, store: str) -> str:
    """Every run of a store: when, how many devices, how many failed, with what."""
    if fmt == "json":
        data = {
            "schema": HISTORY_SCHEMA,
            "store": store,
            "runs": [
                {
                    "run": r.run_id,
                    "started_at": r.started_at,
                    "finished_at": r.finished_at,
                    "tool_version": r.tool_version,
                    "devices": r.devices,
                    "failed_devices": r.failed_devices,
                    "bad_rows": r.bad_rows,
                    "rulesets": list(r.rulesets),
                    "inputs": [{"role": i.role, "name": i.name, "sha256": i.sha256} for i in r.inputs],
                }
                for r in runs
            ],
        }
        return masked_report(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    if not runs:
        return masked_report(f"No run in {store} yet.\n")
    rows = [
        [
            r.run_id,
            r.started_at,
            r.devices,
            r.failed_devices,
            r.bad_rows,
            r.tool_version,
            ", ".join(i.name for i in r.inputs if i.role == "fleet"),
        ]
        for r in runs
    ]
    headers = ("Run", "Started (UTC)", "Devices", "Failing", "Rows not read", "Version", "Fleet")
    return masked_report(f"Runs in {store}:\n\n" + tabulate(rows, headers=headers, disable_numparse=True) + "\n")


def render_trend(rule: str, points: Sequence[Any], fmt: str, store: str) -> str:
    """One rule's pass, fail, unknown and not-applicable counts in each run."""
    if fmt == "json":
        data = {
            "schema": HISTORY_SCHEMA,
            "store": store,
            "rule": rule,
            "runs": [
                {"run": p.run_id, "started_at": p.started_at, **{s: p.counts[s] for s in _STATUSES}} for p in points
            ],
        }
        return masked_report(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    rows = [[p.run_id, p.started_at, *(p.counts[s] for s in _STATUSES)] for p in points]
    headers = ("Run", "Started (UTC)", "Pass", "Fail", "Unknown", "Not applicable")
    return masked_report(
        f"{rule} over the runs in {store}:\n\n" + tabulate(rows, headers=headers, disable_numparse=True) + "\n"
    )
