"""Responders: what the guard does with an alert. Plug-ins implement `Responder`.

Shipped: `log` (structured JSON line), `exec` (a command with the alert JSON on stdin) and
`respond` (garrison.respond.playbook.run_playbook, imported lazily).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from garrison.model import ActionRecord, Alert


class Responder(ABC):
    """start() once, handle() per alert (may be slow: run off the event loop), close() at exit."""

    name: str = "responder"

    def start(self) -> None:  # noqa: B027 - optional hook
        """Prepare (open connections, check tools)."""

    @abstractmethod
    def handle(self, alert: Alert) -> list[ActionRecord]:
        """Act on one alert; return what was done. Never raise for an expected failure."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


__all__ = ["Responder"]
