"""Freeze freqtrade through its REST API.

Order matters: POST /api/v1/stopentry first (no new entries; /stopbuy on versions before
2022.x), then optionally POST /api/v1/forceexit {"tradeid": "all"} (market-exit open trades),
then POST /api/v1/stop. /stop alone does NOT cancel open orders or close trades: that is what
stopentry/forceexit and the broker step are for. Thaw: /reload_config (undoes stopentry) and
/start. Login: POST /api/v1/token/login with HTTP basic auth returns a JWT access_token.
"""

from __future__ import annotations

from typing import Any

import httpx

from garrison.config.strategies import Strategy
from garrison.errors import ResponseError
from garrison.model import ActionStatus
from garrison.respond.context import StepOutcome
from garrison.respond.freeze.base import Freezer


class FreqtradeFreezer(Freezer):
    """`freeze.method = "freqtrade_api"` with url, username and password_secret."""

    def plan(self, strategy: Strategy) -> str:
        spec = strategy.freeze
        calls = ["stopentry", *(["forceexit all"] if spec.forceexit else []), "stop"]
        return f"freqtrade API {spec.url}: login, " + ", ".join(calls)

    def freeze(self, strategy: Strategy) -> StepOutcome:
        with self._session(strategy) as (client, headers):
            done = []
            response = self._post(client, "/api/v1/stopentry", headers)
            if response.status_code == 404:  # freqtrade before the entry/exit rename
                response = self._post(client, "/api/v1/stopbuy", headers)
            _ok(response, "stopentry")
            done.append("stopentry")
            if strategy.freeze.forceexit:
                response = self._post(client, "/api/v1/forceexit", headers, {"tradeid": "all"})
                if response.status_code == 404:
                    response = self._post(client, "/api/v1/forcesell", headers, {"tradeid": "all"})
                _ok(response, "forceexit")
                done.append("forceexit")
            _ok(self._post(client, "/api/v1/stop", headers), "stop")
            done.append("stop")
        return StepOutcome(ActionStatus.DONE, "freqtrade: " + ", ".join(done), {"calls": done})

    def thaw(self, strategy: Strategy) -> StepOutcome:
        with self._session(strategy) as (client, headers):
            _ok(self._post(client, "/api/v1/reload_config", headers), "reload_config")
            _ok(self._post(client, "/api/v1/start", headers), "start")
        return StepOutcome(ActionStatus.DONE, "freqtrade: reload_config, start", {})

    # -- plumbing ------------------------------------------------------------------------
    def _session(self, strategy: Strategy) -> _Session:
        spec = strategy.freeze
        password = self.ctx.secret(spec.password_secret or "")
        return _Session(spec.url or "", spec.username or "", password.decode(), spec.timeout_s)

    @staticmethod
    def _post(
        client: httpx.Client, path: str, headers: dict[str, str], body: Any = None
    ) -> httpx.Response:
        try:
            return client.post(path, headers=headers, json=body)
        except httpx.HTTPError as exc:
            raise ResponseError(f"freqtrade API {path}: {type(exc).__name__}: {exc}") from None


class _Session:
    """A logged-in client: yields (client, auth headers)."""

    def __init__(self, url: str, username: str, password: str, timeout: float) -> None:
        self.client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self.username = username
        self.password = password

    def __enter__(self) -> tuple[httpx.Client, dict[str, str]]:
        try:
            response = self.client.post("/api/v1/token/login", auth=(self.username, self.password))
        except httpx.HTTPError as exc:
            self.client.close()
            raise ResponseError(f"freqtrade API login: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            self.client.close()
            raise ResponseError(f"freqtrade API login refused: HTTP {response.status_code}")
        token = response.json().get("access_token")
        if not token:
            self.client.close()
            raise ResponseError("freqtrade API login: no access_token in the answer")
        return self.client, {"Authorization": f"Bearer {token}"}

    def __exit__(self, *exc: object) -> None:
        self.client.close()


def _ok(response: httpx.Response, what: str) -> None:
    if response.status_code != 200:
        raise ResponseError(f"freqtrade API {what}: HTTP {response.status_code}")
