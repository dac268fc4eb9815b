"""The alert store: SQLite in WAL mode, alerts with the events behind them, dedup by window."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from garrison.errors import HostError
from garrison.model import Alert, Event, to_jsonable

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    technique TEXT NOT NULL,
    summary TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS alerts_dedup ON alerts (dedup_key, last_seen);
CREATE TABLE IF NOT EXISTS events (
    alert_id TEXT NOT NULL REFERENCES alerts(id),
    time REAL NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_alert ON events (alert_id);
"""
MAX_EVENTS_PER_ALERT = 100  # a flood keeps counting but stores only the first events


@dataclass(frozen=True)
class StoredAlert:
    """One row of `garrison guard alerts`."""

    id: str
    rule_id: str
    severity: str
    title: str
    summary: str
    first_seen: str
    last_seen: str
    count: int
    events: tuple[dict[str, Any], ...]


class AlertStore:
    """Single-writer store used by the daemon; readers (the CLI) open it read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise HostError(f"{path}: cannot open the alert store: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def recent_duplicate(self, dedup_key: str, now: float, window_s: float) -> str | None:
        """The id of an alert with the same key seen within the window, if any."""
        row = self.db.execute(
            "SELECT id FROM alerts WHERE dedup_key = ? AND last_seen >= ? "
            "ORDER BY last_seen DESC LIMIT 1",
            (dedup_key, now - window_s),
        ).fetchone()
        return str(row[0]) if row else None

    def add_alert(self, alert: Alert) -> None:
        when = alert.time.timestamp()
        self.db.execute("BEGIN")
        self.db.execute(
            "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (
                alert.id,
                alert.rule_id,
                alert.severity.label,
                alert.title,
                alert.technique,
                alert.summary,
                alert.dedup_key,
                when,
                when,
            ),
        )
        for event in alert.events:
            self._add_event(alert.id, event)
        self.db.execute("COMMIT")

    def add_duplicate(self, alert_id: str, event: Event) -> None:
        """Count one more occurrence; keep the event if the alert has room."""
        self.db.execute("BEGIN")
        self.db.execute(
            "UPDATE alerts SET count = count + 1, last_seen = ? WHERE id = ?",
            (event.time.timestamp(), alert_id),
        )
        (stored,) = self.db.execute(
            "SELECT COUNT(*) FROM events WHERE alert_id = ?", (alert_id,)
        ).fetchone()
        if stored < MAX_EVENTS_PER_ALERT:
            self._add_event(alert_id, event)
        self.db.execute("COMMIT")

    def _add_event(self, alert_id: str, event: Event) -> None:
        self.db.execute(
            "INSERT INTO events VALUES (?, ?, ?)",
            (alert_id, event.time.timestamp(), json.dumps(to_jsonable(event), sort_keys=True)),
        )


def read_alerts(path: Path, *, limit: int = 50, rule: str | None = None) -> list[StoredAlert]:
    """The newest alerts, newest first, each with its stored events (read-only)."""
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise HostError(f"{path}: cannot open the alert store: {exc}") from None
    try:
        sql = (
            "SELECT id, rule_id, severity, title, summary, first_seen, last_seen, count FROM alerts"
        )
        args: tuple[Any, ...] = ()
        if rule:
            sql += " WHERE rule_id = ?"
            args = (rule,)
        rows = db.execute(sql + " ORDER BY last_seen DESC LIMIT ?", (*args, limit)).fetchall()
        out = []
        for row in rows:
            events = tuple(
                json.loads(text)
                for (text,) in db.execute(
                    "SELECT json FROM events WHERE alert_id = ? ORDER BY time", (row[0],)
                )
            )
            out.append(
                StoredAlert(
                    id=row[0],
                    rule_id=row[1],
                    severity=row[2],
                    title=row[3],
                    summary=row[4],
                    first_seen=datetime.fromtimestamp(row[5]).astimezone().isoformat(),
                    last_seen=datetime.fromtimestamp(row[6]).astimezone().isoformat(),
                    count=row[7],
                    events=events,
                )
            )
        return out
    except sqlite3.Error as exc:
        raise HostError(f"{path}: cannot read the alert store: {exc}") from None
    finally:
        db.close()
