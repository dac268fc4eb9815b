"""The Source interface: something that turns kernel or log activity into model.Event values."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from garrison.model import Event

#: How a source hands an event to the daemon (called on the event loop thread).
EmitEvent = Callable[[Event], None]


@dataclass(frozen=True)
class SourceStatus:
    """What `garrison guard --status` shows for one source."""

    name: str
    active: bool
    mechanism: str  # e.g. "fanotify FAN_MARK_FILESYSTEM", "inotify (fallback)"
    fallback: bool = False
    missing: tuple[str, ...] = ()  # kernel features or tools that were not available
    detail: dict[str, str] = field(default_factory=dict)


class SourceUnavailable(Exception):
    """The source cannot run here; str() names the missing feature."""


class Source(ABC):
    """One producer of events. start() registers readers on the loop; no polling loops."""

    name: str = "source"
    required: bool = False  # the config asked for exactly this mechanism: unavailable is fatal

    @abstractmethod
    def start(self, loop: asyncio.AbstractEventLoop, emit: EmitEvent) -> None:
        """Open kernel interfaces and register readers; raise SourceUnavailable if impossible."""

    @abstractmethod
    def stop(self) -> None:
        """Unregister readers, close descriptors, undo anything installed (audit rules...)."""

    @abstractmethod
    def status(self) -> SourceStatus:
        """The current state for the status file and metrics."""
