"""What every response step gets: the config, a secret reader, the redactor, the incident."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from garrison.errors import GarrisonError
from garrison.model import ActionRecord, ActionStatus
from garrison.respond.redact import Redactor
from garrison.respond.secret_access import KeyPair, SecretReader, parse_key_pair

if TYPE_CHECKING:
    from garrison.config.schema import Config


@dataclass(frozen=True)
class ResponseContext:
    """Shared by the steps of one incident (or one `garrison freeze`)."""

    config: Config
    secrets: SecretReader
    redactor: Redactor = field(default_factory=Redactor)
    dry_run: bool = False
    incident_id: str = ""
    alert_id: str = ""

    def secret(self, name: str) -> bytearray:
        """Read a secret and remember its value for redaction."""
        value = self.secrets(name)
        self.redactor.add(value)
        return value

    def key_pair(self, name: str) -> KeyPair:
        pair = parse_key_pair(name, self.secret(name))
        self.redactor.add(pair.secret)
        self.redactor.add(pair.key)
        return pair


@dataclass(frozen=True)
class StepOutcome:
    """What a step function returns; timing and redaction are added by :func:`timed`."""

    status: ActionStatus
    detail: str
    data: Mapping[str, Any] = field(default_factory=dict)


def timed(
    ctx: ResponseContext, step: str, target: str, action: Callable[[], StepOutcome]
) -> ActionRecord:
    """Run one step, time it, and turn any exception into a FAILED record with the reason."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        outcome = action()
    except GarrisonError as exc:
        outcome = StepOutcome(ActionStatus.FAILED, str(exc))
    except Exception as exc:  # a step bug must not stop the playbook
        outcome = StepOutcome(ActionStatus.FAILED, f"{type(exc).__name__}: {exc}")
    duration = time.perf_counter() - t0
    return ActionRecord(
        step=step,
        target=target,
        status=outcome.status,
        started=started,
        duration_s=round(duration, 6),
        detail=ctx.redactor.text(outcome.detail),
        alert_id=ctx.alert_id,
        data=ctx.redactor.deep(dict(outcome.data)),
    )
