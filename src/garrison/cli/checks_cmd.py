"""`garrison checks list|explain`: the catalogue of audit checks."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from garrison.checks.registry import all_checks, find_check
from garrison.cli.common import emit, format_option, use_color
from garrison.errors import UsageError
from garrison.model import CHECKLIST, to_jsonable
from garrison.report.catalogue import render_catalogue_markdown
from garrison.report.table import make_console


@click.group("checks")
def checks_group() -> None:
    """The catalogue of audit checks (ids are stable and never reused)."""


@checks_group.command(
    "list",
    epilog="\b\nExamples:\n  garrison checks list\n  garrison checks list --area ssh -f json\n"
    "  garrison checks list -f markdown > docs/checks.md",
)
@click.option("--area", metavar="AREA", help="Only this area (image, kernel, ssh, ...).")
@format_option(("table", "json", "markdown"))
def list_command(area: str | None, fmt: str) -> None:
    """List every check: id, checklist box, severity and the secure state it verifies."""
    checks = [c for c in all_checks() if area is None or c.meta.area == area.lower()]
    if area and not checks:
        areas = sorted({c.meta.area for c in all_checks()})
        raise UsageError(f"--area {area}: no such area (choose from {', '.join(areas)})")
    if fmt == "json":
        emit(json.dumps([to_jsonable(c.meta) for c in checks], indent=2) + "\n", None)
        return
    if fmt == "markdown":
        emit(render_catalogue_markdown(checks), None)
        return
    console: Console = make_console(use_color(None), None)
    table = Table(box=None, pad_edge=False, show_edge=False)
    for col in ("ID", "Box", "Severity", "Title"):
        table.add_column(col, no_wrap=col != "Title")
    for cls in checks:
        m = cls.meta
        table.add_row(m.id, str(m.item), m.severity.label, Text(m.title))  # no markup
    console.print(table)
    console.print(f"{len(checks)} checks")
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    emit("".join(line.rstrip() + "\n" for line in text.splitlines()), None)


@checks_group.command("explain", epilog="\b\nExample:\n  garrison checks explain GAR-SSH-002")
@click.argument("check_id")
@format_option(("table", "json"))
def explain_command(check_id: str, fmt: str) -> None:
    """Explain one check: why it matters and how to fix it."""
    cls = find_check(check_id)
    if cls is None:
        raise UsageError(f"{check_id}: no such check (see `garrison checks list`)")
    m = cls.meta
    if fmt == "json":
        emit(json.dumps(to_jsonable(m), indent=2) + "\n", None)
        return
    lines = [
        f"{m.id}: {m.title}",
        "",
        f"Checklist box: {m.item}. {CHECKLIST[m.item]}",
        f"Area: {m.area}    Severity: {m.severity.label}"
        + ("    Live host only" if m.needs_live else ""),
        "",
        "Why it matters",
        f"  {m.rationale}",
        "",
        "How to fix it",
        f"  {m.remediation}",
    ]
    if m.references:
        lines += ["", "References", *(f"  {r}" for r in m.references)]
    emit("\n".join(lines) + "\n", None)


COMMANDS = [checks_group]
