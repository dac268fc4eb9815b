"""Facts: typed observations of the host, each collected once per run and shared by checks.

A collector is a plain function `(Host, Config) -> T`. `facts.get(collector)` runs it the first
time and returns the cached value (or re-raises the cached error) afterwards, so fifteen SSH
checks cost one `sshd -T`. Collectors live next to the area that needs them (host/collectors/).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from garrison.config.schema import Config
    from garrison.host.host import Host

T = TypeVar("T")
Collector = Callable[["Host", "Config"], T]


class Facts:
    """A per-run cache of collector results (values or the exception they raised)."""

    def __init__(self, host: Host, config: Config) -> None:
        self.host = host
        self.config = config
        self._values: dict[Callable[..., Any], Any] = {}
        self._errors: dict[Callable[..., Any], BaseException] = {}
        self._lock = threading.Lock()
        self._locks: dict[Callable[..., Any], threading.Lock] = {}

    def get(self, collector: Collector[T]) -> T:
        """The collector's result for this host, computed at most once."""
        with self._lock:
            lock = self._locks.setdefault(collector, threading.Lock())
        with lock:
            if collector in self._values:
                return self._values[collector]  # type: ignore[no-any-return]
            if collector in self._errors:
                raise self._errors[collector]
            try:
                value = collector(self.host, self.config)
            except Exception as exc:
                self._errors[collector] = exc
                raise
            self._values[collector] = value
            return value
