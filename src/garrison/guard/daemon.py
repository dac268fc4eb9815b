"""The guard daemon: one asyncio loop, sources register readers, no polling loops."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from garrison.config.schema import Config
from garrison.errors import HostError
from garrison.guard.engine import AlertEngine
from garrison.guard.fileevents import build_file_event, file_state
from garrison.guard.metrics import GuardMetrics
from garrison.guard.rescan import (
    Snapshot,
    release_memory,
    rescan_changes,
    take_snapshot,
    verify_against_baseline,
)
from garrison.guard.scope import build_scope
from garrison.guard.setup import (
    alert_db_path,
    build_responders,
    load_guard_rules,
    status_path,
)
from garrison.guard.sources.base import Source, SourceStatus, SourceUnavailable
from garrison.guard.sources.build import build_sources
from garrison.guard.status import GuardStatus, read_status, write_status
from garrison.guard.store import AlertStore
from garrison.model import ActionRecord, Alert, Event, to_jsonable

logger = logging.getLogger("garrison.guard.daemon")
STATUS_EVERY_S = 10.0


@dataclass(frozen=True)
class RunSummary:
    """What one run of the guard saw (returned to the CLI for --for/--once)."""

    events: int
    alerts: int
    rescans: int
    sources: tuple[SourceStatus, ...]


def overflow_event(reason: str) -> Event:
    return Event(source="guard", kind="overflow", time=datetime.now(UTC), detail={"reason": reason})


class GuardDaemon:
    """Built from the config (refuses to build half-configured), then run() until stopped."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.scope = build_scope(config)
        self.rules = load_guard_rules(config, self.scope)  # ConfigError: file:line
        self.metrics = GuardMetrics()
        self.store = AlertStore(alert_db_path(config))
        self.responders = build_responders(config)
        self.engine = AlertEngine(config, self.rules, self.store, self.metrics, self._dispatch)
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="guard")
        self.status_file = status_path(config)
        self.sources: list[Source] = []
        self.unavailable: list[SourceStatus] = []
        self.snapshot = Snapshot()
        self.rescans = 0
        self.rescan_running = False
        self.rescan_again = False
        self.baseline = "not checked"
        self.started = datetime.now(UTC)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self.metrics_note = ""
        self.previous: GuardStatus | None = None

    # -- events ---------------------------------------------------------------------------

    def on_file(self, kinds: tuple[str, ...], path: str, pid: int | None, source: str) -> None:
        if path not in self.scope.filter:
            return
        read_at = time.monotonic()
        event = build_file_event(source, kinds, path, pid)
        if event.detail.get("type") != "dir":
            names_changed = event.kind in ("create", "delete", "move_to", "move_from")
            self.snapshot.update(path, file_state(path), self.scope.filter, names_changed)
        self.engine.process(event, read_at)

    def on_event(self, event: Event) -> None:
        """Non-file sources (nflog, audit, auth log) and overflow notices."""
        self.engine.process(event, time.monotonic())
        if event.kind == "overflow":
            self.metrics.drops.labels(event.source).inc()
            self.request_rescan(str(event.detail.get("reason", "overflow")))

    def _dispatch(self, alert: Alert) -> None:
        for responder in self.responders:
            if responder.name == "log":
                responder.handle(alert)  # cheap: keep it inline for latency
            elif self.loop is not None:
                future = self.loop.run_in_executor(self.executor, responder.handle, alert)
                future.add_done_callback(functools.partial(self._responded, responder.name))

    def _responded(self, name: str, future: asyncio.Future[list[ActionRecord]]) -> None:
        exc = future.exception()
        if exc is not None:
            logger.error("responder %s failed: %s", name, exc, extra={"error": str(exc)})
            return
        for record in future.result():
            failed = getattr(record, "status", "") == "failed"
            (logger.warning if failed else logger.info)(
                "responder %s: %s",
                name,
                getattr(record, "detail", ""),
                extra={"detail": to_jsonable(record)},
            )

    # -- rescans ----------------------------------------------------------------------------

    def request_rescan(self, reason: str) -> None:
        if self.rescan_running:
            self.rescan_again = True
            return
        if self.loop is not None:
            self.loop.create_task(self._rescan(reason))

    async def _rescan(self, reason: str) -> None:
        assert self.loop is not None
        self.rescan_running = True
        try:
            while True:
                self.rescan_again = False
                self.rescans += 1
                self.metrics.rescans.inc()
                after, changes = await self.loop.run_in_executor(
                    self.executor,
                    rescan_changes,
                    self.snapshot,
                    self.scope.roots,
                    self.scope.filter,
                )
                for kind, path in changes:
                    event = build_file_event("rescan", (kind,), path, None, {"rescan": reason})
                    self.engine.process(event, time.monotonic())
                self.snapshot = after
                release_memory()
                self.baseline, events = await self.loop.run_in_executor(
                    self.executor, verify_against_baseline, self.config
                )
                for event in events:
                    self.engine.process(event, time.monotonic())
                logger.info("rescan done (%s): %d paths", reason, len(self.snapshot))
                if not self.rescan_again:
                    break
        finally:
            self.rescan_running = False

    # -- lifecycle --------------------------------------------------------------------------

    def _start_sources(self) -> None:
        assert self.loop is not None
        candidates, self.unavailable = build_sources(self)
        for source in candidates:
            try:
                source.start(self.loop, self.on_event)
            except SourceUnavailable as exc:
                source.stop()
                if source.required:
                    self._stop_started()
                    raise HostError(f"guard source {source.name}: {exc}") from None
                self.unavailable.append(
                    SourceStatus(source.name, False, "unavailable", missing=(str(exc),))
                )
                continue
            self.sources.append(source)
        for st in self.statuses():
            self.metrics.source_active.labels(st.name, st.mechanism).set(1 if st.active else 0)
            if st.fallback:
                self.metrics.source_fallback.labels(st.name, st.mechanism).set(1)
            for feature in st.missing:
                self.metrics.missing_feature.labels(st.name, feature).set(1)
            logger.info(
                "source %s: %s%s",
                st.name,
                st.mechanism,
                f" (missing: {'; '.join(st.missing)})" if st.missing else "",
                extra={"source": to_jsonable(st)},
            )

    def _signalled(self, sig: signal.Signals) -> None:
        """A stop request: say so (an attacker stopping the guard must not be silent)."""
        assert self.stopping is not None
        if not self.stopping.is_set():
            self.engine.process(
                Event(
                    source="guard",
                    kind="stopped",
                    time=datetime.now(UTC),
                    pid=os.getpid(),
                    detail={"reason": f"signal {sig.name}"},
                )
            )
        self.stopping.set()

    def _stop_started(self) -> None:
        for started in self.sources:
            started.stop()
        self.sources = []

    def statuses(self) -> list[SourceStatus]:
        return [s.status() for s in self.sources] + self.unavailable

    def write_status(self, running: bool) -> None:
        statuses = self.statuses()
        status = GuardStatus(
            pid=os.getpid(),
            started=self.started.isoformat(),
            updated=datetime.now(UTC).isoformat(),
            running=running,
            sources=tuple(statuses),
            counters={
                "events": self.engine.events_seen,
                "alerts": self.engine.alerts_raised,
                "rescans": self.rescans,
                "pending_verifications": sum(len(b) for b in self.engine.pending.values()),
                "watched_paths": len(self.snapshot),
            },
            rules=len(self.rules.rules),
            rule_files=self.rules.files,
            alert_db=str(self.store.path),
            baseline=self.baseline,
            missing=tuple(m for s in statuses for m in s.missing),
            fallbacks=tuple(f"{s.name}: {s.mechanism}" for s in statuses if s.fallback),
            metrics=self.metrics_note,
        )
        try:
            write_status(self.status_file, status)
        except OSError as exc:
            logger.error("cannot write %s: %s", self.status_file, exc)
        if self.config.guard.metrics_textfile:
            try:
                self.metrics.write_textfile(self.config.guard.metrics_textfile)
            except OSError as exc:
                logger.error("cannot write metrics textfile: %s", exc)

    def _tick(self) -> None:
        assert self.loop is not None
        self.write_status(True)
        self.loop.call_later(STATUS_EVERY_S, self._tick)

    async def run(self, duration_s: float | None = None, once: bool = False) -> RunSummary:
        """Start everything, run until signalled (or duration_s passes), stop everything."""
        self.loop = asyncio.get_running_loop()
        self.engine.loop = self.loop
        self.stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self._signalled, sig)
        previous = read_status(self.status_file)
        self.previous = previous
        listen = self.config.guard.metrics_listen
        if listen != "off":
            try:
                self.metrics.serve(listen)
                self.metrics_note = f"http://{listen}/metrics"
            except OSError as exc:
                raise HostError(f"guard.metrics_listen {listen}: {exc.strerror or exc}") from None
        for responder in self.responders:
            responder.start()
        try:
            self._start_sources()
            logger.info(
                "guard started: %d rules, %d sources", len(self.rules.rules), len(self.sources)
            )
            # The first snapshot and the baseline check run while the sources already listen.
            self.snapshot = await self.loop.run_in_executor(
                self.executor, take_snapshot, self.scope.roots, self.scope.filter
            )
            release_memory()
            if self.config.guard.verify_on_start:
                self.baseline, events = await self.loop.run_in_executor(
                    self.executor, verify_against_baseline, self.config
                )
                for event in events:
                    self.engine.process(event, time.monotonic())
            if previous is not None and previous.running and not previous.alive:
                self.on_event(
                    overflow_event(
                        f"restarted after an unclean stop (pid {previous.pid}); rescanning"
                    )
                )
            self._tick()
            if not once:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=duration_s)
            while self.rescan_running:
                await asyncio.sleep(0.05)
        finally:
            final = tuple(self.statuses())  # as they were while running
            await self._stop()
        return RunSummary(self.engine.events_seen, self.engine.alerts_raised, self.rescans, final)

    async def _stop(self) -> None:
        for source in self.sources:
            try:
                source.stop()
            except Exception as exc:  # stopping one source must not skip the others
                logger.error("stopping %s failed: %s", source.name, exc)
        self.engine.flush_pending()
        self.executor.shutdown(wait=True)
        for responder in self.responders:
            responder.close()
        self.write_status(False)
        self.store.close()
        logger.info("guard stopped")
