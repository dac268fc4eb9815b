"""GAR-FW-0xx on a live (lab) host: garrison's ruleset passes; tampering is caught."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.firewall.conftest import FirewallLab
from tests.firewall.labconfig import OTHER_PORT, lab_config, write_config

pytestmark = pytest.mark.root

OTHER_TABLE = """table ip other {
	chain in {
		type filter hook input priority 10; policy accept;
		accept
	}
}
"""


def _audit(lab: FirewallLab, config: Path) -> list[dict[str, Any]]:
    result = lab.garrison(config, "audit", "--area", "firewall", "-f", "json")
    assert result.returncode in (0, 1), result.stderr
    return list(json.loads(result.stdout)["findings"])


def _failed(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(f["check_id"], f["subject"]) for f in findings if f["status"] == "fail"}


def test_live_ruleset_audit_and_tampering(lab: FirewallLab, tmp_path: Path) -> None:
    net = lab.lab
    config = write_config(tmp_path, lab_config(net, tmp_path))
    assert lab.garrison(config, "firewall", "apply").returncode == 0
    assert lab.garrison(config, "firewall", "confirm").returncode == 0
    clean = _audit(lab, config)
    assert _failed(clean) == set()
    passed = {f["check_id"] for f in clean if f["status"] == "pass"}
    assert passed >= {f"GAR-FW-00{i}" for i in range(1, 8)}

    # tamper: a hole for a database, an accept-all egress, an iptables-legacy rule, and an
    # accept-all in another table (which must NOT count as a bypass: drop is final)
    vps = "vps"
    net.run(
        vps,
        ["nft", "insert", "rule", "inet", "garrison", "input", "tcp", "dport", "3306", "accept"],
        check=True,
    )
    net.run(
        vps,
        ["nft", "insert", "rule", "inet", "garrison", "output", "counter", "accept"],
        check=True,
    )
    other = tmp_path / "other.nft"
    other.write_text(OTHER_TABLE)
    net.run(vps, ["nft", "-f", str(other)], check=True)
    net.run(
        vps,
        ["iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "9999", "-j", "ACCEPT"],
        check=True,
    )
    try:
        tampered = _audit(lab, config)
    finally:
        net.run(vps, ["iptables-legacy", "-F", "INPUT"])
    failed = _failed(tampered)
    assert ("GAR-FW-002", "tcp/3306") in failed
    assert any(c == "GAR-FW-004" and "inet garrison output" in s for c, s in failed)
    assert any(c == "GAR-FW-003" and "inet garrison output" in s for c, s in failed)
    assert ("GAR-FW-005", "iptables-legacy-save") in failed
    assert ("GAR-FW-006", "table inet garrison") in failed
    assert ("GAR-FW-001", "input") not in failed
    harmless = [
        f for f in tampered if f["check_id"] == "GAR-FW-004" and f["subject"] == "ip other in"
    ]
    assert [f["status"] for f in harmless] == ["pass"]
    assert "does not override the drop" in harmless[0]["message"]
    # and the packets agree: the other table's accept-all opens nothing
    assert not net.probe("attacker", "tcp", net["attacker"].vps_v4, OTHER_PORT)
