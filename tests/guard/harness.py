"""Run the real guard in a private mount namespace over its own tmpfs, then read its alerts.

The guard runs as `unshare -m` + `mount -t tmpfs` (so fanotify's FAN_MARK_FILESYSTEM marks a
filesystem only this test sees); attacks run inside the same mount namespace via nsenter.
Nothing outside tmp_path is written; audit rules the guard installs are removed on its stop.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from garrison.guard.store import StoredAlert, read_alerts

GARRISON = str(Path(sys.executable).with_name("garrison"))
LAYOUT = (
    "usr/bin",
    "etc/sudoers.d",
    "etc/cron.d",
    "root/.ssh",
    "opt/trading/bot",
    "opt/trading/venv/lib/python3.11/site-packages",
    "scratch",
)


def guard_config(base: Path, mnt: Path, **extra: Any) -> str:
    """A garrison.toml whose every watched path lives on the test tmpfs at mnt."""
    guard_extra = "\n".join(f"{k} = {v}" for k, v in extra.items())
    return textwrap.dedent(
        f"""\
        [paths]
        state_dir = "{base}/state"
        run_dir = "{base}/run"
        log_dir = "{base}/log"

        [guard]
        protected_paths = ["{mnt}/usr/bin", "{mnt}/etc"]
        metrics_listen = "off"
        metrics_textfile = "{base}/guard.prom"
        auth_log = "{base}/auth.log"
        dedup_window_s = 60
        audit_paths = ["{mnt}/**"]
        {guard_extra}

        [guard.watch]
        ssh_keys = ["{mnt}/root/.ssh/authorized_keys*"]
        cron = ["{mnt}/etc/cron.d/**"]
        systemd = []
        shell_profiles = []
        privilege_files = ["{mnt}/etc/sudoers", "{mnt}/etc/sudoers.d/**"]

        [guard.package_manager]
        root = "{mnt}"
        admindir = "{mnt}/var/lib/dpkg"
        parents = []

        [[strategies]]
        name = "bot"
        code_dir = "{mnt}/opt/trading/bot"
        venv = "{mnt}/opt/trading/venv"
        """
    )


@dataclass
class GuardRun:
    """One guard process in its own mount namespace."""

    base: Path
    mnt: Path
    config: Path
    proc: subprocess.Popen[str] | None = None
    log: list[str] = field(default_factory=list)
    summary: str = ""

    def start(
        self,
        *,
        netns: str | None = None,
        timeout: float = 30.0,
        setup: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        mkdirs = " ".join(str(self.mnt / d) for d in LAYOUT)
        script = (
            f"mount -t tmpfs garrison-guard-test {self.mnt} && mkdir -p {mkdirs} && {setup or 'true'}"
            f" && exec {GARRISON} -c {self.config} guard --for 120"
        )
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        (self.base / "auth.log").touch()
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        started = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line)
                if "guard started" in line:
                    started.set()
            started.set()

        threading.Thread(target=pump, daemon=True).start()
        started.wait(timeout)
        if self.proc.poll() is not None or not any("guard started" in line for line in self.log):
            self.stop()
            raise RuntimeError("guard did not start:\n" + "".join(self.log))
        self.wait_for(lambda: (self.base / "run" / "guard-status.json").exists(), "status file")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def sh(self, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a shell command inside the guard's mount namespace (sees the tmpfs)."""
        argv = ["nsenter", "-t", str(self.pid), "-m", "--", "sh", "-c", command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=check)

    def alerts(self) -> list[StoredAlert]:
        return read_alerts(self.base / "state" / "guard" / "alerts.db", limit=1000)

    def rules_seen(self) -> set[str]:
        return {a.rule_id for a in self.alerts()}

    def wait_for(self, predicate: Any, what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; log:\n{''.join(self.log[-20:])}")

    def wait_rule(self, rule_id: str, timeout: float = 15.0) -> StoredAlert:
        self.wait_for(lambda: rule_id in self.rules_seen(), f"alert {rule_id}", timeout)
        return next(a for a in self.alerts() if a.rule_id == rule_id)

    def settle(self) -> None:
        """Let any further (unexpected) alert land before asserting there is none."""
        time.sleep(0.7)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                out, _ = self.proc.communicate(timeout=30)
                self.summary = out
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def make_run(tmp_path: Path, **extra: Any) -> GuardRun:
    base = tmp_path / "g"
    mnt = tmp_path / "mnt"
    base.mkdir()
    mnt.mkdir()
    config = base / "garrison.toml"
    config.write_text(guard_config(base, mnt, **extra))
    return GuardRun(base=base, mnt=mnt, config=config)


def have_tools(*names: str) -> bool:
    return all(shutil.which(n) for n in names) and os.geteuid() == 0
