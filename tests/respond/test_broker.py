"""Bybit v5 and Deribit against local servers that verify signatures and keep key state."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.respond.conftest import secrets_from
from tests.respond.fakes.bybit import BybitKey, FakeBybit
from tests.respond.fakes.deribit import DeribitKey, FakeDeribit
from tests.respond.fakes.http_base import free_port

from garrison.config.schema import Config
from garrison.model import ActionStatus, to_jsonable
from garrison.respond.brokering import broker_all, plan_broker
from garrison.respond.context import ResponseContext

SUB_SECRET = "bybit-sub-secret-CANARY-7f3a9c"
MASTER_SECRET = "bybit-master-secret-CANARY-11aa"
DERIBIT_SECRET = "deribit-secret-CANARY-5e5e5e"


def _by_key(records: list, step: str, target: str):  # type: ignore[no-untyped-def]
    return next(r for r in records if r.step == step and r.target == target)


def _assert_no_canary(records: list) -> None:  # type: ignore[type-arg]
    text = json.dumps(to_jsonable(records))
    for canary in (SUB_SECRET, MASTER_SECRET, DERIBIT_SECRET, "SUBKEY0001", "DERIBITCID"):
        assert canary not in text


def test_bybit_self_lock_cancels_then_proves_read_only(make_config: Callable[..., Config]) -> None:
    key = BybitKey(SUB_SECRET)
    with FakeBybit({"SUBKEY0001": key}) as server:
        config = make_config(
            respond={
                "accounts": [
                    {
                        "name": "by",
                        "exchange": "bybit",
                        "credential": "by_key",
                        "base_url": server.url,
                    }
                ]
            }
        )
        ctx = ResponseContext(config, secrets_from({"by_key": f"SUBKEY0001:{SUB_SECRET}"}))
        records = broker_all(ctx)
    cancel = _by_key(records, "broker.cancel", "by")
    lock = _by_key(records, "broker.lock", "by")
    assert cancel.status == ActionStatus.DONE and cancel.data["cancelled"] == 4
    assert lock.status == ActionStatus.DONE and "query-api readOnly=1" in lock.detail
    assert key.read_only == 1 and not server.rejected
    # the cancel happened before the lock (a read-only key could not cancel)
    paths = [p.split("?")[0] for _, p, _, _ in server.requests]
    assert paths.index("/v5/order/cancel-all") < paths.index("/v5/user/update-api")
    _assert_no_canary(records)


def test_bybit_master_key_locks_the_sub_key(make_config: Callable[..., Config]) -> None:
    sub = BybitKey(SUB_SECRET, can_modify_self=False)
    with FakeBybit({"SUBKEY0001": sub, "MASTER01": BybitKey(MASTER_SECRET, is_master=True)}) as srv:
        config = make_config(
            respond={
                "accounts": [
                    {
                        "name": "by",
                        "exchange": "bybit",
                        "credential": "sub",
                        "master_credential": "master",
                        "base_url": srv.url,
                        "cancel_orders": False,
                    }
                ]
            }
        )
        ctx = ResponseContext(
            config,
            secrets_from(
                {"sub": f"SUBKEY0001:{SUB_SECRET}", "master": f"MASTER01:{MASTER_SECRET}"}
            ),
        )
        records = broker_all(ctx)
    lock = _by_key(records, "broker.lock", "by")
    assert lock.status == ActionStatus.DONE and "update-sub-api" in lock.detail
    assert sub.read_only == 1
    _assert_no_canary(records)


def test_bybit_key_without_permission_fails_with_manual_step(
    make_config: Callable[..., Config],
) -> None:
    key = BybitKey(SUB_SECRET, can_modify_self=False)
    with FakeBybit({"SUBKEY0001": key}) as server:
        config = make_config(
            respond={
                "accounts": [
                    {"name": "by", "exchange": "bybit", "credential": "k", "base_url": server.url}
                ]
            }
        )
        records = broker_all(
            ResponseContext(config, secrets_from({"k": f"SUBKEY0001:{SUB_SECRET}"}))
        )
    lock = _by_key(records, "broker.lock", "by")
    assert lock.status == ActionStatus.FAILED
    assert "10005" in lock.detail and "api-management" in lock.data["link"]
    assert _by_key(records, "broker.cancel", "by").status == ActionStatus.DONE  # rest ran
    assert key.read_only == 0


def test_bybit_wrong_signature_is_rejected(make_config: Callable[..., Config]) -> None:
    with FakeBybit({"SUBKEY0001": BybitKey(SUB_SECRET)}) as server:
        config = make_config(
            respond={
                "accounts": [
                    {"name": "by", "exchange": "bybit", "credential": "k", "base_url": server.url}
                ]
            }
        )
        records = broker_all(
            ResponseContext(config, secrets_from({"k": "SUBKEY0001:wrong-secret"}))
        )
    assert all(r.status == ActionStatus.FAILED for r in records)
    assert "10004" in _by_key(records, "broker.cancel", "by").detail
    assert "wrong-secret" not in json.dumps(to_jsonable(records))


def test_exchange_unreachable_fails_fast_and_names_it(make_config: Callable[..., Config]) -> None:
    config = make_config(
        respond={
            "accounts": [
                {
                    "name": "by",
                    "exchange": "bybit",
                    "credential": "k",
                    "base_url": f"http://127.0.0.1:{free_port()}",
                }
            ]
        }
    )
    records = broker_all(ResponseContext(config, secrets_from({"k": f"SUBKEY0001:{SUB_SECRET}"})))
    assert {r.status for r in records} == {ActionStatus.FAILED}
    assert "unreachable" in _by_key(records, "broker.cancel", "by").detail


def test_deribit_read_only_lock_proven_by_list_api_keys(make_config: Callable[..., Config]) -> None:
    key = DeribitKey(7, DERIBIT_SECRET)
    with FakeDeribit({"DERIBITCID": key}) as server:
        config = make_config(
            respond={
                "accounts": [
                    {"name": "dr", "exchange": "deribit", "credential": "d", "base_url": server.url}
                ]
            }
        )
        records = broker_all(
            ResponseContext(config, secrets_from({"d": f"DERIBITCID:{DERIBIT_SECRET}"}))
        )
    assert _by_key(records, "broker.cancel", "dr").data["cancelled"] == 2
    lock = _by_key(records, "broker.lock", "dr")
    assert lock.status == ActionStatus.DONE, lock.detail
    assert "read_write" not in lock.data["max_scope"] and "read_write" not in key.max_scope
    _assert_no_canary(records)


def test_deribit_disable_and_key_lacking_account_scope(make_config: Callable[..., Config]) -> None:
    weak = DeribitKey(8, DERIBIT_SECRET, max_scope="account:read trade:read_write wallet:read")
    strong = DeribitKey(9, DERIBIT_SECRET + "x")
    with FakeDeribit({"DERIBITCID": weak, "OTHER": strong}) as server:
        config = make_config(
            respond={
                "accounts": [
                    {
                        "name": "weak",
                        "exchange": "deribit",
                        "credential": "w",
                        "base_url": server.url,
                        "cancel_orders": False,
                    },
                ]
            }
        )
        secrets = secrets_from({"w": f"DERIBITCID:{DERIBIT_SECRET}"})
        records = broker_all(ResponseContext(config, secrets))
        lock = _by_key(records, "broker.lock", "weak")
        assert lock.status == ActionStatus.FAILED and "13021" in lock.detail
        config = make_config(
            respond={
                "accounts": [
                    {
                        "name": "weak",
                        "exchange": "deribit",
                        "credential": "w",
                        "master_credential": "m",
                        "base_url": server.url,
                        "cancel_orders": False,
                        "lock": "disable",
                    }
                ]
            }
        )
        secrets = secrets_from(
            {"w": f"DERIBITCID:{DERIBIT_SECRET}", "m": f"OTHER:{DERIBIT_SECRET}x"}
        )
        records = broker_all(ResponseContext(config, secrets))
    lock = _by_key(records, "broker.lock", "weak")
    assert lock.status == ActionStatus.DONE and "enabled=false" in lock.detail
    assert weak.enabled is False


def test_exchanges_without_lock_api_are_pending_with_link(
    make_config: Callable[..., Config],
) -> None:
    config = make_config(
        respond={
            "accounts": [
                {"name": "bn", "exchange": "binance", "cancel_orders": False},
                {"name": "mt", "exchange": "mt5"},
            ]
        }
    )
    ctx = ResponseContext(config, secrets_from({}))
    records = broker_all(ctx)
    bn = _by_key(records, "broker.lock", "bn")
    assert (
        bn.status == ActionStatus.PENDING
        and "binance.com/en/my/settings/api-management" in bn.detail
    )
    assert _by_key(records, "broker.cancel", "mt").status == ActionStatus.PENDING
    plan = plan_broker(ctx)
    assert {(r.step, r.target) for r in plan} == {
        ("broker.lock", "bn"),
        ("broker.cancel", "mt"),
        ("broker.lock", "mt"),
    }
    assert all(r.status == ActionStatus.DRY_RUN for r in plan)


def test_binance_orders_cancelled_through_ccxt_lock_pending(
    make_config: Callable[..., Config],
) -> None:
    from tests.respond.fakes.binance import FakeBinance

    with FakeBinance("BNKEY", "bn-secret-CANARY-42") as server:
        config = make_config(
            respond={
                "accounts": [
                    {
                        "name": "bn",
                        "exchange": "binance",
                        "credential": "b",
                        "base_url": server.url,
                        "symbols": ["BTC/USDT"],
                    }
                ]
            }
        )
        ctx = ResponseContext(config, secrets_from({"b": "BNKEY:bn-secret-CANARY-42"}))
        records = broker_all(ctx)
    cancel = _by_key(records, "broker.cancel", "bn")
    assert cancel.status == ActionStatus.DONE and cancel.data == {"cancelled": 2, "via": "ccxt"}
    assert server.open_orders == 0
    assert _by_key(records, "broker.lock", "bn").status == ActionStatus.PENDING
    assert "bn-secret-CANARY-42" not in json.dumps(to_jsonable(records))
