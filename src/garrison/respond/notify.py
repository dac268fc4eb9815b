"""Tell the humans: one apprise message per incident, delivered in the background.

submit() only queues (microseconds): freezing, locking and evidence never wait for Slack.
A delivery thread sends to every URL with retries and exponential backoff and reports each
outcome through `on_record` (the playbook persists them). Rate limit (max_per_hour, across
incidents and processes) and dedup (same dedup key within dedup_window_s) use a small state
file under state_dir. URLs carry tokens: they appear only through redact_url().
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from garrison.config.respond import NotifyConfig
from garrison.model import ActionRecord, ActionStatus
from garrison.respond.redact import Redactor, redact_url

STATE_FILE = "notify-state.json"
RecordSink = Callable[[ActionRecord], None]


@dataclass(frozen=True)
class Message:
    incident: str
    title: str
    body: str
    dedup_key: str = ""


class Notifier:
    """A background delivery queue for one process (the CLI run, or the guard daemon)."""

    def __init__(
        self,
        config: NotifyConfig,
        state_dir: str | Path,
        on_record: RecordSink | None = None,
        redactor: Redactor | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.state_path = Path(state_dir) / STATE_FILE
        self.on_record = on_record or (lambda _record: None)
        self.redactor = redactor or Redactor()
        self._sleep = sleep
        self._queue: queue.Queue[tuple[Message, str, RecordSink] | None] = queue.Queue()
        self._pending = 0
        self._cond = threading.Condition()
        self._state_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- producer side (never blocks) -----------------------------------------------------
    def submit(
        self,
        message: Message,
        *,
        dedup: bool = True,
        alert_id: str = "",
        on_record: RecordSink | None = None,
    ) -> ActionRecord:
        """Queue a message; returns the queueing record (SKIPPED when deduplicated/limited).

        Delivery records go to `on_record` (e.g. the incident's records.jsonl), else to the
        notifier's default sink.
        """
        started = datetime.now(UTC)
        if not self.config.urls:
            return self._record(
                "notify",
                "",
                ActionStatus.SKIPPED,
                started,
                0.0,
                "no respond.notify.urls configured",
                alert_id,
            )
        verdict = self._admit(message.dedup_key if dedup else "")
        if verdict:
            return self._record("notify", "", ActionStatus.SKIPPED, started, 0.0, verdict, alert_id)
        self._start()
        for url in self.config.urls:
            with self._cond:
                self._pending += 1
            self._queue.put((message, url, on_record or self.on_record))
        return self._record(
            "notify.queued",
            message.incident,
            ActionStatus.DONE,
            started,
            0.0,
            f"queued for {len(self.config.urls)} destination(s)",
            alert_id,
        )

    def flush(self, timeout: float) -> bool:
        """Wait until every queued delivery finished (delivered or gave up)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)

    # -- rate limit and dedup --------------------------------------------------------------
    def _admit(self, dedup_key: str) -> str:
        now = time.time()
        with self._state_lock:
            state = self._load()
            sent = [t for t in state.get("sent", []) if now - t < 3600]
            seen = {
                k: t
                for k, t in state.get("dedup", {}).items()
                if now - t < self.config.dedup_window_s
            }
            if dedup_key and dedup_key in seen:
                return f"duplicate of a message sent {now - seen[dedup_key]:.0f}s ago"
            if len(sent) >= self.config.max_per_hour:
                return f"rate limit reached ({self.config.max_per_hour} messages per hour)"
            sent.append(now)
            if dedup_key:
                seen[dedup_key] = now
            self._save({"sent": sent, "dedup": seen})
        return ""

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.state_path.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def _save(self, state: dict[str, Any]) -> None:
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_path.with_name(f".{STATE_FILE}.tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(self.state_path)
        except OSError:
            pass  # losing rate-limit state must not lose the alert

    # -- delivery thread -------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="garrison-notify", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            message, url, sink = item
            try:
                self._deliver(message, url, sink)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def _deliver(self, message: Message, url: str, sink: RecordSink) -> None:
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        target = redact_url(url)
        attempts = 0
        error = ""
        delay = self.config.backoff_s
        while attempts <= self.config.retries:
            attempts += 1
            error = send_apprise(url, message, self.config.timeout_s)
            if not error:
                sink(
                    self._record(
                        "notify",
                        target,
                        ActionStatus.DONE,
                        started,
                        time.perf_counter() - t0,
                        f"delivered (attempt {attempts})",
                        "",
                        {"incident": message.incident},
                    )
                )
                return
            if attempts <= self.config.retries:
                self._sleep(delay)
                delay *= 2
        sink(
            self._record(
                "notify",
                target,
                ActionStatus.FAILED,
                started,
                time.perf_counter() - t0,
                f"not delivered after {attempts} attempt(s): {error}",
                "",
                {"incident": message.incident},
            )
        )

    def _record(
        self,
        step: str,
        target: str,
        status: ActionStatus,
        started: datetime,
        duration: float,
        detail: str,
        alert_id: str,
        data: dict[str, Any] | None = None,
    ) -> ActionRecord:
        return ActionRecord(
            step,
            target,
            status,
            started,
            round(duration, 6),
            self.redactor.text(detail),
            alert_id,
            data or {},
        )


def send_apprise(url: str, message: Message, timeout_s: float) -> str:
    """Deliver to one apprise URL; '' on success, else a one-line reason (no URL in it)."""
    import apprise

    logger = logging.getLogger("apprise")
    logger.propagate = False  # apprise logs URLs and server answers: never to our stderr
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    sep = "&" if "?" in url else "?"
    timed_url = f"{url}{sep}cto={timeout_s:g}&rto={timeout_s:g}"
    app = apprise.Apprise()
    if not app.add(timed_url) and not app.add(url):
        return "not a valid apprise URL"
    try:
        ok = app.notify(title=message.title, body=message.body)
    except Exception as exc:  # a plugin bug is a failed delivery, not a crash
        return f"{type(exc).__name__}"
    return "" if ok else "the service did not accept the message (down, or refused it)"
