"""Failed sudo/su from the systemd journal: `journalctl --follow --output=json` as a child
process whose stdout pipe the event loop reads (no polling). Used where journald runs; the
auth.log tail is the fallback."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime

from garrison.guard.sources.authlog import parse_auth_line
from garrison.guard.sources.base import EmitEvent, Source, SourceStatus, SourceUnavailable
from garrison.model import Event

IDENTIFIERS = ("sudo", "su")


def journal_available() -> bool:
    return shutil.which("journalctl") is not None and os.path.isdir("/run/systemd/journal")


class JournalSource(Source):
    name = "auth-log"

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.emit: EmitEvent | None = None
        self.buffer = b""
        self.entries = 0

    def start(self, loop: asyncio.AbstractEventLoop, emit: EmitEvent) -> None:
        journalctl = shutil.which("journalctl")
        if journalctl is None:
            raise SourceUnavailable("journalctl is not installed")
        argv = [journalctl, "--follow", "--output=json", "--lines=0"]
        argv += [f"SYSLOG_IDENTIFIER={name}" for name in IDENTIFIERS]
        try:
            self.proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
            )
        except OSError as exc:
            raise SourceUnavailable(f"journalctl: {exc.strerror or exc}") from None
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.loop, self.emit = loop, emit
        loop.add_reader(self.proc.stdout.fileno(), self._readable)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.loop is not None and self.proc.stdout is not None:
            self.loop.remove_reader(self.proc.stdout.fileno())
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def status(self) -> SourceStatus:
        running = self.proc is not None and self.proc.poll() is None
        return SourceStatus(
            name=self.name,
            active=running,
            mechanism="journalctl --follow (sudo, su)",
            detail={"entries": str(self.entries)},
        )

    def _readable(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        if not chunk:  # journalctl exited: stop reading (status shows it inactive)
            if self.loop is not None:
                self.loop.remove_reader(self.proc.stdout.fileno())
            return
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for raw in lines:
            self._entry(raw)

    def _entry(self, raw: bytes) -> None:
        try:
            entry = json.loads(raw)
        except ValueError:
            return
        if not isinstance(entry, dict):
            return
        self.entries += 1
        ident = str(entry.get("SYSLOG_IDENTIFIER", ""))
        message = entry.get("MESSAGE", "")
        if not isinstance(message, str):
            return  # binary messages arrive as byte arrays: not from sudo/su
        found = parse_auth_line(f"{ident}[{entry.get('_PID', '0')}]: {message}")
        if found and self.emit is not None:
            self.emit(
                Event(
                    source="journal",
                    kind="auth_failure",
                    time=datetime.now(UTC),
                    detail={**found, "line": message[:300]},
                )
            )
