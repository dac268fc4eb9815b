"""GAR-FW-007 on a live namespace: an IPv4-only ruleset fails unless IPv6 is disabled."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.firewall.conftest import GARRISON
from tests.lab.netns import network_lab

pytestmark = pytest.mark.root

IPV4_ONLY = """table ip filter {
	chain input {
		type filter hook input priority 0; policy drop;
	}
	chain output {
		type filter hook output priority 0; policy drop;
	}
}
"""


def test_ipv4_only_ruleset_fails_until_ipv6_is_disabled(tmp_path: Path) -> None:
    rules = tmp_path / "v4.nft"
    rules.write_text(IPV4_ONLY)
    with network_lab("gfw6", []) as lab:
        lab.run("vps", ["nft", "-f", str(rules)], check=True)

        def status() -> str:
            env = {k: v for k, v in os.environ.items() if not k.startswith("GARRISON")}
            argv = [GARRISON, "audit", "--check", "GAR-FW-007", "-f", "json"]
            out = lab.run("vps", argv, env=env)
            findings = json.loads(out.stdout)["findings"]
            return f"{findings[0]['status']}: {findings[0]['message']}"

        assert status() == "fail: IPv6 input and output not default-deny"
        lab.run("vps", ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"], check=True)
        assert status() == "pass: IPv6 is disabled on this host"
