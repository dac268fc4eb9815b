"""One incident on disk: state_dir/incidents/<id>/ with alert.json and records.jsonl.

Records are appended as each step finishes (thread-safe), so a crash mid-playbook still leaves
what was done. A PENDING record (a human must act) is resolved by a later `ack` record.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from garrison.errors import UsageError
from garrison.model import ActionRecord, ActionStatus, Alert, to_jsonable

RECORDS_FILE = "records.jsonl"
ALERT_FILE = "alert.json"


def incidents_dir(state_dir: str | Path) -> Path:
    return Path(state_dir) / "incidents"


def new_incident_id(alert: Alert) -> str:
    """Sortable and unique: UTC time of the alert plus the start of the alert id."""
    stamp = alert.time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "".join(c for c in alert.id if c.isalnum())[:8] or "manual"
    return f"{stamp}-{suffix}"


def record_from_json(data: dict[str, Any]) -> ActionRecord:
    return ActionRecord(
        step=str(data["step"]),
        target=str(data.get("target", "")),
        status=ActionStatus(data["status"]),
        started=datetime.fromisoformat(str(data["started"])),
        duration_s=float(data.get("duration_s", 0.0)),
        detail=str(data.get("detail", "")),
        alert_id=str(data.get("alert_id", "")),
        data=dict(data.get("data") or {}),
    )


class Incident:
    """The on-disk record of one incident."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.id = directory.name
        self._lock = threading.Lock()

    @classmethod
    def create(cls, state_dir: str | Path, alert: Alert) -> Incident:
        base = incidents_dir(state_dir)
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        incident_id = new_incident_id(alert)
        directory = base / incident_id
        n = 1
        while directory.exists():
            n += 1
            directory = base / f"{incident_id}.{n}"
        directory.mkdir(mode=0o700)
        incident = cls(directory)
        (directory / ALERT_FILE).write_text(json.dumps(to_jsonable(alert), indent=2) + "\n")
        return incident

    @classmethod
    def open(cls, state_dir: str | Path, incident_id: str) -> Incident:
        if "/" in incident_id or incident_id in ("", ".", ".."):
            raise UsageError(f"{incident_id!r}: not an incident id")
        directory = incidents_dir(state_dir) / incident_id
        if not (directory / RECORDS_FILE).exists() and not (directory / ALERT_FILE).exists():
            raise UsageError(f"incident {incident_id}: not found under {incidents_dir(state_dir)}")
        return cls(directory)

    @classmethod
    def latest(cls, state_dir: str | Path) -> Incident | None:
        base = incidents_dir(state_dir)
        if not base.is_dir():
            return None
        dirs = sorted(p for p in base.iterdir() if p.is_dir())
        return cls(dirs[-1]) if dirs else None

    @property
    def evidence_dir(self) -> Path:
        return self.dir / "evidence"

    def append(self, record: ActionRecord) -> None:
        line = json.dumps(to_jsonable(record), sort_keys=True) + "\n"
        with self._lock:
            fd = os.open(self.dir / RECORDS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)

    def records(self) -> list[ActionRecord]:
        path = self.dir / RECORDS_FILE
        if not path.exists():
            return []
        return [record_from_json(json.loads(line)) for line in _lines(path)]

    def alert_json(self) -> dict[str, Any]:
        path = self.dir / ALERT_FILE
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        return data


def _lines(path: Path) -> Iterator[str]:
    with path.open() as handle:
        for line in handle:
            if line.strip():
                yield line


@dataclass(frozen=True)
class OpenItem:
    """A step that still needs a human: pending (no API) or failed."""

    key: str  # "step:target", what `garrison respond ack` takes
    record: ActionRecord


def step_key(record: ActionRecord) -> str:
    return f"{record.step}:{record.target}" if record.target else record.step


def open_items(records: list[ActionRecord]) -> list[OpenItem]:
    """The latest state of each step:target that is pending or failed (acks close them)."""
    latest: dict[str, ActionRecord] = {}
    for record in records:
        latest[step_key(record)] = record
    return [
        OpenItem(key, rec)
        for key, rec in latest.items()
        if rec.status in (ActionStatus.PENDING, ActionStatus.FAILED)
    ]


def acknowledge(incident: Incident, step: str, who: str, note: str = "") -> ActionRecord:
    """Close a pending/failed step by hand; `step` is 'step:target' or just the target."""
    items = open_items(incident.records())
    matches = [i for i in items if step in (i.key, i.record.target)]
    if not matches:
        choices = ", ".join(i.key for i in items) or "none"
        raise UsageError(f"{step}: no open step of incident {incident.id} (open: {choices})")
    if len(matches) > 1:
        raise UsageError(f"{step}: ambiguous, say one of {', '.join(i.key for i in matches)}")
    item = matches[0]
    record = ActionRecord(
        step=item.record.step,
        target=item.record.target,
        status=ActionStatus.DONE,
        started=datetime.now(UTC),
        duration_s=0.0,
        detail=f"acknowledged by {who}" + (f": {note}" if note else ""),
        alert_id=item.record.alert_id,
        data={"ack": True},
    )
    incident.append(record)
    return record
