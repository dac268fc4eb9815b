"""A forced queue overflow raises GRD-GUARD-001 and the rescan finds the change it hid.

The fanotify queue holds 16384 events (fs.fanotify.max_queued_events, which a test must not
change); the guard is stopped with SIGSTOP, a burst of 20,000 creates fills the queue, then a
protected file is changed while the queue is full, and the guard is continued.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest
from tests.guard.conftest import requires_guard_env
from tests.guard.harness import GuardRun

pytestmark = [requires_guard_env, pytest.mark.root]

BURST = """
import os, sys
d = sys.argv[1]
for i in range(20000):
    open(os.path.join(d, f"f{i}"), "w").close()
with open(sys.argv[2], "a") as f:
    f.write("hidden change\\n")
"""


def test_overflow_alerts_and_rescan_finds_hidden_change(guard: GuardRun) -> None:
    target = guard.mnt / "etc/passwd"
    guard.sh(f"echo 'root:x:0:0::/root:/bin/sh' > {target}")
    guard.wait_rule("GRD-FILE-001")
    hidden = guard.mnt / "usr/bin/sshd"
    guard.sh(f"echo original > {hidden}")
    guard.wait_for(lambda: len(guard.alerts()) == 2, "alert for the original sshd")
    before = {a.id for a in guard.alerts()}
    os.kill(guard.pid, signal.SIGSTOP)
    try:
        guard.sh(f"{sys.executable} -c '{BURST}' {guard.mnt}/scratch {hidden}")
    finally:
        os.kill(guard.pid, signal.SIGCONT)
    overflow = guard.wait_rule("GRD-GUARD-001", timeout=60)
    assert "overflow" in overflow.summary
    # The hidden change's own event was dropped by the kernel; the rescan reports it.
    guard.wait_for(
        lambda: any(
            e["source"] == "rescan" and e["path"] == str(hidden)
            for a in guard.alerts()
            for e in a.events
        ),
        "the rescan to report the hidden change",
        timeout=60,
    )
    new = [a for a in guard.alerts() if a.id not in before]
    assert {a.rule_id for a in new} <= {"GRD-GUARD-001", "GRD-FILE-001"}
    assert not any(e["path"].startswith(f"{guard.mnt}/scratch/") for a in new for e in a.events)
