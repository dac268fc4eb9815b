"""Text and JSON renderings for the guard commands (pure functions: value -> str)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from garrison.guard.replay import ReplayResult
from garrison.guard.rules.ruleset import RuleSet
from garrison.guard.status import GuardStatus
from garrison.guard.store import StoredAlert
from garrison.model import to_jsonable


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def _table(rows: list[list[str]]) -> str:
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def render_status(status: GuardStatus | None, path: Path, fmt: str) -> str:
    if fmt == "json":
        return _json({"status_file": str(path), **(asdict(status) if status else {"alive": False})})
    if status is None:
        return f"guard: not running (no status at {path}; it has not run with this config)\n"
    state = (
        f"running (pid {status.pid}, since {status.started})"
        if status.alive
        else f"not running (last seen {status.updated}, pid {status.pid})"
    )
    out = [f"guard: {state}", "", "sources:"]
    rows = [["  name", "state", "mechanism"]]
    for s in status.sources:
        rows.append([f"  {s.name}", "active" if s.active else "INACTIVE", s.mechanism])
    out.append(_table(rows).rstrip())
    out.append("")
    out.append("fallbacks in use: " + ("; ".join(status.fallbacks) or "none"))
    out.append("missing kernel features/tools: " + ("; ".join(status.missing) or "none"))
    counters = ", ".join(f"{k} {v}" for k, v in sorted(status.counters.items()))
    out.append(f"counters: {counters}")
    out.append(f"rules: {status.rules} from {', '.join(status.rule_files)}")
    out.append(f"baseline: {status.baseline}")
    out.append(f"alert store: {status.alert_db}")
    out.append(f"metrics: {status.metrics or 'off'}")
    return "\n".join(out) + "\n"


def render_summary(summary: Any, fmt: str) -> str:
    data = to_jsonable(summary)
    if fmt == "json":
        return _json(data)
    lines = [
        f"guard ran: {data['events']} events, {data['alerts']} alerts, {data['rescans']} rescans"
    ]
    for s in data["sources"]:
        state = "active" if s["active"] else "inactive"
        missing = f" (missing: {'; '.join(s['missing'])})" if s["missing"] else ""
        lines.append(f"  {s['name']}: {state}, {s['mechanism']}{missing}")
    return "\n".join(lines) + "\n"


def render_rules(rules: RuleSet, fmt: str) -> str:
    if fmt == "json":
        return _json(
            [
                {
                    "id": r.id,
                    "severity": r.severity.label,
                    "title": r.title,
                    "description": r.description,
                    "technique": r.technique,
                    "condition": r.match.describe(),
                    "allow": list(r.allow),
                    "origin": r.origin,
                }
                for r in rules.rules
            ]
        )
    rows = [["ID", "Severity", "ATT&CK", "Allow", "Title"]]
    for r in rules.rules:
        rows.append([r.id, r.severity.label, r.technique, ",".join(r.allow) or "-", r.title])
    return _table(rows) + f"{len(rules.rules)} rules from {', '.join(rules.files)}\n"


def render_alerts(alerts: list[StoredAlert], fmt: str) -> str:
    if fmt == "json":
        return _json([asdict(a) for a in alerts])
    if not alerts:
        return "no alerts\n"
    rows = [["Last seen", "Rule", "Severity", "Count", "Summary"]]
    for a in alerts:
        rows.append([a.last_seen[:19], a.rule_id, a.severity, str(a.count), a.summary])
    return _table(rows)


def render_replay(results: list[ReplayResult], fmt: str) -> str:
    if fmt == "json":
        return _json(
            [
                {
                    "line": r.line,
                    "rule": r.rule_id or None,
                    "severity": r.severity or None,
                    "would_verify": list(r.verify),
                    "event": to_jsonable(r.event),
                }
                for r in results
            ]
        )
    rows = [["Line", "Rule", "Severity", "Event"]]
    for r in results:
        what = f"{r.event.source}/{r.event.kind} {r.event.path or ''}".rstrip()
        note = f" (allowed if verified: {', '.join(r.verify)})" if r.verify else ""
        rows.append([str(r.line), r.rule_id or "-", r.severity or "-", what + note])
    hits = sum(1 for r in results if r.rule_id)
    return _table(rows) + f"{hits} of {len(results)} events match a rule\n"
