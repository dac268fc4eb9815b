"""The `respond` responder: hands the alert to garrison.respond's playbook (freeze, lock...)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from garrison.config.schema import Config
from garrison.guard.responders import Responder
from garrison.model import ActionRecord, ActionStatus, Alert


class PlaybookResponder(Responder):
    name = "respond"

    def __init__(self, config: Config) -> None:
        self.config = config

    def handle(self, alert: Alert) -> list[ActionRecord]:
        started = datetime.now(UTC)
        start = time.monotonic()
        try:
            # Imported on first use: the playbook pulls in apprise and, for brokers, ccxt.
            from garrison.respond.playbook import run_playbook

            return list(run_playbook(alert, self.config))
        except Exception as exc:  # a failing playbook must not stop the guard
            return [
                ActionRecord(
                    step="respond",
                    target=alert.rule_id,
                    status=ActionStatus.FAILED,
                    started=started,
                    duration_s=time.monotonic() - start,
                    detail=f"{type(exc).__name__}: {exc}",
                    alert_id=alert.id,
                )
            ]
