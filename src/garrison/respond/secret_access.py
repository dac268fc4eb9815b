"""Reading secrets for a response (broker keys, API passwords) through the secrets store.

The store is `garrison.secrets.store.open_store(config)` (built by the secrets area). Every value
read is registered with the incident's Redactor so it can never reach a record or a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from garrison.errors import GarrisonError, SecretError

if TYPE_CHECKING:
    from garrison.config.schema import Config

#: (secret name) -> value; raises SecretError when it cannot be read.
SecretReader = Callable[[str], bytearray]


def store_reader(config: Config) -> SecretReader:
    """A reader backed by the configured secrets store, opened on first use."""
    opened: list[object] = []

    def read(name: str) -> bytearray:
        try:
            from garrison.secrets.store import open_store  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise SecretError(f"secret {name!r}: the secrets store is not available") from None
        try:
            if not opened:
                opened.append(open_store(config))
            value = opened[0].get(name)  # type: ignore[attr-defined]
        except GarrisonError as exc:
            raise SecretError(f"secret {name!r}: {exc}") from None
        except Exception as exc:  # a backend bug must not leak a traceback (or a value)
            raise SecretError(f"secret {name!r}: {type(exc).__name__}") from None
        return bytearray(value)

    return read


@dataclass(frozen=True)
class KeyPair:
    """An exchange API key and its secret, from a secret whose value is 'KEY:SECRET'."""

    key: str
    secret: str

    def __repr__(self) -> str:  # never print the secret, even in a debugger or a traceback
        return f"KeyPair(key={self.key[:4]}***, secret=***)"


def parse_key_pair(name: str, raw: bytearray) -> KeyPair:
    """Split 'KEY:SECRET' (or 'KEY\\nSECRET'); the error names the secret, never its value."""
    text = raw.decode("utf-8", "replace").strip()
    for sep in (":", "\n"):
        key, found, secret = text.partition(sep)
        if found and key.strip() and secret.strip():
            return KeyPair(key.strip(), secret.strip())
    raise SecretError(f"secret {name!r}: expected 'API_KEY:API_SECRET'")
