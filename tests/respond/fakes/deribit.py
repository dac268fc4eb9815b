"""A local Deribit JSON-RPC API that verifies client_signature auth and keeps key state."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from tests.respond.fakes.http_base import FakeServer


@dataclass
class DeribitKey:
    key_id: int
    secret: str
    max_scope: str = "account:read_write trade:read_write wallet:read_write block_trade:read"
    enabled: bool = True
    open_orders: int = 2
    sessions: list[str] = field(default_factory=list)


class FakeDeribit(FakeServer):
    def __init__(self, keys: dict[str, DeribitKey]) -> None:
        self.keys = keys
        self.tokens: dict[str, tuple[str, str]] = {}  # token -> (client_id, scope)
        super().__init__(self.handle)

    @staticmethod
    def _err(rid: Any, code: int, message: str) -> tuple[int, Any]:
        return 400, {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        if path == "/__reset":  # benchmarks: restore every key
            for key in self.keys.values():
                key.max_scope, key.enabled, key.open_orders = DeribitKey(0, "").max_scope, True, 2
            return 200, {"ok": True}
        req = json.loads(body or b"{}")
        rid, name, params = req.get("id"), req.get("method", ""), req.get("params", {})
        if path != f"/api/v2/{name}" or req.get("jsonrpc") != "2.0":
            return self._err(rid, -32600, "invalid_request")
        if name == "public/auth":
            key = self.keys.get(params.get("client_id", ""))
            if key is None or not key.enabled:
                return self._err(rid, 13004, "invalid_credentials")
            msg = f"{params.get('timestamp')}\n{params.get('nonce')}\n{params.get('data', '')}"
            want = hmac.new(key.secret.encode(), msg.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(want, str(params.get("signature", ""))):
                return self._err(rid, 13004, "invalid_credentials")
            token = secrets.token_hex(16)
            self.tokens[token] = (params["client_id"], key.max_scope)
            return 200, {
                "jsonrpc": "2.0",
                "id": rid,
                "result": {
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": secrets.token_hex(8),
                    "scope": key.max_scope,
                },
            }
        auth = headers.get("authorization", "")
        session = self.tokens.get(auth.removeprefix("Bearer "))
        if session is None:
            return self._err(rid, 13009, "unauthorized")
        client_id, scope = session
        me = self.keys[client_id]

        def has(part: str) -> bool:
            return part in scope.split()

        if name == "private/cancel_all":
            if not has("trade:read_write"):
                return self._err(rid, 13021, "forbidden")
            n, me.open_orders = me.open_orders, 0
            return 200, {"jsonrpc": "2.0", "id": rid, "result": n}
        if name == "private/list_api_keys":
            if not (has("account:read") or has("account:read_write")):
                return self._err(rid, 13021, "forbidden")
            return 200, {
                "jsonrpc": "2.0",
                "id": rid,
                "result": [
                    {
                        "id": k.key_id,
                        "client_id": cid,
                        "client_secret": k.secret,
                        "max_scope": k.max_scope,
                        "enabled": k.enabled,
                        "default": False,
                        "name": "",
                    }
                    for cid, k in self.keys.items()
                ],
            }
        if name in ("private/edit_api_key", "private/disable_api_key"):
            if not has("account:read_write"):
                return self._err(rid, 13021, "forbidden")
            target = next((k for k in self.keys.values() if k.key_id == params.get("id")), None)
            if target is None:
                return self._err(rid, 10004, "key not found")
            if name == "private/disable_api_key":
                target.enabled = False
            else:
                target.max_scope = str(params["max_scope"])
            return 200, {
                "jsonrpc": "2.0",
                "id": rid,
                "result": {
                    "id": target.key_id,
                    "max_scope": target.max_scope,
                    "enabled": target.enabled,
                    "client_secret": target.secret,
                },
            }
        return self._err(rid, -32601, "method_not_found")
