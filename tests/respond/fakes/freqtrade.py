"""A local freqtrade REST API: basic-auth login -> JWT, then the bot-control endpoints."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from tests.respond.fakes.http_base import FakeServer


class FakeFreqtrade(FakeServer):
    def __init__(self, username: str, password: str, *, legacy: bool = False) -> None:
        self.username, self.password, self.legacy = username, password, legacy
        self.tokens: set[str] = set()
        self.state = "running"
        self.entries_allowed = True
        self.open_trades = 2
        self.calls: list[str] = []
        super().__init__(self.handle)

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        auth = headers.get("authorization", "")
        if path == "/api/v1/token/login" and method == "POST":
            if not auth.startswith("Basic "):
                return 401, {"detail": "Unauthorized"}
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if (user, pw) != (self.username, self.password):
                return 401, {"detail": "Unauthorized"}
            token = secrets.token_hex(16)
            self.tokens.add(token)
            return 200, {"access_token": token, "refresh_token": secrets.token_hex(16)}
        if auth.removeprefix("Bearer ") not in self.tokens:
            return 401, {"detail": "Unauthorized"}
        self.calls.append(path)
        if path == ("/api/v1/stopbuy" if self.legacy else "/api/v1/stopentry"):
            self.entries_allowed = False
            return 200, {
                "status": "No more entries will occur from now. Run /reload_config to reset."
            }
        if path == ("/api/v1/forcesell" if self.legacy else "/api/v1/forceexit"):
            if json.loads(body or b"{}").get("tradeid") != "all":
                return 400, {"error": "tradeid"}
            self.open_trades = 0
            return 200, {"result": "Created exit orders for all open trades."}
        if path == "/api/v1/stop":
            self.state = "stopped"
            return 200, {"status": "stopping trader ..."}
        if path == "/api/v1/reload_config":
            self.entries_allowed = True
            return 200, {"status": "Reloading config ..."}
        if path == "/api/v1/start":
            self.state = "running"
            return 200, {"status": "starting trader ..."}
        return 404, {"detail": "Not Found"}
