"""Redaction: secret values, token-bearing URLs and env-like assignments never leave garrison."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

MASK = "***"

#: apprise schemes whose host part is a plain server we may show (tokens live elsewhere).
_HOST_SCHEMES = {
    "json",
    "jsons",
    "form",
    "forms",
    "xml",
    "xmls",
    "http",
    "https",
    "mailto",
    "mailtos",
    "ntfy",
    "ntfys",
    "gotify",
    "gotifys",
    "mqtt",
    "mqtts",
}

_SENSITIVE_NAME = r"[A-Za-z0-9_.-]*(?:key|secret|token|passw(?:or)?d|pwd|auth|credential|private)"
_ASSIGNMENT = re.compile(rf"(?i)\b({_SENSITIVE_NAME}[A-Za-z0-9_.-]*)(=|:\s*)(\S+)")
_FLAG = re.compile(rf"(?i)(--{_SENSITIVE_NAME}[A-Za-z0-9_-]*)(=|\s+)(\S+)")


def redact_url(url: str) -> str:
    """An apprise/HTTP URL with everything that may be a token replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    scheme = parts.scheme.lower()
    if not scheme:
        return MASK
    if scheme in _HOST_SCHEMES and parts.hostname:
        port = f":{parts.port}" if parts.port else ""
        return f"{scheme}://{parts.hostname}{port}/{MASK}"
    return f"{scheme}://{MASK}"


def redact_assignments(text: str) -> str:
    """Mask NAME=value and --name value where NAME looks like a key, secret, token or password."""
    text = _ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _FLAG.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


class Redactor:
    """Knows every secret value read during an incident and masks it in any text or structure.

    Thread-safe: freeze and broker steps register values from parallel threads.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        for value in values:
            self.add(value)

    def add(self, value: str | bytes | bytearray) -> None:
        """Remember a secret value (short values are ignored: they would mask ordinary text)."""
        text = value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else value
        text = text.strip()
        if len(text) >= 6:
            with self._lock:
                self._values.add(text)

    def text(self, text: str) -> str:
        """The text with every known secret value masked."""
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def deep(self, value: Any) -> Any:
        """Redact strings inside dicts, lists and tuples (for record data)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value
