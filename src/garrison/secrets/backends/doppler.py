"""Doppler through its REST API (v3) with a service token; httpx, with timeouts.

Endpoints used (https://docs.doppler.com/reference):
  GET    /v3/configs/config/secret?project=&config=&name=   -> {"name", "value": {"raw", ...}}
  GET    /v3/configs/config/secrets/names?project=&config=  -> {"names": [...]}
  POST   /v3/configs/config/secrets  {"project", "config", "secrets": {NAME: value}}
  DELETE /v3/configs/config/secret?project=&config=&name=
Doppler secret names are upper-case; garrison upper-cases names for this backend.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from garrison.config.secrets import DopplerConfig
from garrison.errors import SecretError
from garrison.secrets.backends.interface import SecretBackend, SecretInfo, valid_name


class DopplerBackend(SecretBackend):
    """One Doppler project/config."""

    kind = "doppler"

    def __init__(self, config: DopplerConfig) -> None:
        self.config = config
        self._http: httpx.Client | None = None

    def describe(self) -> str:
        return f"doppler {self.config.api_url} {self.config.project}/{self.config.config}"

    def _token(self) -> str:
        cfg = self.config
        if cfg.token_file:
            try:
                token = Path(cfg.token_file).read_text().strip()
            except OSError as exc:
                raise SecretError(f"{cfg.token_file}: cannot read token: {exc.strerror}") from None
        else:
            token = os.environ.get(cfg.token_env, "")
        if not token:
            raise SecretError(f"doppler: no token ({cfg.token_file or '$' + cfg.token_env})")
        if not cfg.project or not cfg.config:
            raise SecretError("doppler: set [secrets.doppler].project and .config")
        return token

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                base_url=self.config.api_url,
                headers={"Authorization": f"Bearer {self._token()}", "Accept": "application/json"},
                timeout=self.config.timeout_s,
                verify=self.config.verify_tls,
            )
        return self._http

    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        where = f"doppler {self.config.api_url}"
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise SecretError(f"{where}: no answer within {self.config.timeout_s:g}s") from None
        except httpx.HTTPError as exc:
            raise SecretError(f"{where}: unreachable ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code in (401, 403):
            raise SecretError(f"{where}: {what}: token rejected (HTTP {response.status_code})")
        if response.status_code == 404:
            raise SecretError(f"{where}: {what}: not found")
        if response.status_code >= 400 or not isinstance(body, dict):
            messages = body.get("messages") if isinstance(body, dict) else None
            detail = f": {str(messages[0])[:200]}" if messages else ""
            raise SecretError(f"{where}: {what} failed (HTTP {response.status_code}){detail}")
        return body

    def _params(self, **extra: str) -> dict[str, str]:
        return {"project": self.config.project, "config": self.config.config, **extra}

    @staticmethod
    def _remote(name: str) -> str:
        return valid_name(name).upper().replace(".", "_").replace("-", "_")

    def get(self, name: str) -> bytearray:
        remote = self._remote(name)
        body = self._request(
            "GET", "/v3/configs/config/secret", f"read {name!r}", params=self._params(name=remote)
        )
        value = (body.get("value") or {}).get("raw")
        if not isinstance(value, str):
            raise SecretError(f"doppler: secret {name!r} has no value")
        out = bytearray(value.encode("utf-8"))
        body.clear()
        return out

    def put(self, name: str, value: bytes | bytearray) -> SecretInfo:
        remote = self._remote(name)
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise SecretError(f"doppler: secret {name!r} must be UTF-8 text") from None
        payload = {**self._params(), "secrets": {remote: text}}
        self._request("POST", "/v3/configs/config/secrets", f"write {name!r}", json=payload)
        return SecretInfo(remote)

    def info(self, name: str) -> SecretInfo:
        remote = self._remote(name)
        if remote not in self._names():
            raise SecretError(f"doppler: secret {name!r} not found")
        return SecretInfo(remote)

    def _names(self) -> list[str]:
        body = self._request(
            "GET", "/v3/configs/config/secrets/names", "list", params=self._params()
        )
        return sorted(str(n) for n in body.get("names") or [])

    def list(self) -> list[SecretInfo]:
        return [SecretInfo(n) for n in self._names() if not n.startswith("DOPPLER_")]

    def delete(self, name: str) -> None:
        remote = self._remote(name)
        self.info(name)
        self._request(
            "DELETE",
            "/v3/configs/config/secret",
            f"delete {name!r}",
            params=self._params(name=remote),
        )

    def ping(self) -> str:
        return f"{self.describe()}: {len(self.list())} secrets"

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        self._http = None
