"""A local Bybit v5 that verifies signatures exactly as Bybit does and keeps each key's state."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.respond.fakes.http_base import FakeServer


@dataclass
class BybitKey:
    secret: str
    is_master: bool = False
    read_only: int = 0
    can_modify_self: bool = True  # holds "Account Transfer"/"Sub Member Transfer"
    wallet: list[str] = field(default_factory=lambda: ["AccountTransfer", "Withdraw"])
    orders: dict[str, int] = field(default_factory=lambda: {"linear": 3, "spot": 1})


class FakeBybit(FakeServer):
    def __init__(self, keys: dict[str, BybitKey]) -> None:
        self.keys = keys
        self.rejected: list[str] = []
        super().__init__(self.handle)

    def _err(self, code: int, msg: str) -> tuple[int, Any]:
        self.rejected.append(f"{code} {msg}")
        return 200, {"retCode": code, "retMsg": msg, "result": {}, "time": int(time.time() * 1000)}

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        parts = urlsplit(path)
        if parts.path == "/__reset":  # benchmarks: unlock every key and restore its orders
            for key in self.keys.values():
                key.read_only, key.orders = 0, {"linear": 3, "spot": 1}
            return 200, {"ok": True}
        api_key = headers.get("x-bapi-api-key", "")
        ts = headers.get("x-bapi-timestamp", "")
        recv = headers.get("x-bapi-recv-window", "5000")
        sent = headers.get("x-bapi-sign", "")
        key = self.keys.get(api_key)
        if key is None:
            return self._err(10003, "API key is invalid.")
        if not ts.isdigit() or abs(int(ts) - time.time() * 1000) > int(recv):
            return self._err(10002, "invalid request, please check your server timestamp")
        payload = parts.query if method == "GET" else body.decode()
        want = hmac.new(
            key.secret.encode(), f"{ts}{api_key}{recv}{payload}".encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(want, sent):
            return self._err(10004, "error sign! origin_string[...]")
        data: dict[str, Any] = json.loads(body) if body else {}
        route = parts.path
        if route == "/v5/order/cancel-all":
            if key.read_only:
                return self._err(10005, "Permission denied, please check your API key permissions.")
            n = key.orders.pop(data.get("category", ""), 0)
            return 200, {
                "retCode": 0,
                "retMsg": "OK",
                "result": {
                    "list": [{"orderId": f"o{i}", "orderLinkId": ""} for i in range(n)],
                    "success": "1",
                },
            }
        if route == "/v5/user/update-sub-api":
            target = key
            if "apikey" in data:
                if not key.is_master:
                    return self._err(
                        10005, "Permission denied, please check your API key permissions."
                    )
                target = self.keys.get(data["apikey"]) or key
            elif not key.can_modify_self:
                return self._err(10005, "Permission denied, please check your API key permissions.")
            target.read_only = int(data.get("readOnly", target.read_only))
            return 200, {"retCode": 0, "retMsg": "", "result": {"readOnly": target.read_only}}
        if route == "/v5/user/update-api":
            if not key.can_modify_self:
                return self._err(10005, "Permission denied, please check your API key permissions.")
            key.read_only = int(data.get("readOnly", key.read_only))
            return 200, {"retCode": 0, "retMsg": "", "result": {"readOnly": key.read_only}}
        if route == "/v5/user/query-api":
            return 200, {
                "retCode": 0,
                "retMsg": "",
                "result": {
                    "id": "1",
                    "apiKey": api_key,
                    "readOnly": key.read_only,
                    "secret": "",
                    "permissions": {
                        "ContractTrade": ["Order", "Position"],
                        "Spot": ["SpotTrade"],
                        "Wallet": list(key.wallet),
                        "Options": [],
                        "Derivatives": [],
                    },
                    "isMaster": key.is_master,
                },
            }
        return 404, {"retCode": 404, "retMsg": "route not found"}
