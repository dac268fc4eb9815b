"""Formatters: pure functions from a Report (or catalogue) to a string."""

from collections.abc import Callable

from garrison.model import Report
from garrison.report.json_format import render_json
from garrison.report.junit import render_junit
from garrison.report.sarif import render_sarif
from garrison.report.table import render_table

Formatter = Callable[..., str]

FORMATS: dict[str, Formatter] = {
    "table": render_table,
    "json": render_json,
    "sarif": render_sarif,
    "junit": render_junit,
}

__all__ = ["FORMATS", "Report", "render_json", "render_junit", "render_sarif", "render_table"]
