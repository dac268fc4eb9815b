"""freqtrade REST, Hummingbot MQTT (real mosquitto), docker/podman and systemctl stand-ins."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.respond.conftest import secrets_from
from tests.respond.fakes.freqtrade import FakeFreqtrade
from tests.respond.fakes.http_base import free_port

from garrison.config.schema import Config
from garrison.model import ActionStatus
from garrison.respond.context import ResponseContext
from garrison.respond.freezing import freeze_all, thaw_all

FT_PASSWORD = "ft-api-password-CANARY-0b0b"


def _strategy_record(records, name):  # type: ignore[no-untyped-def]
    return next(r for r in records if r.target == name)


@pytest.mark.parametrize("legacy", [False, True])
def test_freqtrade_stopentry_forceexit_stop_then_thaw(
    legacy: bool, make_config: Callable[..., Config]
) -> None:
    with FakeFreqtrade("garrison", FT_PASSWORD, legacy=legacy) as ft:
        config = make_config(
            strategies=[
                {
                    "name": "ft",
                    "freeze": {
                        "method": "freqtrade_api",
                        "url": ft.url,
                        "username": "garrison",
                        "password_secret": "ft_pw",
                        "forceexit": True,
                    },
                }
            ]
        )
        ctx = ResponseContext(config, secrets_from({"ft_pw": FT_PASSWORD}))
        record = _strategy_record(freeze_all(ctx, list(config.strategies), "t"), "ft")
        assert record.status == ActionStatus.DONE, record.detail
        assert record.data["calls"] == ["stopentry", "forceexit", "stop"]
        assert (ft.state, ft.entries_allowed, ft.open_trades) == ("stopped", False, 0)
        stop_calls = [c for c in ft.calls if c.endswith(("stop", "stopentry", "stopbuy"))]
        assert stop_calls[-1] == "/api/v1/stop"  # stop comes after entries were stopped
        thawed = _strategy_record(thaw_all(ctx, list(config.strategies), release=True), "ft")
        assert thawed.status == ActionStatus.DONE
        assert (ft.state, ft.entries_allowed) == ("running", True)
    assert FT_PASSWORD not in json.dumps([record.detail, thawed.detail])


def test_freqtrade_wrong_password_and_api_down(make_config: Callable[..., Config]) -> None:
    with FakeFreqtrade("garrison", FT_PASSWORD) as ft:
        config = make_config(
            strategies=[
                {
                    "name": "wrong",
                    "freeze": {
                        "method": "freqtrade_api",
                        "url": ft.url,
                        "username": "garrison",
                        "password_secret": "bad",
                    },
                },
                {
                    "name": "down",
                    "freeze": {
                        "method": "freqtrade_api",
                        "url": f"http://127.0.0.1:{free_port()}",
                        "username": "garrison",
                        "password_secret": "bad",
                    },
                },
            ]
        )
        ctx = ResponseContext(config, secrets_from({"bad": "not-the-password"}))
        records = freeze_all(ctx, list(config.strategies), "t")
        assert ft.state == "running"
    wrong, down = _strategy_record(records, "wrong"), _strategy_record(records, "down")
    assert wrong.status == ActionStatus.FAILED and "login refused: HTTP 401" in wrong.detail
    assert down.status == ActionStatus.FAILED and "ConnectError" in down.detail


# -- Hummingbot over a real mosquitto broker ------------------------------------------------------
@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto not installed (make test installs it)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _fake_hummingbot(
    port: int, instance: str, got: list[dict[str, object]], ready: threading.Event
) -> None:
    """A bot stand-in speaking the commlib RPC shape of Hummingbot's MQTT bridge."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"hbot-{instance}")

    def on_message(c, _u, msg):  # type: ignore[no-untyped-def]
        request = json.loads(msg.payload)
        got.append({"topic": msg.topic, **request})
        c.publish(request["header"]["reply_to"], json.dumps({"data": {"status": 200, "msg": ""}}))

    client.on_message = on_message
    client.on_subscribe = lambda *a: ready.set()
    client.connect("127.0.0.1", port)
    client.subscribe(f"hbot/{instance}/+", qos=1)
    client.loop_start()
    got.append({"client": client})  # type: ignore[dict-item]


def test_hummingbot_stop_and_start_over_mqtt(
    mosquitto: int, make_config: Callable[..., Config]
) -> None:
    got: list[dict[str, object]] = []
    ready = threading.Event()
    _fake_hummingbot(mosquitto, "hb1", got, ready)
    assert ready.wait(10)
    config = make_config(
        strategies=[
            {
                "name": "hb",
                "freeze": {
                    "method": "hummingbot_mqtt",
                    "mqtt_port": mosquitto,
                    "instance_id": "hb1",
                },
            }
        ]
    )
    ctx = ResponseContext(config, secrets_from({}))
    frozen = _strategy_record(freeze_all(ctx, list(config.strategies), "t"), "hb")
    thawed = _strategy_record(thaw_all(ctx, list(config.strategies), release=True), "hb")
    client = got.pop(0)["client"]
    client.loop_stop()  # type: ignore[attr-defined]
    client.disconnect()  # type: ignore[attr-defined]
    assert frozen.status == ActionStatus.DONE and thawed.status == ActionStatus.DONE
    assert [g["topic"] for g in got] == ["hbot/hb1/stop", "hbot/hb1/start"]
    assert got[0]["data"] == {"skip_order_cancellation": False, "async_backend": False}


def test_hummingbot_no_reply_and_broker_down(
    mosquitto: int, make_config: Callable[..., Config]
) -> None:
    config = make_config(
        strategies=[
            {
                "name": "silent",
                "freeze": {"method": "hummingbot_mqtt", "mqtt_port": mosquitto, "timeout_s": 0.5},
            },
            {"name": "nobroker", "freeze": {"method": "hummingbot_mqtt", "mqtt_port": free_port()}},
        ]
    )
    records = freeze_all(ResponseContext(config, secrets_from({})), list(config.strategies), "t")
    assert "no reply to stop" in _strategy_record(records, "silent").detail
    assert "refused" in _strategy_record(records, "nobroker").detail.lower()


# -- docker / podman / systemctl through stand-ins on PATH ------------------------------------------
def _stand_in(bin_dir: Path, name: str, log: Path, exit_code: int = 0) -> None:
    script = bin_dir / name
    script.write_text(
        f'#!/bin/sh\necho "{name} $*" >> {log}\n'
        f"[ {exit_code} -ne 0 ] && echo 'Error: No such container: x' >&2\n"
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_container_and_systemd_methods_call_their_cli(
    tmp_path: Path, make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    _stand_in(bin_dir, "podman", log)
    _stand_in(bin_dir, "systemctl", log)
    _stand_in(bin_dir, "docker", log, exit_code=1)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = make_config(
        strategies=[
            {"name": "pod", "freeze": {"method": "podman", "container": "bot-pod"}},
            {"name": "svc", "unit": "mybot.service", "freeze": {"method": "systemd"}},
            {"name": "dock", "freeze": {"method": "docker", "container": "x"}},
        ]
    )
    ctx = ResponseContext(config, secrets_from({}))
    records = freeze_all(ctx, list(config.strategies), "t")
    thaw_all(ctx, [s for s in config.strategies if s.name != "dock"], release=True)
    calls = set(log.read_text().splitlines())
    assert {
        "podman pause bot-pod",
        "systemctl stop mybot.service",
        "docker pause x",
        "podman unpause bot-pod",
        "systemctl start mybot.service",
    } <= calls
    assert _strategy_record(records, "pod").status == ActionStatus.DONE
    dock = _strategy_record(records, "dock")
    assert dock.status == ActionStatus.FAILED and "No such container" in dock.detail


def test_missing_container_cli_is_failed(
    tmp_path: Path, make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    config = make_config(
        strategies=[{"name": "p", "freeze": {"method": "podman", "container": "c"}}]
    )
    record = _strategy_record(
        freeze_all(ResponseContext(config, secrets_from({})), list(config.strategies), "t"), "p"
    )
    assert record.status == ActionStatus.FAILED and "podman CLI not found" in record.detail
