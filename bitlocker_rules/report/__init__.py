"""Renderers: reports as text for people (table, Markdown, HTML) and for programs (JSON, SARIF, JUnit XML).

Each renderer module is imported on first use (PEP 562 ``__getattr__``): one run of the
command line renders one format, and importing all of them costs start-up time. The
dispatch by format is here: ``render_device`` for one device's report; for a fleet,
``fleet_collector`` (what the format gathers while the fleet streams) and ``render_fleet``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from ..outcome import Citation, InputRecord, Report, RuleOutcome

_HOMES = {
    "render_fleet_html": "html",
    "render_html": "html",
    "fleet_to_dict": "json_report",
    "render_fleet_json": "json_report",
    "render_json": "json_report",
    "conflict_to_dict": "json_report",
    "report_to_dict": "json_report",
    "FleetCases": "junit",
    "JUnitWriter": "junit",
    "render_fleet_junit": "junit",
    "render_junit": "junit",
    "render_fleet_markdown": "markdown",
    "render_markdown": "markdown",
    "FleetSarif": "sarif",
    "render_sarif": "sarif",
    "render_fleet_table": "table",
    "render_table": "table",
    "FleetDetail": "fleet_detail",
    "RuleExamples": "fleet_detail",
    "WorstDevices": "fleet_detail",
    "diff_to_dict": "diff",
    "render_diff": "diff",
    "render_runs": "history",
    "render_trend": "history",
    "render_test_run": "rule_tests",
    "test_run_to_dict": "rule_tests",
}
WORST_DEVICES = 50  # how many of the worst devices a fleet's HTML or Markdown report keeps

# Computed: each renderer's names are listed once, in _HOMES, where they are looked up.
__all__ = sorted([*_HOMES, "WORST_DEVICES", "fleet_collector", "render_device", "render_fleet"])  # noqa: PLE0605


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)


def _renderer(name: str) -> Any:
    """A renderer's function or class, its module imported now."""
    return __getattr__(name)


def render_device(
    report: Report, fmt: str, *, colour: bool = False, verbose: bool = False, width: int | None = None
) -> str:
    """One device's report in ``fmt`` (text, json, markdown, sarif, junit, html); ``width``
    (columns) for the table, else its default."""
    if fmt == "json":
        return _renderer("render_json")(report)
    if fmt == "sarif":
        return _renderer("render_sarif")(report)
    if fmt in ("markdown", "junit", "html"):
        return _renderer(f"render_{fmt}")(report, verbose=verbose)
    return _renderer("render_table")(report, colour=colour, verbose=verbose, width=width)


def fleet_collector(
    fmt: str, inputs: Sequence[InputRecord], rules: Sequence[RuleOutcome], citations: Sequence[Citation]
) -> Any:
    """What the fleet report in ``fmt`` gathers beyond the counters, in bounded memory (None:
    nothing). ``rules`` is every rule's outcome (SARIF lists the rules with their titles and fixes).

    Workers gather into copies of it and send back only what is new, never whole reports.
    """
    if fmt in ("markdown", "html"):
        return _renderer("FleetDetail")(WORST_DEVICES)
    if fmt == "junit":
        return _renderer("FleetCases")()
    if fmt == "sarif":
        return _renderer("FleetSarif")(inputs, rules=rules, citations=citations)
    return None


def render_fleet(
    fmt: str,
    summary: Any,
    collector: Any,
    *,
    inputs: Sequence[InputRecord] = (),
    citations: Sequence[Citation] = (),
    verbose: bool = False,
    trend: Sequence[Any] = (),
) -> str:
    """A fleet's report in ``fmt`` from its summary and what ``fleet_collector`` gathered;
    ``trend``, the runs of a results store oldest first, is charted by the HTML page."""
    if fmt == "text":
        return _renderer("render_fleet_table")(summary)
    if fmt == "json":
        return _renderer("render_fleet_json")(summary)
    if fmt == "junit":
        return _renderer("render_fleet_junit")(summary, collector, citations=citations, verbose=verbose)
    if fmt == "sarif":
        notices = [n.sentence() for n in summary.waiver_notices] if summary.waivers_given else None
        return collector.render(summary.bad_rows, summary.unlisted_bad_rows, summary.unscoped_devices, notices)
    more = {"trend": trend} if fmt == "html" else {}
    return _renderer(f"render_fleet_{fmt}")(
        summary,
        devices=collector.worst.devices(),
        examples=collector.examples.outcomes(),
        inputs=inputs,
        limit=WORST_DEVICES,
        **more,
    )
