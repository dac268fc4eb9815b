"""Building blocks: zeroing, TTL expiry, the JSON payload, sealed memfds, config validation."""

from __future__ import annotations

import fcntl
import json
import os
import threading

import pytest
from tests.secrets.secrets_support import CANARY_KEY

from garrison.config.loader import validate_config
from garrison.errors import ConfigError, SecretError
from garrison.secrets import fdpass
from garrison.secrets.memory import HeldSecrets, redact, wipe
from garrison.secrets.payload import build_payload, env_assignments


def test_wipe_overwrites_before_clearing() -> None:
    value = bytearray(b"secret-bytes-here")
    seen: list[bytes] = []
    original_clear = bytearray.clear

    class Spy(bytearray):
        def clear(self) -> None:
            seen.append(bytes(self))
            original_clear(self)

    spy = Spy(value)
    wipe(spy)
    assert seen == [bytes(len(value))]


def test_held_secrets_are_wiped_when_the_ttl_expires() -> None:
    value = bytearray(CANARY_KEY.encode())
    holder = HeldSecrets({"k": value}, ttl_s=0.05)
    done = threading.Event()
    for _ in range(200):
        if holder.expired:
            done.set()
            break
        done.wait(0.05)
    assert done.is_set() and value == bytearray()
    assert holder.values == {}


def test_redact_shows_prefix_and_length_only() -> None:
    assert redact(CANARY_KEY) == f"{CANARY_KEY[:4]}…<redacted, 64 chars>"
    assert redact("short") == "<redacted, 5 chars>"


def test_payload_nests_fields_and_escapes() -> None:
    values = {"k": bytearray(b'we"ird\\val\nue'), "s": bytearray(b"plain")}
    payload = build_payload(values, {"exchange.key": "k", "exchange.secret": "s"})
    assert json.loads(bytes(payload)) == {"exchange": {"key": 'we"ird\\val\nue', "secret": "plain"}}
    flat = build_payload(values, {})
    assert json.loads(bytes(flat)) == {"k": 'we"ird\\val\nue', "s": "plain"}
    env = env_assignments(values, {"exchange.key": "k"}, "FREQTRADE__")
    assert list(env) == [b"FREQTRADE__EXCHANGE__KEY"]


def test_payload_refuses_binary_values() -> None:
    with pytest.raises(SecretError, match="not UTF-8"):
        build_payload({"k": bytearray(b"\xff\xfe")}, {})


def test_sealed_memfd_cannot_be_changed() -> None:
    fd = fdpass.sealed_memfd_from(bytearray(b"payload"))
    try:
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        assert seals & fcntl.F_SEAL_WRITE and seals & fcntl.F_SEAL_SEAL
        with pytest.raises(PermissionError):
            os.write(fd, b"x")
        assert os.pread(fd, 100, 0) == b"payload"
    finally:
        os.close(fd)


def test_pipe_holds_the_payload_once() -> None:
    fd = fdpass.pipe_from(bytearray(b"payload"))
    try:
        assert os.read(fd, 100) == b"payload" and os.read(fd, 100) == b""
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"secrets": {"backend": "keepass"}}, "secrets.backend"),
        ({"secrets": {"rotation": {"default": "fortnightly"}}}, "cadence 'fortnightly'"),
        ({"secrets": {"rotation": {"cadence": {"k": "0d"}}}}, "must be positive"),
        ({"secrets": {"delivery": {"bot": {"mode": "tmpfile"}}}}, "secrets.delivery.bot.mode"),
        ({"secrets": {"delivery": {"bot": {"fields": {"exchange key": "k"}}}}}, "field path"),
        ({"secrets": {"rotation": {"restart_signal": "SIGNOPE"}}}, "unknown signal"),
        ({"secrets": {"vault": {"adress": "x"}}}, "did you mean 'address'"),
    ],
)
def test_bad_config_is_one_clear_line(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(data, "garrison.toml")
    assert message in str(err.value) and "\n" not in str(err.value)
