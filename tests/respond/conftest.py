"""Fixtures for the respond tests: temp state dirs, counting child processes, cgroup cleanup."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from garrison.config.loader import validate_config
from garrison.config.schema import Config
from garrison.respond.freeze.cgroup import find_hierarchies

COUNTER = """
import sys, time
path = sys.argv[1]
n = 0
while True:
    n += 1
    with open(path + ".tmp", "w") as f:
        f.write(str(n))
    import os; os.replace(path + ".tmp", path)
    time.sleep(0.01)
"""


class Counter:
    """A child process that increments a number in a file every 10 ms."""

    def __init__(self, proc: subprocess.Popen[bytes], path: Path, marker: str) -> None:
        self.proc = proc
        self.path = path
        self.marker = marker

    def value(self) -> int:
        for _ in range(200):
            try:
                return int(self.path.read_text() or 0)
            except (FileNotFoundError, ValueError):
                time.sleep(0.01)
        raise AssertionError("counter never wrote")

    def wait_advance(self, start: int, limit_s: float = 10.0) -> int:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            now = self.value()
            if now > start:
                return now
            time.sleep(0.02)
        raise AssertionError(f"counter stuck at {start}")


@pytest.fixture
def counter(tmp_path: Path) -> Iterator[Callable[[], Counter]]:
    made: list[Counter] = []

    def start() -> Counter:
        marker = f"garrison-resptest-{uuid.uuid4().hex[:10]}"
        path = tmp_path / f"{marker}.count"
        proc = subprocess.Popen([sys.executable, "-c", COUNTER, str(path), marker])
        c = Counter(proc, path, marker)
        c.wait_advance(0)
        made.append(c)
        return c

    yield start
    for c in made:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(c.proc.pid, sig)
        c.proc.wait(timeout=10)


@pytest.fixture
def cgroup_parent() -> Iterator[str]:
    """A unique garrison-owned cgroup parent name; every cgroup under it is removed after."""
    name = f"garrison-resptest-{uuid.uuid4().hex[:8]}"
    yield name
    found = find_hierarchies()
    for mount in (found.v1_freezer, found.v2):
        if mount is None:
            continue
        parent = mount / name
        if not parent.is_dir():
            continue
        for child in sorted(parent.iterdir(), reverse=True):
            if not child.is_dir():
                continue
            thaw = child / ("freezer.state" if mount == found.v1_freezer else "cgroup.freeze")
            if thaw.exists():
                thaw.write_text("THAWED" if thaw.name == "freezer.state" else "0")
            for pid in (child / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            for _ in range(200):
                if not (child / "cgroup.procs").read_text().strip():
                    break
                time.sleep(0.01)
            child.rmdir()
        parent.rmdir()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """Build a validated Config whose state/run/log dirs live in tmp_path."""

    def build(**sections: Any) -> Config:
        data: dict[str, Any] = {
            "paths": {
                "state_dir": str(tmp_path / "state"),
                "run_dir": str(tmp_path / "run"),
                "log_dir": str(tmp_path / "log"),
            }
        }
        data.update(sections)
        return validate_config(data, "test")

    return build


def secrets_from(values: dict[str, str]) -> Callable[[str], bytearray]:
    """A stand-in for garrison.secrets.store (the secrets area builds the real one)."""
    from garrison.errors import SecretError

    def read(name: str) -> bytearray:
        if name not in values:
            raise SecretError(f"secret {name!r}: not found")
        return bytearray(values[name].encode())

    return read


@pytest.fixture(autouse=True)
def no_default_cgroup_left() -> Iterator[None]:
    """Tests must use the `cgroup_parent` fixture: fail (and clean up) if one created the
    default garrison cgroup on the test machine."""
    found = find_hierarchies()
    mounts = [m / "garrison" for m in (found.v1_freezer, found.v2) if m is not None]
    before = {m for m in mounts if m.exists()}
    yield
    leaked = [m for m in mounts if m.exists() and m not in before]
    for parent in leaked:
        for child in parent.iterdir():
            if child.is_dir():
                child.rmdir()
        parent.rmdir()
    assert not leaked, f"a test created {leaked}: use the cgroup_parent fixture"
