"""A local Binance spot API (signature-checked) for ccxt's cancel path and apiRestrictions."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

from tests.respond.fakes.http_base import FakeServer

EXCHANGE_INFO = {
    "timezone": "UTC",
    "serverTime": 0,
    "rateLimits": [],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "status": "TRADING",
            "baseAsset": "BTC",
            "quoteAsset": "USDT",
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"],
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "permissions": ["SPOT"],
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "0.01",
                    "maxPrice": "1000000",
                    "tickSize": "0.01",
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": "0.00001",
                    "maxQty": "9000",
                    "stepSize": "0.00001",
                },
            ],
        }
    ],
}


class FakeBinance(FakeServer):
    def __init__(self, api_key: str, secret: str, *, withdrawals: bool = True) -> None:
        self.api_key, self.secret, self.withdrawals = api_key, secret, withdrawals
        self.open_orders = 2
        super().__init__(self.handle)

    def _signed(self, query: str, headers: dict[str, str]) -> bool:
        head, _, sig = query.rpartition("&signature=")
        want = hmac.new(self.secret.encode(), head.encode(), hashlib.sha256).hexdigest()
        return headers.get("x-mbx-apikey") == self.api_key and hmac.compare_digest(want, sig)

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        parts = urlsplit(path)
        if parts.path == "/api/v3/exchangeInfo":
            return 200, EXCHANGE_INFO
        if not self._signed(parts.query, headers):
            return 401, {"code": -1022, "msg": "Signature for this request is not valid."}
        if parts.path.startswith("/sapi/v1/margin/"):
            return 200, []
        if parts.path == "/sapi/v1/account/apiRestrictions":
            return 200, {
                "ipRestrict": False,
                "enableWithdrawals": self.withdrawals,
                "enableReading": True,
                "enableSpotAndMarginTrading": True,
            }
        if parts.path == "/api/v3/openOrders" and method == "DELETE":
            n, self.open_orders = self.open_orders, 0
            return 200, [
                {
                    "symbol": "BTCUSDT",
                    "orderId": i,
                    "clientOrderId": f"c{i}",
                    "price": "1",
                    "origQty": "1",
                    "executedQty": "0",
                    "status": "CANCELED",
                    "type": "LIMIT",
                    "side": "BUY",
                    "timeInForce": "GTC",
                }
                for i in range(n)
            ]
        return 404, {"code": -1, "msg": "not found"}
