"""Renderers: reports as text for people (table, Markdown, HTML) and for programs (JSON, SARIF, JUnit XML).

Each renderer module is imported on first use (PEP 562 ``__getattr__``): one run of the
command line renders one format, and importing all of them costs start-up time.
"""

import importlib

_HOMES = {
    "render_fleet_html": "html", "render_html": "html",
    "fleet_to_dict": "json_report", "render_fleet_json": "json_report", "render_json": "json_report",
    "conflict_to_dict": "json_report", "report_to_dict": "json_report",
    "FleetCases": "junit", "JUnitWriter": "junit", "render_fleet_junit": "junit", "render_junit": "junit",
    "render_fleet_markdown": "markdown", "render_markdown": "markdown",
    "FleetSarif": "sarif", "locate_json_path": "sarif", "render_sarif": "sarif",
    "render_fleet_table": "table", "render_table": "table",
    "FleetDetail": "fleet_detail", "RuleExamples": "fleet_detail", "WorstDevices": "fleet_detail",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
