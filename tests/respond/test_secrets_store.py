"""The broker step reads its keys through the real secrets store (age backend)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.respond.fakes.bybit import BybitKey, FakeBybit

from garrison.config.schema import Config
from garrison.model import ActionStatus
from garrison.respond.brokering import broker_all
from garrison.respond.context import ResponseContext
from garrison.respond.secret_access import store_reader


def test_bybit_lock_with_keys_from_the_age_store(
    cli: Callable[..., Any], make_config: Callable[..., Config], tmp_path: Path
) -> None:
    from garrison.secrets.store import open_store

    identity = tmp_path / "keys" / "age.key"
    identity.parent.mkdir()
    key = BybitKey("age-stored-CANARY-secret")
    with FakeBybit({"AGEKEY01": key}) as server:
        config = make_config(
            secrets={"age": {"identity_file": str(identity)}},
            respond={
                "accounts": [
                    {
                        "name": "by",
                        "exchange": "bybit",
                        "credential": "by_key",
                        "base_url": server.url,
                        "cancel_orders": False,
                    }
                ]
            },
        )
        toml = tmp_path / "g.toml"
        toml.write_text(
            f'[paths]\nstate_dir = "{config.paths.state_dir}"\n'
            f'[secrets.age]\nidentity_file = "{identity}"\n'
        )
        assert cli("-c", str(toml), "secrets", "init", "--identity-file", str(identity)).code == 0
        open_store(config).put("by_key", b"AGEKEY01:age-stored-CANARY-secret")
        records = broker_all(ResponseContext(config, store_reader(config)))
    assert [(r.step, r.status) for r in records] == [("broker.lock", ActionStatus.DONE)]
    assert key.read_only == 1
    assert "CANARY" not in repr(records)


def test_missing_secret_fails_the_step_naming_it(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config(
        secrets={"age": {"identity_file": str(tmp_path / "none.key")}},
        respond={
            "accounts": [
                {
                    "name": "by",
                    "exchange": "bybit",
                    "credential": "absent",
                    "base_url": "http://127.0.0.1:9",
                    "cancel_orders": False,
                }
            ]
        },
    )
    records = broker_all(ResponseContext(config, store_reader(config)))
    assert records[0].status == ActionStatus.FAILED and "absent" in records[0].detail
