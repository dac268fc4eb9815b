"""The incident playbook: alert -> ordered, timed steps -> ActionRecords (persisted).

Phases follow respond.steps; adjacent freeze and broker run concurrently (both are
time-critical). notify queues its first message as soon as they finish (delivery happens in a
background thread and never delays the rest) and a second one with the evidence hashes;
rebuild runs last. A failed step never stops the others. Records go to
state_dir/incidents/<id>/records.jsonl as each one finishes.

    run_playbook(alert, config, *, dry_run=False) -> list[ActionRecord]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from garrison.host.runner import run_command
from garrison.model import ActionRecord, ActionStatus, Alert
from garrison.respond.brokering import broker_all, plan_broker
from garrison.respond.context import ResponseContext, StepOutcome, timed
from garrison.respond.evidence import collect_evidence, plan_evidence
from garrison.respond.freeze.discovery import find_pids
from garrison.respond.freezing import engage_kill_switch, freeze_strategies, plan_freeze
from garrison.respond.incident import Incident
from garrison.respond.message import incident_message
from garrison.respond.notify import Notifier
from garrison.respond.redact import Redactor, redact_url
from garrison.respond.secret_access import SecretReader, store_reader

if TYPE_CHECKING:
    from garrison.config.schema import Config


@dataclass(frozen=True)
class PlaybookResult:
    incident_id: str  # "" for a dry run
    records: list[ActionRecord]


def run_playbook(
    alert: Alert,
    config: Config,
    *,
    dry_run: bool = False,
    secrets: SecretReader | None = None,
    notifier: Notifier | None = None,
    wait_notify_s: float | None = None,
) -> list[ActionRecord]:
    """Respond to one alert. With dry_run, return the plan (DRY_RUN records), touch nothing.

    `notifier` lets a long-lived caller (the guard) share one delivery queue; by default one
    is made here (rate limit and dedup state are shared through state_dir anyway).
    `wait_notify_s`: how long to wait for deliveries before returning (default 0: a daemon
    returns at once and delivery goes on in the background; the CLI waits). Delivery records
    are appended to the incident's records.jsonl whenever they finish.
    """
    return execute_playbook(
        alert,
        config,
        dry_run=dry_run,
        secrets=secrets,
        notifier=notifier,
        wait_notify_s=wait_notify_s,
    ).records


def execute_playbook(
    alert: Alert,
    config: Config,
    *,
    dry_run: bool = False,
    secrets: SecretReader | None = None,
    notifier: Notifier | None = None,
    wait_notify_s: float | None = None,
) -> PlaybookResult:
    """run_playbook, also saying which incident directory holds the records."""
    reader = secrets or store_reader(config)
    if dry_run:
        ctx = ResponseContext(config, reader, dry_run=True, alert_id=alert.id)
        return PlaybookResult("", plan_playbook(ctx))
    incident = Incident.create(config.paths.state_dir, alert)
    ctx = ResponseContext(config, reader, Redactor(), incident_id=incident.id, alert_id=alert.id)
    if notifier is None:
        notifier = Notifier(config.respond.notify, config.paths.state_dir, None, ctx.redactor)
    records = _Run(ctx, incident, alert, notifier).run()
    wait = wait_notify_s or 0.0
    if wait > 0 and "notify" in config.respond.steps:
        notifier.flush(wait)
    return PlaybookResult(incident.id, records)


def plan_playbook(ctx: ResponseContext) -> list[ActionRecord]:
    """What the playbook would do, step by step, in order."""
    cfg = ctx.config.respond
    records: list[ActionRecord] = []

    def dry(step: str, target: str, detail: str) -> None:
        outcome = StepOutcome(ActionStatus.DRY_RUN, detail)
        records.append(timed(ctx, step, target, lambda: outcome))

    for phase in phases(cfg.steps):
        if "freeze" in phase:
            records += plan_freeze(ctx, list(ctx.config.strategies))
        if "broker" in phase:
            records += plan_broker(ctx)
            if not cfg.accounts:
                dry("broker", "", "no [[respond.accounts]]: nothing to cancel or lock")
        if "evidence" in phase:
            for what, how in plan_evidence(ctx):
                dry(f"evidence.{what}", "host", how)
        if "notify" in phase:
            urls = ", ".join(redact_url(u) for u in cfg.notify.urls) or "no URLs configured"
            dry("notify", "", f"one message after freeze/broker, one with evidence: {urls}")
        if "rebuild" in phase:
            dry("rebuild", "", " ".join(cfg.rebuild.command) or "no rebuild command configured")
    return records


def phases(steps: Sequence[str]) -> list[list[str]]:
    """Group the configured order into phases: adjacent freeze and broker run together."""
    out: list[list[str]] = []
    for step in steps:
        if out and step in ("freeze", "broker") and set(out[-1]) <= {"freeze", "broker"}:
            out[-1].append(step)
        else:
            out.append([step])
    return out


class _Run:
    """One execution of the playbook for one incident."""

    def __init__(
        self, ctx: ResponseContext, incident: Incident, alert: Alert, notifier: Notifier
    ) -> None:
        self.ctx = ctx
        self.incident = incident
        self.alert = alert
        self.notifier = notifier
        self.records: list[ActionRecord] = []
        self.evidence_done = False

    def keep(self, records: list[ActionRecord]) -> None:
        for record in records:
            self.incident.append(record)
        self.records += records

    def run(self) -> list[ActionRecord]:
        cfg = self.ctx.config.respond
        notify = "notify" in cfg.steps
        for phase in phases(list(cfg.steps)):
            if set(phase) <= {"freeze", "broker"}:
                self.keep(self._contain(phase))
                if notify:  # tell the humans now: evidence and rebuild take longer
                    self._notify(evidence=False)
            elif phase == ["evidence"]:
                self.keep(self._bounded("evidence", cfg.timeouts.evidence, self._evidence))
                self.evidence_done = True
                if notify and self._notified:
                    self._notify(evidence=True)
            elif phase == ["notify"]:
                if not self._notified:
                    self._notify(evidence=self.evidence_done)
            elif phase == ["rebuild"]:
                self.keep([timed(self.ctx, "rebuild", "host", self._rebuild)])
        return list(self.records)

    _notified = False
    _first_sent = False

    def _contain(self, phase: list[str]) -> list[ActionRecord]:
        """Freeze and broker concurrently, each bounded by its step timeout."""
        # The broker thread (JSON, HMAC, TLS) holds the GIL in 5 ms slices by default; the
        # freeze is a few file writes that must not wait behind it. Restored right after.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, 0.0005))
        try:
            return self._contain_parallel(phase)
        finally:
            sys.setswitchinterval(switch)

    def _contain_parallel(self, phase: list[str]) -> list[ActionRecord]:
        timeouts = self.ctx.config.respond.timeouts
        reason = f"{self.alert.rule_id}: {self.alert.title}"
        # no `with`: its exit would wait for a hung step; a timed-out thread is abandoned
        out: list[ActionRecord] = []
        if "freeze" in phase:  # first, and outside any timeout: a file write
            out.append(engage_kill_switch(self.ctx, reason))
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="garrison-contain")
        futures: list[tuple[str, float, Future[list[ActionRecord]]]] = []
        if "freeze" in phase:
            strategies = list(self.ctx.config.strategies)
            futures.append(
                ("freeze", timeouts.freeze, pool.submit(freeze_strategies, self.ctx, strategies))
            )
        if "broker" in phase:
            futures.append(("broker", timeouts.broker, pool.submit(broker_all, self.ctx)))
        for step, limit, future in futures:
            out += _result(self.ctx, step, limit, future)
        pool.shutdown(wait=False, cancel_futures=True)
        return out

    def _bounded(
        self, step: str, limit: float, fn: Callable[[], list[ActionRecord]]
    ) -> list[ActionRecord]:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"garrison-{step}")
        records = _result(self.ctx, step, limit, pool.submit(fn))
        pool.shutdown(wait=False)
        return records

    def _evidence(self) -> list[ActionRecord]:
        pids: dict[str, list[int]] = {}
        frozen = {r.target: r for r in self.records if r.step == "freeze"}
        for strategy in self.ctx.config.strategies:
            record = frozen.get(strategy.name)
            found = list(record.data.get("pids", [])) if record else []
            if not found and (strategy.match or strategy.user or strategy.unit):
                try:
                    found = find_pids(strategy)
                except Exception:
                    found = []
            pids[strategy.name] = found
        return collect_evidence(self.ctx, self.incident.evidence_dir, pids)

    def _notify(self, *, evidence: bool) -> None:
        if self._notified and not self._first_sent:
            # the first message was deduplicated or rate-limited: its follow-up goes the same way
            return
        message = incident_message(
            self.incident.id, self.alert, self.records, evidence_done=evidence
        )
        record = self.notifier.submit(
            message,
            dedup=not self._notified,
            alert_id=self.alert.id,
            on_record=self.incident.append,
        )
        if not self._notified:
            self._first_sent = record.status == ActionStatus.DONE
        self._notified = True
        self.keep([record])

    def _rebuild(self) -> StepOutcome:
        cfg = self.ctx.config.respond.rebuild
        if not cfg.command:
            return StepOutcome(ActionStatus.SKIPPED, "no respond.rebuild.command configured")
        t0 = time.perf_counter()
        result = run_command(cfg.command, timeout=cfg.timeout_s)
        took = time.perf_counter() - t0
        data = {
            "command": result.display,
            "exit": result.returncode,
            "rebuild_s": round(took, 3),
            "output_tail": (result.stdout or "")[-2000:],
        }
        if not result.ok:
            return StepOutcome(ActionStatus.FAILED, f"rebuild failed: {result.problem()}", data)
        return StepOutcome(ActionStatus.DONE, f"rebuild finished in {took:.1f}s", data)


def _result(
    ctx: ResponseContext, step: str, limit: float, future: Future[list[ActionRecord]]
) -> list[ActionRecord]:
    started = datetime.now(UTC)
    try:
        return future.result(timeout=limit)
    except FutureTimeout:
        detail = f"did not finish within {limit:g}s (respond.timeouts.{step})"
    except Exception as exc:  # the step runner itself broke: record it, go on
        detail = f"{type(exc).__name__}: {exc}"
    return [
        ActionRecord(
            step, "", ActionStatus.FAILED, started, limit, ctx.redactor.text(detail), ctx.alert_id
        )
    ]
