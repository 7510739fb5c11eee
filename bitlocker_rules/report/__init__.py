"""Renderers: reports as text for people (table, Markdown, HTML) and for programs (JSON, SARIF, JUnit XML)."""

from .html import render_fleet_html, render_html
from .json_report import fleet_to_dict, render_fleet_json, render_json, report_to_dict
from .junit import JUnitWriter, render_junit
from .markdown import render_fleet_markdown, render_markdown
from .sarif import FleetSarif, locate_json_path, render_sarif
from .table import render_fleet_table, render_table

__all__ = [
    "FleetSarif", "JUnitWriter", "fleet_to_dict", "locate_json_path", "render_fleet_html", "render_fleet_json",
    "render_fleet_markdown", "render_fleet_table", "render_html", "render_json", "render_junit",
    "render_markdown", "render_sarif", "render_table", "report_to_dict",
]
