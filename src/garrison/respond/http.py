"""One shared HTTP client for all response calls.

Building an httpx client loads the CA bundle (tens of milliseconds); an incident must not pay
that per call, and keep-alive connections to the same exchange are reused across steps.
"""

from __future__ import annotations

import threading

import httpx

_lock = threading.Lock()
_client: httpx.Client | None = None


def shared_client() -> httpx.Client:
    """The process-wide client (thread-safe; timeouts are passed per request)."""
    global _client
    with _lock:
        if _client is None:
            _client = httpx.Client(
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16)
            )
        return _client
