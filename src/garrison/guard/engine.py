"""Event -> rule -> (allow-list | pending verification | alert) -> store -> responders."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from garrison.config.schema import Config
from garrison.guard.allowlist import DeployVerifier, PackageManagerVerifier, is_garrison_writer
from garrison.guard.metrics import GuardMetrics
from garrison.guard.pathglob import glob_match
from garrison.guard.rules.ruleset import Rule, RuleSet
from garrison.guard.store import AlertStore
from garrison.model import Alert, Event

logger = logging.getLogger("garrison.guard.engine")

#: Called with each new (not deduplicated) alert; the daemon fans it out to responders.
AlertSink = Callable[[Alert], None]


def dedup_key(rule: Rule, event: Event) -> str:
    parts = [rule.id]
    for name in rule.dedup:
        value: Any = (
            event.detail.get(name[7:]) if name.startswith("detail.") else getattr(event, name)
        )
        parts.append(f"{name}={value}")
    return "|".join(parts)


def summarize(rule: Rule, event: Event) -> str:
    who = event.exe or event.detail.get("comm") or "unknown process"
    if event.pid is not None:
        who = f"{who} (pid {event.pid}{', exited' if event.detail.get('process_gone') else ''})"
    if event.source == "nflog":
        d = event.detail
        return f"{rule.title}: {d.get('proto')} to {d.get('dst')}:{d.get('dport')} uid {event.uid}"
    if event.kind == "auth_failure":
        d = event.detail
        by = f" by {d.get('by')}" if d.get("by") else ""
        return f"{rule.title}: {d.get('program')} to {d.get('user')}{by}"
    if event.kind in ("overflow", "stopped"):
        return f"{rule.title}: {event.detail.get('reason', '')}"
    target = event.path or event.detail.get("target", "")
    return f"{rule.title}: {event.kind} {target} by {who}"


class AlertEngine:
    """Owns the decision for each event; all methods run on the event-loop thread."""

    def __init__(
        self,
        config: Config,
        rules: RuleSet,
        store: AlertStore,
        metrics: GuardMetrics,
        sink: AlertSink,
    ) -> None:
        self.config = config
        self.rules = rules
        self.store = store
        self.metrics = metrics
        self.sink = sink
        self.verifier = PackageManagerVerifier(config.guard.package_manager)
        self.deploys = DeployVerifier(config)
        self.pending: dict[int, dict[str, tuple[Rule, Event]]] = {}
        self.pidfds: dict[int, int] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.alerts_raised = 0
        self.events_seen = 0

    def process(self, event: Event, read_at: float | None = None) -> Alert | None:
        """Decide on one event; returns the new alert (None if none/deduplicated/pending)."""
        self.events_seen += 1
        self.metrics.events.labels(event.source).inc()
        try:
            return self._decide(event)
        finally:
            if read_at is not None:
                lag = time.monotonic() - read_at
                self.metrics.queue_lag.set(lag)
                self.metrics.latency.observe(lag)

    def _decide(self, event: Event) -> Alert | None:
        rule = self.rules.first_match(event)
        if rule is None:
            return None
        guard = self.config.guard
        if event.path and any(glob_match(p, event.path) for p in guard.allow_paths):
            self.metrics.suppressed.labels("allow_paths").inc()
            return None
        if event.exe and any(glob_match(p, event.exe) for p in guard.allow_exes):
            self.metrics.suppressed.labels("allow_exes").inc()
            return None
        if "garrison" in rule.allow and is_garrison_writer(event):
            self.metrics.suppressed.labels("garrison").inc()
            return None
        if "deploy" in rule.allow and event.path and self.deploys.verified(event.path):
            self.metrics.suppressed.labels("deploy").inc()
            return None
        if "package-manager" in rule.allow and event.path:
            if self.verifier.qualifies(event):
                self._defer(rule, event)
                return None
            if self.verifier.unattributed(event):
                self._defer_unattributed(rule, event)
                return None
        return self.raise_alert(rule, event)

    def raise_alert(self, rule: Rule, event: Event) -> Alert | None:
        key = dedup_key(rule, event)
        now = event.time.timestamp()
        window = self.config.guard.dedup_window_s
        existing = self.store.recent_duplicate(key, now, window) if window > 0 else None
        if existing is not None:
            self.store.add_duplicate(existing, event)
            self.metrics.deduplicated.labels(rule.id).inc()
            return None
        alert = Alert(
            id=uuid.uuid4().hex,
            rule_id=rule.id,
            severity=rule.severity,
            title=rule.title,
            time=datetime.now(UTC),
            summary=summarize(rule, event),
            events=(event,),
            technique=rule.technique,
            dedup_key=key,
        )
        self.store.add_alert(alert)
        self.metrics.alerts.labels(rule.id).inc()
        self.alerts_raised += 1
        self.sink(alert)
        return alert

    # -- package-manager writes: verified once the writer has exited ------------------------

    def _defer(self, rule: Rule, event: Event) -> None:
        pid = event.pid or 0
        bucket = self.pending.setdefault(pid, {})
        bucket.setdefault(event.path, (rule, event))
        self.metrics.pending.set(sum(len(b) for b in self.pending.values()))
        if pid in self.pidfds or self.loop is None:
            return
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # already exited: verify now
            self.loop.call_soon(self._verify_pid, pid)
            self.pidfds[pid] = -1
            return
        self.pidfds[pid] = pidfd
        self.loop.add_reader(pidfd, self._verify_pid, pid)
        self.loop.call_later(self.config.guard.package_manager.max_wait_s, self._verify_pid, pid)

    def _defer_unattributed(self, rule: Rule, event: Event) -> None:
        """Writer unknown or gone: verify the content after a short settle (key -1)."""
        if event.pid is not None and self.loop is not None:
            # The writer has exited, so its writes are complete: decide now (no added delay).
            self.pending.setdefault(-2, {}).setdefault(event.path, (rule, event))
            self.loop.call_soon(self._verify_pid, -2)
            return
        bucket = self.pending.setdefault(-1, {})
        first = not bucket
        bucket.setdefault(event.path, (rule, event))
        if first and self.loop is not None:
            # No pid at all (inotify): give a package manager time to finish the file.
            settle = self.config.guard.package_manager.settle_s
            self.loop.call_later(settle, self._verify_pid, -1)

    def _verify_pid(self, pid: int) -> None:
        pidfd = self.pidfds.pop(pid, -1)
        if pidfd >= 0 and self.loop is not None:
            self.loop.remove_reader(pidfd)
            os.close(pidfd)
        for path, (rule, event) in sorted(self.pending.pop(pid, {}).items()):
            allowed, why = self.verifier.verify(path)
            if allowed:
                self.metrics.suppressed.labels("package-manager").inc()
                logger.info("package-manager write verified: %s (%s)", path, why)
            else:
                detail = {**event.detail, "package_manager_check": why}
                self.raise_alert(rule, replace(event, detail=detail))
        self.metrics.pending.set(sum(len(b) for b in self.pending.values()))

    def flush_pending(self) -> None:
        """Verify everything still pending (at shutdown: never drop a decision)."""
        for pid in list(self.pending):
            self._verify_pid(pid)
