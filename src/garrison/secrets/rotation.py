"""Rotation: take a new version of a secret, restart the strategies that use it, record it.

Records are JSON lines in <state_dir>/secrets/rotations.jsonl (time, secret, version, backend,
restarts): never a value. `overdue(config)` lists secrets whose last rotation is older than
their cadence; the audit check GAR-SEC-005 and the guard use it.
"""

from __future__ import annotations

import json
import os
import re
import signal
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from garrison.config.schema import Config
from garrison.config.strategies import Strategy
from garrison.errors import SecretError
from garrison.host.runner import run_command
from garrison.model import to_jsonable
from garrison.secrets.backends.interface import SecretBackend, valid_name
from garrison.secrets.store import open_store


@dataclass(frozen=True)
class RotationRecord:
    """One rotation as written to rotations.jsonl."""

    time: datetime
    secret: str
    version: int | None
    backend: str
    restarts: tuple[str, ...] = ()
    restart_failed: bool = False  # a restart was attempted and did not succeed


@dataclass(frozen=True)
class OverdueSecret:
    """A secret older than its cadence (last_rotated None: no rotation or creation on record)."""

    name: str
    cadence_days: float
    last_rotated: datetime | None
    source: str  # where last_rotated came from: "rotation log", "backend", "unknown"

    def age_days(self, now: datetime) -> float | None:
        if self.last_rotated is None:
            return None
        return (now - self.last_rotated).total_seconds() / 86400


def log_path(config: Config) -> Path:
    return Path(config.paths.state_dir, "secrets", "rotations.jsonl")


def read_records(config: Config) -> list[RotationRecord]:
    """Every rotation on record, oldest first (unparseable lines are skipped)."""
    try:
        lines = log_path(config).read_text().splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SecretError(f"{log_path(config)}: {exc.strerror}") from None
    out = []
    for line in lines:
        try:
            raw = json.loads(line)
            out.append(
                RotationRecord(
                    datetime.fromisoformat(raw["time"]),
                    str(raw["secret"]),
                    raw.get("version"),
                    str(raw.get("backend", "")),
                    tuple(raw.get("restarts", ())),
                    bool(raw.get("restart_failed", False)),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return out


def append_record(config: Config, record: RotationRecord) -> None:
    path = log_path(config)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = json.dumps(to_jsonable(record), sort_keys=True) + "\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise SecretError(f"{path}: cannot record rotation: {exc.strerror}") from None


def tracked_secrets(config: Config) -> list[str]:
    """Secrets with a cadence: those the strategies use plus any named in [secrets.rotation]."""
    names = {n for s in config.strategies for n in s.secrets}
    names |= {n for d in config.secrets.delivery.values() for n in d.fields.values()}
    names |= set(config.secrets.rotation.cadence)
    return sorted(names)


def overdue(
    config: Config,
    *,
    backend: SecretBackend | None = None,
    now: datetime | None = None,
) -> list[OverdueSecret]:
    """Secrets whose newest rotation (or creation in the backend) is older than their cadence."""
    now = now or datetime.now(UTC)
    latest: dict[str, datetime] = {}
    for record in read_records(config):
        latest[record.secret] = max(record.time, latest.get(record.secret, record.time))
    out = []
    for name in tracked_secrets(config):
        days = config.secrets.rotation.days_for(name)
        last, source = latest.get(name), "rotation log"
        if backend is not None:
            try:
                updated = backend.info(name).updated
            except SecretError:
                updated = None
            if updated is not None and (last is None or updated > last):
                last, source = updated, "backend"
        if last is None:
            source = "unknown"
        if last is None or now - last > timedelta(days=days):
            out.append(OverdueSecret(name, days, last, source))
    return out


def strategies_using(config: Config, name: str) -> list[Strategy]:
    out = []
    for strategy in config.strategies:
        delivery = config.secrets.delivery.get(strategy.name)
        fields = delivery.fields.values() if delivery else ()
        if name in strategy.secrets or name in fields:
            out.append(strategy)
    return out


def restart_strategy(config: Config, strategy: Strategy) -> tuple[str, bool]:
    """Restart one strategy as [secrets.rotation].restart says: (what happened, succeeded)."""
    mode = config.secrets.rotation.restart
    if mode == "auto":
        mode = "systemd" if strategy.unit else ("signal" if strategy.match else "none")
    if mode == "none":
        return f"{strategy.name}: not restarted (no unit or match configured)", True
    if mode == "systemd":
        if not strategy.unit:
            return f"{strategy.name}: not restarted (no unit configured)", False
        result = run_command(["systemctl", "restart", strategy.unit], timeout=60)
        if not result.ok:
            return f"{strategy.name}: restart of {strategy.unit} failed: {result.problem()}", False
        return f"{strategy.name}: systemctl restart {strategy.unit}", True
    return _signal_strategy(config, strategy)


def _signal_strategy(config: Config, strategy: Strategy) -> tuple[str, bool]:
    import psutil

    if not strategy.match:
        return f"{strategy.name}: not signalled (no match configured)", False
    pattern = re.compile(strategy.match)
    sig = getattr(signal, config.secrets.rotation.restart_signal)
    hit = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if proc.pid != os.getpid() and cmdline and pattern.search(cmdline):
            try:
                proc.send_signal(sig)
                hit.append(proc.pid)
            except psutil.Error:
                continue
    if not hit:
        return f"{strategy.name}: no running process matches {strategy.match!r}", True
    pids = ",".join(map(str, hit))
    return f"{strategy.name}: {config.secrets.rotation.restart_signal} sent to pid {pids}", True


def rotate(
    config: Config,
    name: str,
    new_value: bytearray | None,
    *,
    restart: bool = True,
    backend: SecretBackend | None = None,
) -> RotationRecord:
    """Take the new version (store new_value, or adopt a newer backend version), restart, record."""
    valid_name(name)
    store = backend or open_store(config)
    try:
        if new_value is not None:
            if not new_value:
                raise SecretError(f"rotate {name!r}: the new value is empty; nothing stored")
            info = store.put(name, new_value)
        else:
            if store.kind not in ("vault", "openbao"):
                raise SecretError(
                    f"rotate {name!r}: the {store.kind} backend has no external versions; "
                    "give the new value with --value-from-stdin"
                )
            info = store.info(name)
            done = [r.version for r in read_records(config) if r.secret == name]
            if done and info.version is not None and info.version in done:
                raise SecretError(
                    f"rotate {name!r}: version {info.version} is already recorded; write a "
                    "newer version first or use --value-from-stdin"
                )
    finally:
        store.close()
    outcomes = (
        [restart_strategy(config, s) for s in strategies_using(config, name)] if restart else []
    )
    record = RotationRecord(
        datetime.now(UTC),
        name,
        info.version,
        store.kind,
        tuple(line for line, _ok in outcomes),
        restart_failed=not all(ok for _line, ok in outcomes),
    )
    append_record(config, record)
    return record
