"""A guard killed without a clean stop: the next start says events may have been missed,
rescans, and removes the keyed audit rules the dead guard left behind."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from tests.guard.conftest import requires_guard_env
from tests.guard.harness import GuardRun, make_run

from garrison.guard.sources.audit import garrison_rules_installed

pytestmark = [requires_guard_env, pytest.mark.root]


def audit_enabled() -> str:
    out = subprocess.run(["auditctl", "-s"], capture_output=True, text=True, check=False).stdout
    return next((line.split()[1] for line in out.splitlines() if line.startswith("enabled")), "")


def test_restart_after_kill_alerts_and_cleans_stale_audit_rules(tmp_path: Path) -> None:
    enabled_at_start = audit_enabled()
    first = make_run(tmp_path)
    first.start()
    dead = first.pid
    assert any(f"-{dead}" in line for line in garrison_rules_installed())
    os.kill(dead, signal.SIGKILL)  # no clean stop: rules stay, status says "running"
    assert first.proc is not None
    first.proc.wait()
    first.proc = None
    # Same config, state and run dirs; start() mounts a fresh tmpfs on the same mount point.
    second = GuardRun(base=first.base, mnt=first.mnt, config=first.config)
    second.start()
    try:
        alert = second.wait_rule("GRD-GUARD-001")
        assert f"unclean stop (pid {dead})" in alert.summary
        assert not any(f"-{dead}" in line for line in garrison_rules_installed())
    finally:
        second.stop()
    # The killed guard may have switched auditing on; the next guard restores what it found.
    assert audit_enabled() == enabled_at_start
