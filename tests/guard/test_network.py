"""A connection to a forbidden host, dropped and logged by nft to NFLOG, raises GRD-NET-001.

Uses the firewall area's network-namespace lab: the guard runs inside the lab's "vps"
namespace (NFLOG is per network namespace), the forbidden host is a second namespace.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.guard.conftest import requires_guard_env
from tests.guard.harness import GuardRun, make_run
from tests.lab.netns import Lab, network_lab

pytestmark = [
    requires_guard_env,
    pytest.mark.root,
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nft"),
]

RULESET = """
table inet grdtest {{
  chain output {{
    type filter hook output priority 0; policy accept;
    ip daddr {evil} log prefix "garrison-drop " group 100 drop
  }}
}}
"""


@pytest.fixture
def lab() -> Iterator[Lab]:
    with network_lab("grd", ["broker", "evil"]) as built:
        yield built


def test_forbidden_connection_alerts_and_broker_connection_does_not(
    lab: Lab, tmp_path: Path
) -> None:
    ruleset = RULESET.format(evil=lab["evil"].v4)
    subprocess.run(
        ["ip", "netns", "exec", lab.vps, "nft", "-f", "-"], input=ruleset, text=True, check=True
    )
    lab.serve("broker", "tcp", 443)
    lab.serve("evil", "tcp", 4444)
    run: GuardRun = make_run(tmp_path)
    run.start(netns=lab.vps)
    try:
        assert lab.probe("vps", "tcp", lab["broker"].v4, 443)  # the bot talks to its broker
        run.settle()
        assert run.rules_seen() == set()
        assert not lab.probe("vps", "tcp", lab["evil"].v4, 4444, timeout=0.5)
        alert = run.wait_rule("GRD-NET-001")
        run.settle()
        assert run.rules_seen() == {"GRD-NET-001"}
        detail = alert.events[0]["detail"]
        assert detail["dst"] == lab["evil"].v4
        assert detail["dport"] == 4444
        assert detail["proto"] == "tcp"
        assert detail["prefix"] == "garrison-drop "
        assert alert.events[0]["uid"] == 0  # NFULA_UID: the connecting socket's owner
    finally:
        run.stop()
