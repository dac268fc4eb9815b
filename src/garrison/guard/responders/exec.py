"""The `exec` responder: run a configured command with the alert as JSON on stdin."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from garrison.guard.responders import Responder
from garrison.model import ActionRecord, ActionStatus, Alert, to_jsonable


class ExecResponder(Responder):
    name = "exec"

    def __init__(self, argv: Sequence[str], timeout_s: float) -> None:
        self.argv = list(argv)
        self.timeout_s = timeout_s

    def handle(self, alert: Alert) -> list[ActionRecord]:
        started = datetime.now(UTC)
        start = time.monotonic()
        payload = json.dumps(to_jsonable(alert), sort_keys=True)
        target = self.argv[0] if self.argv else "(none)"
        if not self.argv:
            status, detail = ActionStatus.SKIPPED, "guard.exec_command is empty"
        else:
            try:
                done = subprocess.run(
                    self.argv,
                    input=payload,
                    text=True,
                    capture_output=True,
                    timeout=self.timeout_s,
                    check=False,
                )
                ok = done.returncode == 0
                status = ActionStatus.DONE if ok else ActionStatus.FAILED
                tail = (done.stderr.strip().splitlines() or [""])[-1]
                detail = f"exit {done.returncode}" + (f": {tail}" if tail and not ok else "")
            except subprocess.TimeoutExpired:
                status, detail = ActionStatus.FAILED, f"timed out after {self.timeout_s:g}s"
            except OSError as exc:
                status, detail = ActionStatus.FAILED, f"cannot run: {exc.strerror or exc}"
        return [
            ActionRecord(
                step="exec",
                target=target,
                status=status,
                started=started,
                duration_s=time.monotonic() - start,
                detail=detail,
                alert_id=alert.id,
            )
        ]
