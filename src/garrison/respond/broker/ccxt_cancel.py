"""Cancel all open orders through ccxt (the optional `broker` extra, imported only here).

Uses cancel_all_orders where the exchange supports it, else fetch_open_orders + cancel_order.
`base_url` replaces every entry of ccxt's urls['api'] (tests and testnets).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from garrison.config.respond import ExchangeAccount
from garrison.errors import ResponseError
from garrison.model import ActionStatus
from garrison.respond.context import StepOutcome
from garrison.respond.secret_access import KeyPair

_PASSPHRASE_EXCHANGES = {"okx", "coinbase", "kucoin"}


def make_exchange(account: ExchangeAccount, pair: KeyPair) -> Any:
    try:
        import ccxt
    except ImportError:
        raise ResponseError("ccxt is missing: pip install 'garrison[broker]'") from None
    cls = getattr(ccxt, account.exchange, None)
    if cls is None:
        raise ResponseError(f"ccxt has no exchange {account.exchange!r}")
    options: dict[str, Any] = {
        "apiKey": pair.key,
        "secret": pair.secret,
        "timeout": int(account.timeout_s * 1000),
        "enableRateLimit": False,
    }
    if account.exchange in _PASSPHRASE_EXCHANGES and ":" in pair.secret:
        options["secret"], options["password"] = pair.secret.rsplit(":", 1)
    exchange = cls(options)
    if account.base_url:
        exchange.urls["api"] = _override(exchange.urls["api"], account.base_url.rstrip("/"))
        # offline test/testnet servers serve spot only; do not probe derivatives or currencies
        exchange.options["fetchMarkets"] = ["spot"]
        exchange.options["fetchCurrencies"] = False
        exchange.has["fetchCurrencies"] = False
    return exchange


def _override(urls: Any, base: str) -> Any:
    """Point every ccxt API URL at `base`, keeping each one's path (/api/v3, /sapi/v1...)."""
    if isinstance(urls, dict):
        return {k: _override(v, base) for k, v in urls.items()}
    if isinstance(urls, str) and "://" in urls:
        path = urlsplit(urls.replace("{hostname}", "host")).path
        return base + path
    return urls


def ccxt_cancel_all(account: ExchangeAccount, pair: KeyPair) -> StepOutcome:
    import ccxt

    exchange = make_exchange(account, pair)
    symbols: list[str | None] = list(account.symbols) or [None]
    cancelled = 0
    try:
        for symbol in symbols:
            if exchange.has.get("cancelAllOrders"):
                result = exchange.cancel_all_orders(symbol)
                cancelled += len(result) if isinstance(result, list) else 0
            else:
                for order in exchange.fetch_open_orders(symbol):
                    exchange.cancel_order(order["id"], order.get("symbol"))
                    cancelled += 1
    except ccxt.ArgumentsRequired:
        raise ResponseError(
            f"account {account.name}: {account.exchange} cancels per symbol: set `symbols`"
        ) from None
    except ccxt.AuthenticationError as exc:
        raise ResponseError(f"{account.exchange} refused the key: {_short(exc)}") from None
    except ccxt.NetworkError as exc:
        raise ResponseError(f"{account.exchange} unreachable: {_short(exc)}") from None
    except ccxt.BaseError as exc:
        raise ResponseError(f"{account.exchange}: {_short(exc)}") from None
    return StepOutcome(
        ActionStatus.DONE,
        f"cancelled {cancelled} open order(s) via ccxt {account.exchange}",
        {"cancelled": cancelled, "via": "ccxt"},
    )


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
