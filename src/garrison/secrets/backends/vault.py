"""HashiCorp Vault and OpenBao (same API) through hvac: KV v2, token or AppRole auth.

Each secret is the KV v2 entry <mount>/<path_prefix>/<name> holding {"value": "..."}; every put
is a new KV version, which is what rotation records. A token or AppRole secret_id may be a
response-wrapping token: garrison unwraps it once (single use, short TTL), so a stolen copy of
the file is useless after start-up.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from garrison.config.secrets import VaultConfig
from garrison.errors import SecretError
from garrison.secrets.backends.interface import SecretBackend, SecretInfo, valid_name


def _hvac() -> Any:
    try:
        import hvac
    except ImportError:
        raise SecretError("the vault backend needs hvac: pip install 'garrison[vault]'") from None
    return hvac


def _read_small_file(path: str, what: str) -> str:
    try:
        return Path(path).read_text().strip()
    except FileNotFoundError:
        raise SecretError(f"{path}: {what} file not found") from None
    except OSError as exc:
        raise SecretError(f"{path}: cannot read {what}: {exc.strerror}") from None


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_time(text: object) -> datetime | None:
    """Vault's RFC 3339 times (nanosecond fractions, 'Z') as aware datetimes; None if absent."""
    match = _RFC3339.match(text) if isinstance(text, str) else None
    if not match:
        return None
    whole, fraction, zone = match.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    return datetime.fromisoformat(f"{whole}.{micro}{'+00:00' if zone == 'Z' else zone}")


class VaultBackend(SecretBackend):
    """KV v2 on Vault or OpenBao."""

    def __init__(self, config: VaultConfig, kind: str = "vault") -> None:
        self.config = config
        self.kind = kind
        self._client: Any = None

    # -- connection ---------------------------------------------------------------------
    def describe(self) -> str:
        return f"{self.kind} {self.config.address} kv:{self.config.mount}/{self.config.path_prefix}"

    def _new_client(self, token: str | None = None) -> Any:
        hvac = _hvac()
        verify: bool | str = self.config.ca_file or self.config.verify_tls
        return hvac.Client(
            url=self.config.address,
            token=token,
            verify=verify,
            timeout=self.config.timeout_s,
            namespace=self.config.namespace,
        )

    def _unwrap(self, wrapping_token: str, what: str) -> dict[str, Any]:
        """Unwrap a response-wrapped token; the response's data or auth section."""
        client = self._new_client(wrapping_token)
        result = self._call(lambda: client.sys.unwrap(), f"unwrap {what}")
        return dict(result.get("data") or result.get("auth") or {})

    def _login(self) -> Any:
        cfg = self.config
        if cfg.auth == "token":
            if cfg.token_file:
                token = _read_small_file(cfg.token_file, "token")
            else:
                token = os.environ.get(cfg.token_env, "")
            if not token:
                where = cfg.token_file or f"${cfg.token_env}"
                raise SecretError(f"{self.kind}: no token ({where} is empty or unset)")
            if cfg.token_wrapped:
                unwrapped = self._unwrap(token, "token")
                token = str(unwrapped.get("token") or unwrapped.get("client_token") or "")
                if not token:
                    raise SecretError(f"{self.kind}: the wrapped response holds no token")
            return self._new_client(token)
        role_id = cfg.role_id or (
            _read_small_file(cfg.role_id_file, "role_id") if cfg.role_id_file else ""
        )
        if not role_id or not cfg.secret_id_file:
            raise SecretError(f"{self.kind}: approle auth needs role_id and secret_id_file")
        secret_id = _read_small_file(cfg.secret_id_file, "secret_id")
        if cfg.secret_id_wrapped:
            secret_id = str(self._unwrap(secret_id, "secret_id").get("secret_id") or "")
            if not secret_id:
                raise SecretError(f"{self.kind}: the wrapped response holds no secret_id")
        client = self._new_client()
        self._call(
            lambda: client.auth.approle.login(
                role_id=role_id, secret_id=secret_id, mount_point=cfg.approle_mount
            ),
            "approle login",
        )
        return client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._login()
        return self._client

    def _call(self, func: Any, what: str, name: str = "") -> Any:
        """Run an hvac call; turn every failure into one SecretError line without values."""
        hvac = _hvac()
        import requests

        subject = f" {name!r}" if name else ""
        where = f"{self.kind} {self.config.address}"
        try:
            return func()
        except hvac.exceptions.VaultDown:
            raise SecretError(f"{where}: sealed or down ({what}{subject})") from None
        except hvac.exceptions.InvalidPath:
            raise SecretError(f"{where}: secret{subject} not found") from None
        except hvac.exceptions.Forbidden:
            raise SecretError(
                f"{where}: permission denied ({what}{subject}): token expired, revoked or "
                "lacking policy"
            ) from None
        except hvac.exceptions.Unauthorized:
            raise SecretError(f"{where}: unauthorized ({what}{subject})") from None
        except hvac.exceptions.InvalidRequest as exc:
            first = str(exc).splitlines()[0][:200] if str(exc) else "invalid request"
            if "wrapping token" in first:
                first = "wrapping token invalid, already used or expired"
            raise SecretError(f"{where}: {what}{subject} refused: {first}") from None
        except hvac.exceptions.VaultError as exc:
            raise SecretError(f"{where}: {what}{subject} failed ({type(exc).__name__})") from None
        except requests.exceptions.SSLError:
            raise SecretError(
                f"{where}: TLS verification failed (set [secrets.vault].ca_file)"
            ) from None
        except requests.exceptions.Timeout:
            raise SecretError(
                f"{where}: no answer within {self.config.timeout_s:g}s ({what})"
            ) from None
        except requests.exceptions.ConnectionError:
            raise SecretError(f"{where}: unreachable ({what})") from None

    def _path(self, name: str) -> str:
        prefix = self.config.path_prefix.strip("/")
        return f"{prefix}/{valid_name(name)}" if prefix else valid_name(name)

    @property
    def _kv(self) -> Any:
        return self.client.secrets.kv.v2

    # -- SecretBackend ------------------------------------------------------------------
    def get(self, name: str) -> bytearray:
        return self.get_version(name)[1]

    def get_version(self, name: str, version: int | None = None) -> tuple[int, bytearray]:
        """(version, value) of the current or a given KV version."""
        kv = self._kv
        response = self._call(
            lambda: kv.read_secret_version(
                path=self._path(name),
                version=version,
                mount_point=self.config.mount,
                raise_on_deleted_version=True,
            ),
            "read",
            name,
        )
        data = response.get("data") or {}
        payload = data.get("data") or {}
        if "value" not in payload:
            raise SecretError(f"{self.kind}: secret {name!r} has no 'value' key")
        value = bytearray(str(payload["value"]).encode("utf-8"))
        payload.clear()
        return int((data.get("metadata") or {}).get("version") or 0), value

    def put(self, name: str, value: bytes | bytearray) -> SecretInfo:
        kv = self._kv
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise SecretError(f"{self.kind}: secret {name!r} must be UTF-8 text") from None
        response = self._call(
            lambda: kv.create_or_update_secret(
                path=self._path(name), secret={"value": text}, mount_point=self.config.mount
            ),
            "write",
            name,
        )
        meta = response.get("data") or {}
        return SecretInfo(name, meta.get("version"), parse_time(meta.get("created_time")))

    def info(self, name: str) -> SecretInfo:
        kv = self._kv
        response = self._call(
            lambda: kv.read_secret_metadata(path=self._path(name), mount_point=self.config.mount),
            "read metadata",
            name,
        )
        meta = response.get("data") or {}
        version = meta.get("current_version")
        versions = meta.get("versions") or {}
        created = (versions.get(str(version)) or {}).get("created_time") or meta.get("updated_time")
        return SecretInfo(name, version, parse_time(created))

    def list(self) -> list[SecretInfo]:
        kv = self._kv
        try:
            response = self._call(
                lambda: kv.list_secrets(
                    path=self.config.path_prefix.strip("/"), mount_point=self.config.mount
                ),
                "list",
            )
        except SecretError as exc:
            if "not found" in str(exc):
                return []
            raise
        keys = sorted(
            k for k in (response.get("data") or {}).get("keys", []) if not k.endswith("/")
        )
        return [self.info(k) for k in keys]

    def delete(self, name: str) -> None:
        self.info(name)  # a clear "not found" instead of a silent no-op
        kv = self._kv
        self._call(
            lambda: kv.delete_metadata_and_all_versions(
                path=self._path(name), mount_point=self.config.mount
            ),
            "delete",
            name,
        )

    def ping(self) -> str:
        client = self._new_client()
        status = self._call(lambda: client.sys.read_health_status(method="GET"), "health")
        if hasattr(status, "json"):
            try:
                status = status.json()
            except ValueError:
                status = {}
        if isinstance(status, dict) and status.get("sealed"):
            raise SecretError(f"{self.kind} {self.config.address}: sealed")
        token_client = self.client
        self._call(lambda: token_client.auth.token.lookup_self(), "token lookup")
        return f"{self.describe()}: unsealed, token valid"

    def close(self) -> None:
        if self._client is not None:
            self._client.adapter.close()
        self._client = None
