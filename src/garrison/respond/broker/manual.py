"""Exchanges with no API to lock a key: the exact manual step and where to do it.

These become PENDING records (and lines in the notification) until a human runs
`garrison respond ack INCIDENT broker.lock:ACCOUNT`.
"""

from __future__ import annotations

from dataclasses import dataclass

from garrison.config.respond import ExchangeAccount
from garrison.model import ActionStatus
from garrison.respond.broker.base import BrokerAdapter, WithdrawState
from garrison.respond.context import StepOutcome


@dataclass(frozen=True)
class ManualStep:
    text: str
    link: str


MANUAL_LOCK: dict[str, ManualStep] = {
    "bybit": ManualStep(
        "API Management -> Edit the key -> set 'Read-Only', save (or Delete the key)",
        "https://www.bybit.com/app/user/api-management",
    ),
    "deribit": ManualStep(
        "Account -> API -> edit the key's scopes to read-only, or disable it",
        "https://www.deribit.com/account/BTC/api",
    ),
    "binance": ManualStep(
        "API Management -> Edit restrictions: untick 'Enable Spot & Margin Trading' and every "
        "trading/withdrawal box, save (spot keys cannot be made read-only through the API); "
        "or Delete the key",
        "https://www.binance.com/en/my/settings/api-management",
    ),
    "okx": ManualStep(
        "Profile -> API keys -> Edit: keep only 'Read', save; or Delete the key",
        "https://www.okx.com/account/my-api",
    ),
    "kraken": ManualStep(
        "Settings -> API -> edit the key: untick every permission except Query, save; "
        "or Delete the key",
        "https://pro.kraken.com/app/settings/api",
    ),
    "coinbase": ManualStep(
        "Developer Platform -> API keys -> Delete (or re-create as View only) the key",
        "https://portal.cdp.coinbase.com/access/api",
    ),
    "oanda": ManualStep(
        "My Account -> Manage API Access -> Revoke the personal access token",
        "https://www.oanda.com/account/tpa/personal_token",
    ),
    "mt5": ManualStep(
        "Broker's client portal -> change the account's master (trading) password so the bot "
        "keeps only the investor (read-only) password; close the MT5 terminal session",
        "your broker's client portal (MT5 account settings)",
    ),
    "ctrader": ManualStep(
        "cTrader ID -> Open API applications -> revoke the application's access token",
        "https://openapi.ctrader.com/apps",
    ),
}

NO_CANCEL_API = {"oanda", "mt5", "ctrader"}

MANUAL_CANCEL: dict[str, ManualStep] = {
    "oanda": ManualStep(
        "Trade -> Orders -> cancel every pending order; close open trades",
        "https://trade.oanda.com",
    ),
    "mt5": ManualStep(
        "MT5 terminal -> Trade tab -> right-click -> cancel every pending order",
        "your MT5 terminal (or the broker's web terminal)",
    ),
    "ctrader": ManualStep("cTrader -> Orders -> Cancel all", "https://app.ctrader.com"),
}


def manual_lock(account: ExchangeAccount) -> ManualStep:
    step = MANUAL_LOCK[account.exchange]
    return ManualStep(step.text, account.dashboard_url or step.link)


def pending(step: ManualStep, account: ExchangeAccount, why: str) -> StepOutcome:
    return StepOutcome(
        ActionStatus.PENDING,
        f"{why}; by hand: {step.text} ({step.link})",
        {"manual_step": step.text, "link": step.link, "exchange": account.exchange},
    )


class ManualAdapter(BrokerAdapter):
    """Locking is manual; cancelling goes through ccxt where ccxt covers the exchange."""

    def plan(self) -> list[tuple[str, str]]:
        out = []
        if self.account.cancel_orders:
            how = (
                "manual: " + MANUAL_CANCEL[self.account.exchange].text
                if self.account.exchange in NO_CANCEL_API
                else "ccxt cancel all open orders"
            )
            out.append(("broker.cancel", how))
        if self.account.lock != "none":
            out.append(("broker.lock", "PENDING (no API): " + manual_lock(self.account).text))
        return out

    def cancel_orders(self) -> StepOutcome:
        if self.account.exchange in NO_CANCEL_API:
            return pending(
                MANUAL_CANCEL[self.account.exchange],
                self.account,
                f"{self.account.exchange} has no order API garrison drives",
            )
        from garrison.respond.broker.ccxt_cancel import ccxt_cancel_all

        return ccxt_cancel_all(self.account, self.trading_key())

    def lock_key(self) -> StepOutcome:
        return pending(
            manual_lock(self.account),
            self.account,
            f"{self.account.exchange} offers no API to make a key read-only",
        )

    def withdraw_state(self) -> WithdrawState:
        step = manual_lock(self.account)
        return WithdrawState(None, "no API to read the key's permissions", step.link)
