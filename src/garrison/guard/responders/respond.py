"""The `respond` responder: hands the alert to garrison.respond's playbook (freeze, lock...)."""

from __future__ import annotations

import importlib
import time
from datetime import UTC, datetime
from typing import Any

from garrison.guard.responders import Responder
from garrison.model import ActionRecord, ActionStatus, Alert


class PlaybookResponder(Responder):
    name = "respond"

    def __init__(self, config: Any) -> None:
        self.config = config

    def handle(self, alert: Alert) -> list[ActionRecord]:
        started = datetime.now(UTC)
        start = time.monotonic()
        try:
            # Imported lazily: the respond area is optional and may pull in ccxt.
            playbook = importlib.import_module("garrison.respond.playbook")
        except ImportError as exc:
            return [
                ActionRecord(
                    step="respond",
                    target=alert.rule_id,
                    status=ActionStatus.FAILED,
                    started=started,
                    duration_s=time.monotonic() - start,
                    detail=f"garrison.respond.playbook is not available: {exc}",
                    alert_id=alert.id,
                )
            ]
        try:
            records: list[ActionRecord] = list(playbook.run_playbook(alert, self.config))
        except Exception as exc:  # a failing playbook must not stop the guard
            records = [
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
        return records
