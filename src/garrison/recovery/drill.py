"""Run the configured recovery drill and keep a record of each run (JSON lines)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from garrison.config.schema import Config
from garrison.errors import EnforceError, UsageError
from garrison.host.host import Host

DRILLS_FILE = "recovery/drills.jsonl"
_OUTPUT_TAIL = 2000


@dataclass(frozen=True)
class DrillRecord:
    started: str  # ISO 8601, UTC
    duration_s: float
    returncode: int
    command: list[str]
    output_tail: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def started_at(self) -> datetime:
        return datetime.fromisoformat(self.started)


def drills_path(config: Config) -> Path:
    return Path(config.paths.state_dir) / DRILLS_FILE


def run_drill(config: Config) -> DrillRecord:
    """Run [recovery].drill_command (time limit: 3x the target) and append the record."""
    command = config.recovery.drill_command
    if not command:
        raise UsageError("no [recovery].drill_command configured; nothing to drill")
    limit = config.recovery.target_minutes * 60 * 3
    started = datetime.now(UTC)
    clock = time.monotonic()
    timed_out = False
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=limit,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        returncode, output = proc.returncode, proc.stdout + proc.stderr
    except FileNotFoundError:
        raise EnforceError(f"[recovery].drill_command: {command[0]}: not found") from None
    except subprocess.TimeoutExpired as exc:
        timed_out, returncode = True, -1
        raw = exc.stdout or b""
        output = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    record = DrillRecord(
        started=started.isoformat(),
        duration_s=round(time.monotonic() - clock, 3),
        returncode=returncode,
        command=list(command),
        output_tail=output[-_OUTPUT_TAIL:],
        timed_out=timed_out,
    )
    _append(drills_path(config), record)
    return record


def _append(path: Path, record: DrillRecord) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(record)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise EnforceError(f"{path}: cannot record the drill: {exc.strerror or exc}") from None


def load_drills(host: Host, config: Config) -> list[DrillRecord]:
    """Drill records of the audited system (through host.root), oldest first; bad lines skipped."""
    text = host.read_text_or_none(f"{config.paths.state_dir}/{DRILLS_FILE}") or ""
    records = []
    for line in text.splitlines():
        try:
            records.append(DrillRecord(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return records
