"""The interface every secret backend implements (age store, Vault/OpenBao, Doppler, ...)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from garrison.config.secrets import check_secret_name
from garrison.errors import SecretError


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown about a secret: never its value."""

    name: str
    version: int | None = None
    updated: datetime | None = None
    length: int | None = None


class SecretBackend(ABC):
    """A place secrets live. Values cross this boundary only as bytearrays."""

    #: short name shown to users ("age", "vault", "openbao", "doppler", "systemd-creds")
    kind: str = ""

    @abstractmethod
    def describe(self) -> str:
        """Where the secrets are (a path or an address; never a credential)."""

    @abstractmethod
    def get(self, name: str) -> bytearray:
        """The current value; SecretError (naming the secret, not its value) when unavailable."""

    @abstractmethod
    def put(self, name: str, value: bytes | bytearray) -> SecretInfo:
        """Store a new version and return its metadata."""

    @abstractmethod
    def info(self, name: str) -> SecretInfo:
        """Metadata of the current version; SecretError when the secret does not exist."""

    @abstractmethod
    def list(self) -> list[SecretInfo]:
        """Every secret's metadata, sorted by name."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove a secret with all its versions."""

    @abstractmethod
    def ping(self) -> str:
        """Check the backend can be used now; return one line of status or raise SecretError."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing
        """Release connections and forget credentials."""


def valid_name(name: str) -> str:
    """The name if it is a valid secret name; SecretError otherwise."""
    try:
        return check_secret_name(name)
    except ValueError as exc:
        raise SecretError(str(exc)) from None
