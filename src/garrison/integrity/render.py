"""Drift reports and deploy status as terminal text or JSON (pure functions -> str)."""

from __future__ import annotations

import json

from rich.text import Text

from garrison.integrity.deploy import DeployStatus
from garrison.integrity.diff import Change
from garrison.integrity.verify import DriftReport, report_to_json
from garrison.model import Severity
from garrison.report.table import make_console

_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _before_after(change: Change) -> str:
    keys = [k for k in change.after if change.before.get(k) != change.after.get(k)]
    keys += [k for k in change.before if k not in change.after]
    parts = []
    for key in keys:
        if key in ("hash",) and key in change.before and key in change.after:
            parts.append(f"hash {change.before[key][:12]}.. -> {change.after[key][:12]}..")
        elif key in change.before and key in change.after:
            parts.append(f"{key} {change.before[key]} -> {change.after[key]}")
    return "; ".join(parts)


def render_drift(report: DriftReport, *, color: bool = False, limit: int = 500) -> str:
    """The drift table: one row per change, worst first, then a one-line summary."""
    console = make_console(color, None)
    title = f"{report.kind} {report.manifest} (made {report.baseline_created})"
    console.print(Text(title, style="bold"))
    console.print(
        f"checked {report.entries_checked} entries ({report.mode} mode, "
        f"{report.files_hashed} files hashed) in {report.duration_s:.1f}s"
        + (f"; signature by {report.signed_by}" if report.signed_by else "")
    )
    for warning in report.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))
    if report.clean:
        console.print(Text("no drift: every entry matches the signed baseline", style="green"))
    for change in report.changes[:limit]:
        line = Text("  ")
        line.append(f"{change.severity.label.upper():8}", style=_SEVERITY_STYLE[change.severity])
        line.append(f" {change.kind:10} ", style="bold")
        line.append(change.path)
        line.append(f"  {change.detail}", style="dim" if not color else "")
        detail = _before_after(change)
        if detail and change.kind in ("metadata", "content", "symlink", "type", "capability"):
            line.append(f" [{detail}]")
        console.print(line)
    if len(report.changes) > limit:
        console.print(f"... and {len(report.changes) - limit} more (use --format json for all)")
    for problem in report.unreadable[:20]:
        console.print(Text(f"unreadable: {problem}", style="yellow"))
    if report.changes:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(report.counts().items()))
        worst = report.worst()
        console.print(
            Text(
                f"{len(report.changes)} changes ({counts}); worst: "
                f"{worst.label if worst else 'none'}",
                style="bold",
            )
        )
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return str(out)


def render_deploy_status(statuses: list[DeployStatus], *, color: bool = False) -> str:
    """Each deployed tree: unchecked (and why), HEAD moved, and its drift table."""
    if not statuses:
        return "no verified deploys recorded (run `garrison deploy verify`)\n"
    parts: list[str] = []
    for status in statuses:
        parts.append(f"== {status.deploy.strategy}: {status.deploy.tree}\n")
        if status.drift is None:
            parts.append(f"NOT CHECKED: {status.problem}\n")
            continue
        if status.head_moved:
            parts.append(
                f"HEAD moved: deployed {status.deploy.head[:12]}, now {status.head_now[:12]} "
                "(run `garrison deploy verify`)\n"
            )
        parts.append(render_drift(status.drift, color=color))
    return "".join(parts)


def deploy_status_json(statuses: list[DeployStatus]) -> str:
    items = []
    for status in statuses:
        item = json.loads(report_to_json(status.drift)) if status.drift else {}
        item.update(
            strategy=status.deploy.strategy,
            tree=status.deploy.tree,
            deployed_head=status.deploy.head,
            head_now=status.head_now,
            head_moved=status.head_moved,
            problem=status.problem,
        )
        items.append(item)
    return json.dumps(items, indent=2) + "\n"
