"""Binance: the key's restrictions (for the withdraw check); locking is manual (see manual.py).

GET /sapi/v1/account/apiRestrictions?timestamp=T&signature=S with header X-MBX-APIKEY,
S = hex(HMAC_SHA256(secret, query string)).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import httpx

from garrison.errors import ResponseError
from garrison.respond.broker.base import WithdrawState
from garrison.respond.broker.manual import ManualAdapter
from garrison.respond.http import shared_client

MAINNET = "https://api.binance.com"


class BinanceAdapter(ManualAdapter):
    """`exchange = "binance"`: ccxt cancel, manual lock, API-readable restrictions."""

    def withdraw_state(self) -> WithdrawState:
        pair = self.trading_key()
        query = urlencode({"timestamp": int(time.time() * 1000), "recvWindow": 5000})
        signature = hmac.new(pair.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        url = f"{(self.account.base_url or MAINNET).rstrip('/')}/sapi/v1/account/apiRestrictions"
        try:
            response = shared_client().get(
                f"{url}?{query}&signature={signature}",
                headers={"X-MBX-APIKEY": pair.key},
                timeout=self.account.timeout_s,
            )
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
            raise ResponseError(f"binance apiRestrictions: unreachable ({problem})") from None
        if response.status_code != 200:
            raise ResponseError(f"binance apiRestrictions: HTTP {response.status_code}")
        data = response.json()
        flag = bool(data.get("enableWithdrawals"))
        return WithdrawState(
            flag, f"enableWithdrawals = {str(flag).lower()}", "GET /sapi/v1/account/apiRestrictions"
        )
