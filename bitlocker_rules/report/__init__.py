"""Renderers: reports as text for people (table) and for programs (JSON)."""

from .json_report import fleet_to_dict, render_fleet_json, render_json, report_to_dict
from .table import render_fleet_table, render_table

__all__ = ["fleet_to_dict", "render_fleet_json", "render_fleet_table", "render_json", "render_table", "report_to_dict"]
