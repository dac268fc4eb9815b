"""Rotation: new versions (a given value or a newer OpenBao version), restart by signal,
records without values, and overdue secrets as audit findings."""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import CliResult
from tests.secrets.secrets_support import (
    CANARY_KEY,
    CANARY_SECRET,
    Bao,
    Env,
    assert_no_canary,
)

from garrison.config.loader import load_config
from garrison.secrets.rotation import RotationRecord, append_record, overdue
from garrison.secrets.store import open_store


def test_rotate_with_value_restarts_by_signal_and_records(
    age_env: Callable[..., Env], tmp_path: Path
) -> None:
    marker = "garrison-rotation-test-" + pysecrets.token_hex(4)
    bot = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", marker])
    try:
        env = age_env(f"""
            [secrets.rotation]
            restart = "signal"
            restart_signal = "TERM"
            cadence = {{ binance_key = "daily" }}
            [[strategies]]
            name = "bot"
            match = "{marker}"
            secrets = ["binance_key"]
        """)
        env.garrison("secrets", "put", "binance_key", stdin=CANARY_KEY.encode())
        result = env.garrison(
            "secrets", "rotate", "binance_key", "--value-from-stdin", stdin=CANARY_SECRET.encode()
        )
        assert result.returncode == 0, result.stderr
        assert b"rotated binance_key version 2 (age)" in result.stdout
        assert f"bot: SIGTERM sent to pid {bot.pid}".encode() in result.stdout
        assert bot.wait(timeout=30) == -15
    finally:
        bot.kill()
        bot.wait()
    log = env.state / "secrets/rotations.jsonl"
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["secret"] == "binance_key" and record["version"] == 2
    assert record["backend"] == "age"
    assert_no_canary(log.read_bytes(), result.stdout, result.stderr)
    got = env.garrison("secrets", "get", "binance_key", "-f", "json")
    assert b'"version": 2' in got.stdout


def test_rotate_adopts_a_newer_openbao_version(bao: Bao, genv: Env, tmp_path: Path) -> None:
    prefix = "r-" + pysecrets.token_hex(4)
    token = tmp_path / "token"
    token.write_text(bao.root_token)
    genv.write(f"""
        [secrets]
        backend = "openbao"
        [secrets.vault]
        address = "{bao.address}"
        path_prefix = "{prefix}"
        token_file = "{token}"
        [secrets.rotation]
        restart = "none"
    """)
    bao.run("kv", "put", f"secret/{prefix}/okx_key", f"value={CANARY_KEY}")
    first = genv.garrison("secrets", "rotate", "okx_key", "-f", "json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["version"] == 1
    again = genv.garrison("secrets", "rotate", "okx_key")
    assert again.returncode == 2 and b"version 1 is already recorded" in again.stderr
    bao.run("kv", "put", f"secret/{prefix}/okx_key", f"value={CANARY_SECRET}")  # e.g. by CI
    second = genv.garrison("secrets", "rotate", "okx_key", "-f", "json")
    assert json.loads(second.stdout)["version"] == 2
    for result in (first, again, second):
        assert_no_canary(result.stdout, result.stderr)


def test_age_rotate_needs_a_value(age_env: Callable[..., Env]) -> None:
    env = age_env()
    env.garrison("secrets", "put", "k", stdin=b"first-value-123")
    result = env.garrison("secrets", "rotate", "k")
    assert result.returncode == 2 and b"--value-from-stdin" in result.stderr
    assert not (env.state / "secrets/rotations.jsonl").exists()


def test_overdue_is_a_status_failure_and_an_audit_finding(
    age_env: Callable[..., Env], cli: Callable[..., CliResult]
) -> None:
    env = age_env("""
        [secrets.rotation]
        default = "weekly"
        cadence = { hft_key = "daily" }
        restart = "none"
        [[strategies]]
        name = "hft"
        secrets = ["hft_key", "slow_key"]
    """)
    for name in ("hft_key", "slow_key"):
        env.garrison("secrets", "put", name, stdin=CANARY_KEY.encode())
    config = load_config(str(env.config))
    store = open_store(config)
    old = datetime.now(UTC) - timedelta(days=3)
    # created just now: nothing is overdue; without the backend nothing is on record at all
    assert overdue(config, backend=store) == []
    assert [(o.name, o.source) for o in overdue(config)] == [
        ("hft_key", "unknown"),
        ("slow_key", "unknown"),
    ]
    # seen from 2 days in the future: the daily key is late, the weekly one is not
    later = datetime.now(UTC) + timedelta(days=2)
    assert [o.name for o in overdue(config, backend=store, now=later)] == ["hft_key"]
    # back-date the store files, then record an old rotation of hft_key
    for path in (env.state / "secrets/age").rglob("*.age"):
        os.utime(path, (old.timestamp(), old.timestamp()))
    append_record(config, RotationRecord(old, "hft_key", 1, "age"))
    status = env.garrison("secrets", "status")
    assert status.returncode == 1
    assert b"overdue: hft_key: cadence 1 d, last 3.0 days ago" in status.stdout
    assert b"slow_key" not in status.stdout
    audit = cli("--config", str(env.config), "audit", "--check", "GAR-SEC-005", "-f", "json")
    findings = json.loads(audit.out)["findings"]
    by_subject = {f["subject"]: f["status"] for f in findings}
    assert by_subject == {"hft_key": "fail", "slow_key": "pass"}
    # a rotation clears it
    rotated = env.garrison(
        "secrets", "rotate", "hft_key", "--value-from-stdin", stdin=CANARY_SECRET.encode()
    )
    assert rotated.returncode == 0, rotated.stderr
    audit = cli("--config", str(env.config), "audit", "--check", "GAR-SEC-005", "-f", "json")
    assert {f["status"] for f in json.loads(audit.out)["findings"]} == {"pass"}
    assert_no_canary(audit.out, audit.err, status.stdout, rotated.stdout)


def test_rotate_restarts_the_unit_through_systemctl(
    age_env: Callable[..., Env], tmp_path: Path
) -> None:
    # a stand-in systemctl first on PATH records its arguments (no real unit is touched)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "systemctl.calls"
    fake = bindir / "systemctl"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake.chmod(0o755)
    env = age_env("""
        [[strategies]]
        name = "bot"
        unit = "freqtrade-bot.service"
        secrets = ["binance_key"]
    """)
    env.garrison("secrets", "put", "binance_key", stdin=CANARY_KEY.encode())
    result = env.garrison(
        "secrets",
        "rotate",
        "binance_key",
        "--value-from-stdin",
        stdin=CANARY_SECRET.encode(),
        env={"PATH": f"{bindir}:/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert b"bot: systemctl restart freqtrade-bot.service" in result.stdout
    assert calls.read_text().split() == ["restart", "freqtrade-bot.service"]
    assert_no_canary(result.stdout, result.stderr, calls.read_text())


def test_failed_restart_is_loud_but_the_rotation_is_kept(
    age_env: Callable[..., Env], tmp_path: Path
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "systemctl"
    fake.write_text('#!/bin/sh\necho "Unit $2 not found." >&2\nexit 5\n')
    fake.chmod(0o755)
    env = age_env("""
        [[strategies]]
        name = "bot"
        unit = "missing.service"
        secrets = ["binance_key"]
    """)
    env.garrison("secrets", "put", "binance_key", stdin=CANARY_KEY.encode())
    result = env.garrison(
        "secrets",
        "rotate",
        "binance_key",
        "--value-from-stdin",
        stdin=CANARY_SECRET.encode(),
        env={"PATH": f"{bindir}:/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert b"restart of missing.service failed" in result.stdout
    assert b"was rotated and recorded, but a strategy was not restarted" in result.stderr
    record = json.loads((env.state / "secrets/rotations.jsonl").read_text().splitlines()[-1])
    assert record["version"] == 2 and record["restart_failed"] is True
