"""A forced queue overflow raises GRD-GUARD-001 and the rescan finds the change it hid.

The fanotify queue holds 16384 events (fs.fanotify.max_queued_events, which a test must not
change); the guard is stopped with SIGSTOP, a burst of 20,000 creates fills the queue, then a
protected file is changed while the queue is full, and the guard is continued.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from tests.guard.conftest import requires_guard_env
from tests.guard.harness import make_run

pytestmark = [requires_guard_env, pytest.mark.root]

BURST = """
import os, sys
d = sys.argv[1]
for i in range(20000):
    open(os.path.join(d, f"f{i}"), "w").close()
with open(sys.argv[2], "a") as f:
    f.write("hidden change\\n")
"""


def test_overflow_alerts_and_rescan_finds_hidden_change(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    hidden = run.mnt / "usr/bin/sshd"
    # The file exists before the guard starts: only the start snapshot knows it, so the only
    # way to report its change is the rescan (no queued event of it can absorb the change).
    run.start(setup=f"mkdir -p {hidden.parent} && echo original > {hidden}")
    try:
        os.kill(run.pid, signal.SIGSTOP)
        try:
            run.sh(f"{sys.executable} -c '{BURST}' {run.mnt}/scratch {hidden}")
        finally:
            os.kill(run.pid, signal.SIGCONT)
        overflow = run.wait_rule("GRD-GUARD-001", timeout=60)
        assert "overflow" in overflow.summary
        alert = run.wait_rule("GRD-FILE-001", timeout=60)
        run.settle()
        assert run.rules_seen() == {"GRD-GUARD-001", "GRD-FILE-001"}
        assert [(e["source"], e["path"]) for e in alert.events] == [("rescan", str(hidden))]
        assert alert.events[0]["detail"]["rescan"] == "fanotify queue overflow"
    finally:
        run.stop()
