"""Secret values in memory: bytearrays that are zeroed after use, and a TTL-bounded holder.

Python cannot promise that no other copy exists (a str from a JSON parser, a bytes from a
decryption library); garrison keeps its own copy in a bytearray, zeroes it as soon as it is
handed over, and never lets it outlive `ttl_s`.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


def wipe(buffer: bytearray) -> None:
    """Overwrite a bytearray with zeros in place (then empty it)."""
    if buffer:
        ctypes.memset((ctypes.c_char * len(buffer)).from_buffer(buffer), 0, len(buffer))
    buffer.clear()


def wipe_all(values: Mapping[str, bytearray]) -> None:
    for value in values.values():
        wipe(value)


def redact(value: bytes | bytearray | str) -> str:
    """A label that identifies a value without revealing it: first 4 chars and the length."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else value
    if len(text) <= 8:
        return f"<redacted, {len(text)} chars>"
    return f"{text[:4]}…<redacted, {len(text)} chars>"


class HeldSecrets:
    """Secret values garrison holds for at most `ttl_s` seconds; wiped on close or expiry."""

    def __init__(self, values: dict[str, bytearray], ttl_s: float) -> None:
        self._values = values
        self._lock = threading.Lock()
        self._timer = threading.Timer(ttl_s, self.close)
        self._timer.daemon = True
        self._timer.start()
        self.expired = False

    @property
    def values(self) -> Mapping[str, bytearray]:
        return self._values

    def close(self) -> None:
        """Zero every value and forget it (idempotent, thread-safe)."""
        with self._lock:
            wipe_all(self._values)
            self._values.clear()
            self.expired = True
        self._timer.cancel()


@contextmanager
def held(values: dict[str, bytearray], ttl_s: float) -> Iterator[HeldSecrets]:
    """Hold values for the duration of a with-block (and never longer than ttl_s)."""
    holder = HeldSecrets(values, ttl_s)
    try:
        yield holder
    finally:
        holder.close()
