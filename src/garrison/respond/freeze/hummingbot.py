"""Freeze Hummingbot through its MQTT bridge: publish the `stop` command and await the reply.

Hummingbot (>= 1.12, `mqtt_bridge` enabled in conf_client.yml) serves RPCs over MQTT via
commlib: the request goes to `<prefix>/<instance_id>/stop` as {"header": {"reply_to": T, ...},
"data": {"skip_order_cancellation": false, "async_backend": false}} and the bot answers on T
with {"data": {"status": 200, "msg": ""}}. Stop cancels the bot's open orders unless
skip_order_cancellation. Thaw publishes `start`. paho-mqtt is an optional extra (garrison[mqtt]).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from garrison.config.strategies import Strategy
from garrison.errors import ResponseError
from garrison.model import ActionStatus
from garrison.respond.context import StepOutcome
from garrison.respond.freeze.base import Freezer


class HummingbotFreezer(Freezer):
    """`freeze.method = "hummingbot_mqtt"`."""

    def plan(self, strategy: Strategy) -> str:
        spec = strategy.freeze
        return f"MQTT {spec.mqtt_host}:{spec.mqtt_port} publish {_topic(strategy, 'stop')}"

    def freeze(self, strategy: Strategy) -> StepOutcome:
        payload = {
            "skip_order_cancellation": strategy.freeze.skip_order_cancellation,
            "async_backend": False,
        }
        reply = rpc_call(strategy, "stop", payload)
        return StepOutcome(
            ActionStatus.DONE,
            f"hummingbot stop acknowledged: {reply.get('msg', '')}".strip(),
            {"topic": _topic(strategy, "stop")},
        )

    def thaw(self, strategy: Strategy) -> StepOutcome:
        reply = rpc_call(
            strategy,
            "start",
            {"log_level": None, "restore": False, "script": None, "is_quickstart": False},
        )
        return StepOutcome(
            ActionStatus.DONE,
            f"hummingbot start acknowledged: {reply.get('msg', '')}".strip(),
            {"topic": _topic(strategy, "start")},
        )


def _topic(strategy: Strategy, command: str) -> str:
    spec = strategy.freeze
    return f"{spec.mqtt_topic_prefix}/{spec.instance_id or strategy.name}/{command}"


def rpc_call(strategy: Strategy, command: str, data: dict[str, Any]) -> dict[str, Any]:
    """Publish a commlib-style RPC request and wait for the bot's reply (or time out)."""
    try:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
    except ImportError:
        raise ResponseError(
            "hummingbot_mqtt needs paho-mqtt: pip install 'garrison[mqtt]'"
        ) from None
    spec = strategy.freeze
    reply_to = f"{_topic(strategy, command)}/garrison-{uuid.uuid4().hex[:12]}"
    got: dict[str, Any] = {}
    subscribed = threading.Event()
    answered = threading.Event()

    def on_subscribe(*_args: Any) -> None:
        subscribed.set()

    def on_message(_client: Any, _userdata: Any, message: Any) -> None:
        try:
            body = json.loads(message.payload or b"{}")
        except ValueError:
            body = {}
        got.update(body.get("data", body) if isinstance(body, dict) else {})
        answered.set()

    client_id = f"garrison-{uuid.uuid4().hex[:8]}"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(spec.mqtt_host, spec.mqtt_port, keepalive=30)
    except OSError as exc:
        raise ResponseError(
            f"MQTT {spec.mqtt_host}:{spec.mqtt_port}: {exc.strerror or exc}"
        ) from None
    client.loop_start()
    try:
        deadline = time.monotonic() + spec.timeout_s
        client.subscribe(reply_to, qos=1)
        if not subscribed.wait(spec.timeout_s):
            raise ResponseError(f"MQTT {spec.mqtt_host}:{spec.mqtt_port}: subscribe timed out")
        request = {
            "header": {
                "reply_to": reply_to,
                "msg_id": uuid.uuid4().hex,
                "timestamp": int(time.time() * 1000),
            },
            "data": data,
        }
        client.publish(_topic(strategy, command), json.dumps(request), qos=1)
        if not answered.wait(max(0.0, deadline - time.monotonic())):
            raise ResponseError(
                f"hummingbot {strategy.name}: no reply to {command} within {spec.timeout_s:g}s "
                "(bot down or mqtt_bridge off?)"
            )
    finally:
        client.loop_stop()
        client.disconnect()
    status = got.get("status", 200)
    if status not in (200, "200"):
        raise ResponseError(f"hummingbot {strategy.name}: {command} failed: {got.get('msg', '')}")
    return got
