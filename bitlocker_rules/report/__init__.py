"""Renderers: reports as text for people (table) and for programs (JSON)."""

from .json_report import report_to_dict, render_json
from .table import render_table

__all__ = ["render_json", "render_table", "report_to_dict"]
