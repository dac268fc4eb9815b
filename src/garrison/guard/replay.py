"""`garrison rules test`: replay recorded events (JSON lines of model.Event) against the rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from garrison.errors import UsageError
from garrison.guard.rules.ruleset import RuleSet
from garrison.model import Event

EVENT_KEYS = {"source", "kind", "time", "path", "pid", "exe", "uid", "detail"}


@dataclass(frozen=True)
class ReplayResult:
    line: int
    event: Event
    rule_id: str  # "" when no rule matched
    severity: str
    verify: tuple[str, ...]  # named allow-lists that would be checked on the live host


def event_from_json(data: Any, where: str) -> Event:
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a JSON object (one model.Event per line)")
    unknown = set(data) - EVENT_KEYS
    if unknown:
        raise UsageError(f"{where}: unknown event key {sorted(unknown)[0]!r}")
    for key in ("source", "kind"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise UsageError(f"{where}: event needs a non-empty string {key!r}")
    raw_time = data.get("time")
    try:
        when = datetime.fromisoformat(raw_time) if raw_time else datetime.now(UTC)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: time {raw_time!r} is not ISO 8601") from None
    detail = data.get("detail") or {}
    if not isinstance(detail, dict):
        raise UsageError(f"{where}: detail must be an object")
    for key in ("pid", "uid"):
        if data.get(key) is not None and not isinstance(data[key], int):
            raise UsageError(f"{where}: {key} must be an integer")
    return Event(
        source=data["source"],
        kind=data["kind"],
        time=when,
        path=str(data.get("path", "")),
        pid=data.get("pid"),
        exe=str(data.get("exe", "")),
        uid=data.get("uid"),
        detail=detail,
    )


def read_events(path: Path) -> list[tuple[int, Event]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such events file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    out: list[tuple[int, Event]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
        out.append((number, event_from_json(data, f"{path}:{number}")))
    return out


def replay(rules: RuleSet, events: list[tuple[int, Event]]) -> list[ReplayResult]:
    results = []
    for line, event in events:
        rule = rules.first_match(event)
        results.append(
            ReplayResult(
                line=line,
                event=event,
                rule_id=rule.id if rule else "",
                severity=rule.severity.label if rule else "",
                verify=rule.allow if rule else (),
            )
        )
    return results
