"""Exchange adapters: :func:`adapter_for` picks the one for an account's exchange."""

from __future__ import annotations

from garrison.config.respond import ExchangeAccount
from garrison.respond.broker.base import BrokerAdapter, WithdrawState
from garrison.respond.context import ResponseContext


def adapter_for(ctx: ResponseContext, account: ExchangeAccount) -> BrokerAdapter:
    if account.exchange == "bybit":
        from garrison.respond.broker.bybit import BybitAdapter

        return BybitAdapter(ctx, account)
    if account.exchange == "deribit":
        from garrison.respond.broker.deribit import DeribitAdapter

        return DeribitAdapter(ctx, account)
    if account.exchange == "binance":
        from garrison.respond.broker.binance import BinanceAdapter

        return BinanceAdapter(ctx, account)
    from garrison.respond.broker.manual import ManualAdapter

    return ManualAdapter(ctx, account)


__all__ = ["BrokerAdapter", "WithdrawState", "adapter_for"]
