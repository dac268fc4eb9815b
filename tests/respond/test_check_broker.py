"""GAR-BROKER-001 against local exchanges that answer with the key's real permissions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.respond.conftest import secrets_from
from tests.respond.fakes.binance import FakeBinance
from tests.respond.fakes.bybit import BybitKey, FakeBybit
from tests.respond.fakes.deribit import DeribitKey, FakeDeribit
from tests.respond.fakes.http_base import free_port

from garrison.checks.broker import NoWithdrawCapableKey
from garrison.config.schema import Config
from garrison.host.facts import Facts
from garrison.host.host import Host
from garrison.model import Status

SECRETS = {
    "by_w": "BYW:bybit-withdraw-CANARY",
    "by_ok": "BYOK:bybit-trade-only-CANARY",
    "dr": "DRC:deribit-CANARY-secret",
    "bn": "BNK:binance-CANARY-secret",
    "down": "DOWN:down-CANARY-secret",
}


def test_flags_withdraw_capable_keys_per_exchange(
    make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "garrison.respond.secret_access.store_reader", lambda _c: secrets_from(SECRETS)
    )
    keys = {
        "BYW": BybitKey("bybit-withdraw-CANARY"),
        "BYOK": BybitKey("bybit-trade-only-CANARY", wallet=["AccountTransfer"]),
    }
    with (
        FakeBybit(keys) as bybit,
        FakeDeribit({"DRC": DeribitKey(1, "deribit-CANARY-secret")}) as deribit,
        FakeBinance("BNK", "binance-CANARY-secret", withdrawals=False) as binance,
    ):
        config = make_config(
            respond={
                "accounts": [
                    {
                        "name": "by-withdraw",
                        "exchange": "bybit",
                        "credential": "by_w",
                        "base_url": bybit.url,
                    },
                    {
                        "name": "by-trade",
                        "exchange": "bybit",
                        "credential": "by_ok",
                        "base_url": bybit.url,
                    },
                    {
                        "name": "deribit",
                        "exchange": "deribit",
                        "credential": "dr",
                        "base_url": deribit.url,
                    },
                    {
                        "name": "binance",
                        "exchange": "binance",
                        "credential": "bn",
                        "base_url": binance.url,
                    },
                    {"name": "okx", "exchange": "okx", "credential": "bn"},
                    {
                        "name": "down",
                        "exchange": "bybit",
                        "credential": "down",
                        "base_url": f"http://127.0.0.1:{free_port()}",
                    },
                ]
            }
        )
        findings = {f.subject: f for f in NoWithdrawCapableKey().run(Facts(Host("/"), config))}
    assert findings["by-withdraw"].status == Status.FAIL
    assert "Withdraw" in findings["by-withdraw"].evidence[0].observed
    assert findings["by-trade"].status == Status.PASS
    assert findings["deribit"].status == Status.FAIL  # wallet:read_write in its scope
    assert findings["binance"].status == Status.PASS
    assert findings["okx"].status == Status.MANUAL
    assert findings["down"].status == Status.WARN and "unreachable" in findings["down"].message
    text = repr(list(findings.values()))
    assert "CANARY" not in text


def test_skips_without_accounts(make_config: Callable[..., Config]) -> None:
    findings = list(NoWithdrawCapableKey().run(Facts(Host("/"), make_config())))
    assert [f.status for f in findings] == [Status.SKIP]
