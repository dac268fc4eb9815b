"""Which sources run, from the config; the file source falls back from fanotify to inotify."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from garrison.guard.sources.base import EmitEvent, Source, SourceStatus, SourceUnavailable
from garrison.guard.sources.fanotify import FanotifySource
from garrison.guard.sources.inotify import InotifySource

if TYPE_CHECKING:
    from garrison.guard.daemon import GuardDaemon


class FileSource(Source):
    """fanotify first; inotify when fanotify (or FID reporting) is missing; says which."""

    name = "files"

    def __init__(self, daemon: GuardDaemon, mode: str) -> None:
        self.daemon = daemon
        self.mode = mode
        self.required = mode != "auto"
        self.active: Source | None = None
        self.missing: list[str] = []

    def start(self, loop: asyncio.AbstractEventLoop, emit: EmitEvent) -> None:
        from garrison.guard.daemon import overflow_event

        roots = self.daemon.scope.roots
        if self.mode in ("auto", "fanotify"):
            fan = FanotifySource(
                roots,
                lambda k, p, pid: self.daemon.on_file(k, p, pid, "fanotify"),
                emit,
                overflow_event,
                relevant_dir=self.daemon.scope.filter.may_contain,
            )
            try:
                fan.start(loop, emit)
                self.active = fan
                return
            except SourceUnavailable as exc:
                fan.stop()
                if self.mode == "fanotify":
                    raise
                self.missing.append(str(exc))
            except OSError as exc:
                fan.stop()
                if self.mode == "fanotify":
                    raise SourceUnavailable(f"fanotify: {exc}") from None
                self.missing.append(f"fanotify: {exc}")
        ino = InotifySource(
            roots,
            lambda k, p, pid: self.daemon.on_file(k, p, pid, "inotify"),
            emit,
            overflow_event,
        )
        ino.start(loop, emit)
        self.active = ino

    def stop(self) -> None:
        if self.active is not None:
            self.active.stop()

    def status(self) -> SourceStatus:
        if self.active is None:
            return SourceStatus(self.name, False, "not started", missing=tuple(self.missing))
        inner = self.active.status()
        missing = tuple(dict.fromkeys([*self.missing, *inner.missing]))
        return SourceStatus(
            inner.name, inner.active, inner.mechanism, inner.fallback, missing, inner.detail
        )


def _previous_audit_state(daemon: GuardDaemon) -> str | None:
    """The audit 'enabled' flag a guard that died uncleanly found before it enabled auditing."""
    previous = daemon.previous
    if previous is None or previous.alive or not previous.running:
        return None
    for source in previous.sources:
        if source.name == "privilege-audit":
            return source.detail.get("audit_enabled_before")
    return None


def build_sources(daemon: GuardDaemon) -> tuple[list[Source], list[SourceStatus]]:
    """(sources to start, sources switched off by the config)."""
    guard = daemon.config.guard
    sources: list[Source] = []
    off: list[SourceStatus] = []
    if guard.file_source != "off":
        sources.append(FileSource(daemon, guard.file_source))
    else:
        off.append(SourceStatus("files", False, "off (guard.file_source)"))
    if guard.nflog:
        from garrison.guard.sources.nflog import NflogSource

        group = getattr(daemon.config.firewall, "nflog_group", 100)
        sources.append(NflogSource(int(group)))
    else:
        off.append(SourceStatus("network", False, "off (guard.nflog)"))
    if guard.audit != "off":
        from garrison.guard.sources.audit import AuditSource

        sources.append(
            AuditSource(
                daemon.scope.macros["privilege_files"],
                required=guard.audit == "on",
                scope=guard.audit_paths,
                inherited_enabled=_previous_audit_state(daemon),
            )
        )
    else:
        off.append(SourceStatus("privilege-audit", False, "off (guard.audit)"))
    if guard.auth_source != "off":
        from garrison.guard.sources.authlog import AuthLogSource
        from garrison.guard.sources.journal import JournalSource, journal_available

        use_journal = guard.auth_source == "journal" or (
            guard.auth_source == "auto" and journal_available()
        )
        sources.append(JournalSource() if use_journal else AuthLogSource(guard.auth_log))
    else:
        off.append(SourceStatus("auth-log", False, "off (guard.auth_source)"))
    return sources, off
