"""Bybit v5: cancel-all, lock the key read-only, prove it with query-api.

Signing (Bybit v5, HMAC): sign = hex(HMAC_SHA256(secret, timestamp + api_key + recv_window +
payload)), payload = the query string for GET (as sent, unsorted) or the raw JSON body for
POST; headers X-BAPI-API-KEY, X-BAPI-TIMESTAMP (ms), X-BAPI-RECV-WINDOW, X-BAPI-SIGN.
Lock: POST /v5/user/update-sub-api {"apikey": SUB_KEY, "readOnly": 1} signed by a master key
from the secrets store, or POST /v5/user/update-api {"readOnly": 1} signed by the key itself
(it needs the permission to modify itself). Proof: GET /v5/user/query-api signed by the
trading key must answer readOnly = 1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from garrison.errors import ResponseError
from garrison.model import ActionStatus
from garrison.respond.broker.base import BrokerAdapter, WithdrawState
from garrison.respond.context import StepOutcome
from garrison.respond.http import shared_client
from garrison.respond.secret_access import KeyPair

MAINNET = "https://api.bybit.com"
RECV_WINDOW = "5000"


def sign(secret: str, timestamp: str, api_key: str, recv_window: str, payload: str) -> str:
    message = f"{timestamp}{api_key}{recv_window}{payload}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class BybitClient:
    """Signed calls to the Bybit v5 REST API with one key."""

    def __init__(self, base_url: str, pair: KeyPair, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.pair = pair
        self.timeout = timeout

    def _headers(self, payload: str) -> dict[str, str]:
        timestamp = str(int(time.time() * 1000))
        return {
            "X-BAPI-API-KEY": self.pair.key,
            "X-BAPI-TIMESTAMP": timestamp,
            "X-BAPI-RECV-WINDOW": RECV_WINDOW,
            "X-BAPI-SIGN": sign(self.pair.secret, timestamp, self.pair.key, RECV_WINDOW, payload),
            "Content-Type": "application/json",
        }

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        query = urlencode(params or {})
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        return self._send("GET", path, url, query, None)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raw = json.dumps(body, separators=(",", ":"))
        return self._send("POST", path, f"{self.base_url}{path}", raw, raw)

    def _send(
        self, method: str, path: str, url: str, payload: str, body: str | None
    ) -> dict[str, Any]:
        try:
            response = shared_client().request(
                method, url, headers=self._headers(payload), content=body, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise ResponseError(
                f"bybit {path}: unreachable ({type(exc).__name__}: {exc})"
            ) from None
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            raise ResponseError(f"bybit {path}: HTTP {response.status_code}, not JSON") from None
        code = answer.get("retCode")
        if code != 0:
            raise ResponseError(f"bybit {path}: refused, retCode {code} {answer.get('retMsg', '')}")
        result: dict[str, Any] = answer.get("result") or {}
        return result


class BybitAdapter(BrokerAdapter):
    """`exchange = "bybit"`."""

    def client(self, pair: KeyPair) -> BybitClient:
        return BybitClient(self.account.base_url or MAINNET, pair, self.account.timeout_s)

    def plan(self) -> list[tuple[str, str]]:
        out = []
        if self.account.cancel_orders:
            out.append(
                (
                    "broker.cancel",
                    "POST /v5/order/cancel-all for " + ", ".join(self.account.categories),
                )
            )
        if self.account.lock != "none":
            how = (
                "POST /v5/user/update-sub-api readOnly=1 (master key)"
                if self.account.master_credential
                else "POST /v5/user/update-api readOnly=1"
            )
            out.append(("broker.lock", how + ", then GET /v5/user/query-api to prove readOnly=1"))
        return out

    def cancel_orders(self) -> StepOutcome:
        client = self.client(self.trading_key())
        cancelled = 0
        calls = []
        for category in self.account.categories:
            coins: list[str | None] = (
                list(self.account.settle_coins) if category in ("linear", "inverse") else [None]
            )
            for coin in coins:
                body: dict[str, Any] = {"category": category}
                if coin:
                    body["settleCoin"] = coin
                result = client.post("/v5/order/cancel-all", body)
                cancelled += len(result.get("list") or [])
                calls.append(category + (f"/{coin}" if coin else ""))
        return StepOutcome(
            ActionStatus.DONE,
            f"cancelled {cancelled} open order(s) on bybit",
            {"cancelled": cancelled, "categories": calls},
        )

    def lock_key(self) -> StepOutcome:
        if self.account.lock == "none":
            return StepOutcome(ActionStatus.SKIPPED, "lock = none in the config")
        trading = self.trading_key()
        if self.account.master_credential:
            master = self.ctx.key_pair(self.account.master_credential)
            self.client(master).post(
                "/v5/user/update-sub-api", {"apikey": trading.key, "readOnly": 1}
            )
            via = "update-sub-api (master key)"
        else:
            self.client(trading).post("/v5/user/update-api", {"readOnly": 1})
            via = "update-api (the key itself)"
        info = self.client(trading).get("/v5/user/query-api")
        read_only = info.get("readOnly")
        if read_only != 1:
            raise ResponseError(f"bybit: {via} answered OK but query-api says readOnly={read_only}")
        return StepOutcome(
            ActionStatus.DONE,
            f"key is read-only: {via}; proven by query-api readOnly=1",
            {"readOnly": 1, "via": via, "permissions": info.get("permissions", {})},
        )

    def withdraw_state(self) -> WithdrawState:
        info = self.client(self.trading_key()).get("/v5/user/query-api")
        wallet = (info.get("permissions") or {}).get("Wallet") or []
        return WithdrawState(
            "Withdraw" in wallet,
            f"permissions.Wallet = {wallet}, readOnly = {info.get('readOnly')}",
            "GET /v5/user/query-api",
        )
