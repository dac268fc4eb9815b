"""The default backend: a local store of age-encrypted files (pyrage, X25519).

Layout under the store directory (only ciphertext and public data on the data disk):

    recipient.txt          the public key; `put` needs only this
    identity.age           the private key, encrypted with a passphrase (when no identity_file)
    <name>/000003.age      one file per secret version

The private key is either an identity file kept off the data disk ([secrets.age].identity_file,
e.g. on /run or removable media) or identity.age unlocked with a passphrase (from the env var,
an inherited fd, or a no-echo prompt).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from garrison.config.secrets import AgeStoreConfig
from garrison.errors import SecretError
from garrison.secrets.backends.interface import SecretBackend, SecretInfo, valid_name
from garrison.secrets.backends.versioned_files import VersionedFiles, write_atomic

AGE_HEADER = b"age-encryption.org/v1\n"
PassphraseSource = Callable[[], str]


def _pyrage() -> Any:
    try:
        import pyrage
    except ImportError:
        raise SecretError("the age backend needs pyrage: pip install pyrage") from None
    return pyrage


def read_passphrase(config: AgeStoreConfig, prompt: PassphraseSource | None) -> str:
    """The store passphrase from [secrets.age].passphrase_fd, its env var, or the prompt."""
    if config.passphrase_fd is not None:
        try:
            with os.fdopen(os.dup(config.passphrase_fd), "rb") as handle:
                data = handle.readline(4096)
        except OSError as exc:
            raise SecretError(f"passphrase fd {config.passphrase_fd}: {exc.strerror}") from None
        return data.rstrip(b"\r\n").decode("utf-8", "replace")
    value = os.environ.get(config.passphrase_env)
    if value:
        return value
    if prompt is not None:
        return prompt()
    raise SecretError(
        f"age store: no identity_file and no passphrase (set ${config.passphrase_env} "
        "or run from a terminal)"
    )


class AgeStore(SecretBackend):
    """Secrets as age files; reads need the identity, writes only the public recipient."""

    kind = "age"

    def __init__(
        self, config: AgeStoreConfig, store_dir: Path, prompt: PassphraseSource | None = None
    ) -> None:
        self.config = config
        self.store_dir = store_dir
        self.files = VersionedFiles(store_dir, "age", config.keep_versions)
        self._prompt = prompt
        self._identity: Any = None

    # -- keys ---------------------------------------------------------------------------
    @property
    def recipient_file(self) -> Path:
        return self.store_dir / "recipient.txt"

    def identity_path(self) -> Path:
        """[secrets.age].identity_file with $VARS expanded (e.g. $CREDENTIALS_DIRECTORY/age.key,
        where systemd's LoadCredentialEncrypted= puts it: a unit-private tmpfs)."""
        return Path(os.path.expandvars(self.config.identity_file or ""))

    @property
    def wrapped_identity_file(self) -> Path:
        return self.store_dir / "identity.age"

    def initialise(self, *, identity_out: Path | None = None) -> str:
        """Create a key pair; return the public recipient. Refuses to replace an existing one."""
        pyrage = _pyrage()
        if self.recipient_file.exists():
            raise SecretError(f"{self.store_dir}: age store already initialised")
        passphrase = ""
        if identity_out is None:  # ask before anything is created: a refusal leaves no trace
            passphrase = read_passphrase(self.config, self._prompt)
            if len(passphrase) < 8:
                raise SecretError("age store: passphrase must have at least 8 characters")
        elif identity_out.exists():
            raise SecretError(f"{identity_out}: exists, not overwritten")
        identity = pyrage.x25519.Identity.generate()
        secret = str(identity).encode() + b"\n"
        self.files.ensure_root()
        if identity_out is not None:
            try:
                identity_out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise SecretError(f"{identity_out.parent}: {exc.strerror}") from None
            write_atomic(identity_out, secret, 0o600)
        else:
            write_atomic(self.wrapped_identity_file, pyrage.passphrase.encrypt(secret, passphrase))
        recipient = str(identity.to_public())
        write_atomic(self.recipient_file, recipient.encode() + b"\n", 0o644)
        return recipient

    def _recipient(self) -> Any:
        pyrage = _pyrage()
        try:
            text = self.recipient_file.read_text().strip()
        except FileNotFoundError:
            raise SecretError(
                f"{self.store_dir}: age store not initialised (run `garrison secrets init`)"
            ) from None
        except OSError as exc:
            raise SecretError(f"{self.recipient_file}: {exc.strerror}") from None
        try:
            return pyrage.x25519.Recipient.from_str(text)
        except Exception:
            raise SecretError(f"{self.recipient_file}: not an age recipient") from None

    def _load_identity(self) -> Any:
        if self._identity is not None:
            return self._identity
        pyrage = _pyrage()
        if self.config.identity_file:
            path = self.identity_path()
            try:
                text = path.read_text()
            except FileNotFoundError:
                raise SecretError(f"{path}: age identity file not found") from None
            except OSError as exc:
                raise SecretError(f"{path}: cannot read identity: {exc.strerror}") from None
            label = str(path)
        else:
            try:
                blob = self.wrapped_identity_file.read_bytes()
            except FileNotFoundError:
                raise SecretError(
                    f"{self.store_dir}: no identity_file configured and no identity.age "
                    "(run `garrison secrets init`)"
                ) from None
            passphrase = read_passphrase(self.config, self._prompt)
            try:
                text = pyrage.passphrase.decrypt(blob, passphrase).decode("utf-8", "replace")
            except pyrage.DecryptError:
                raise SecretError(
                    f"{self.wrapped_identity_file}: wrong passphrase or corrupt identity"
                ) from None
            label = str(self.wrapped_identity_file)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("AGE-SECRET-KEY")]
        try:
            self._identity = pyrage.x25519.Identity.from_str(lines[0])
        except Exception:
            raise SecretError(f"{label}: not an age identity (AGE-SECRET-KEY-1...)") from None
        return self._identity

    # -- SecretBackend ------------------------------------------------------------------
    def describe(self) -> str:
        return f"age store {self.store_dir}"

    def get(self, name: str) -> bytearray:
        pyrage = _pyrage()
        version, blob = self.files.read_current(valid_name(name))
        where = f"{self.store_dir}/{name}/{version:06d}.age"
        if not blob.startswith(AGE_HEADER):
            raise SecretError(f"{where}: corrupt (not an age file)")
        identity = self._load_identity()
        try:
            plain = pyrage.decrypt(blob, [identity])
        except pyrage.DecryptError as exc:
            reason = "wrong identity" if "No matching keys" in str(exc) else "corrupt file"
            raise SecretError(f"{where}: cannot decrypt ({reason})") from None
        return bytearray(plain)

    def put(self, name: str, value: bytes | bytearray) -> SecretInfo:
        pyrage = _pyrage()
        valid_name(name)
        recipient = self._recipient()
        return self.files.add(name, lambda: pyrage.encrypt(bytes(value), [recipient]))

    def info(self, name: str) -> SecretInfo:
        return self.files.info(valid_name(name))

    def list(self) -> list[SecretInfo]:
        return self.files.list()

    def delete(self, name: str) -> None:
        self.files.delete(name)

    def ping(self) -> str:
        self._recipient()
        if self.config.identity_file and not self.identity_path().exists():
            raise SecretError(f"{self.identity_path()}: age identity file not found")
        return f"age store {self.store_dir}: {len(self.list())} secrets"

    def close(self) -> None:
        self._identity = None
