"""The `log` responder: one structured JSON line per alert through the guard's logger."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from garrison.guard.responders import Responder
from garrison.model import ActionRecord, ActionStatus, Alert, to_jsonable

logger = logging.getLogger("garrison.guard.alert")


class LogResponder(Responder):
    name = "log"

    def handle(self, alert: Alert) -> list[ActionRecord]:
        start = time.monotonic()
        logger.warning(
            "alert %s %s",
            alert.rule_id,
            alert.summary,
            extra={"alert": to_jsonable(alert)},
        )
        return [
            ActionRecord(
                step="log",
                target=alert.rule_id,
                status=ActionStatus.DONE,
                started=datetime.now(UTC),
                duration_s=time.monotonic() - start,
                alert_id=alert.id,
            )
        ]
