"""Real packets through the lab: what garrison's ruleset lets through and what it drops."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.firewall.conftest import FirewallLab
from tests.firewall.labconfig import (
    BROKER_TCP,
    BROKER_UDP,
    OTHER_PORT,
    SSH_PORT,
    lab_config,
    write_config,
)

pytestmark = pytest.mark.root


def test_applied_and_confirmed_ruleset_passes_only_the_allow_list(
    lab: FirewallLab, tmp_path: Path
) -> None:
    net = lab.lab
    config = write_config(tmp_path, lab_config(net, tmp_path))
    # before: everything open (no ruleset), so drops below are garrison's doing
    assert net.probe("vps", "tcp", net["forbidden"].v4, BROKER_TCP)
    assert net.probe("attacker", "tcp", net["attacker"].vps_v4, SSH_PORT)

    applied = lab.garrison(config, "firewall", "apply")
    assert applied.returncode == 0, applied.stderr
    assert "rollback in 30s" in applied.stdout
    confirmed = lab.garrison(config, "firewall", "confirm")
    assert confirmed.returncode == 0, confirmed.stderr
    persisted = (tmp_path / "nftables.conf").read_text()
    assert "table inet garrison {" in persisted and "br_bybit_v4" in persisted

    broker, forbidden = net["broker"], net["forbidden"]
    for addr in (broker.v4, broker.v6):
        assert net.probe("vps", "tcp", addr, BROKER_TCP), f"broker tcp {addr}"
        assert net.probe("vps", "udp", addr, BROKER_UDP), f"broker udp {addr}"
        assert not net.probe("vps", "tcp", addr, OTHER_PORT), f"broker's other port {addr}"
    for addr in (forbidden.v4, forbidden.v6):
        assert not net.probe("vps", "tcp", addr, BROKER_TCP), f"forbidden tcp {addr}"
        assert not net.probe("vps", "udp", addr, BROKER_UDP), f"forbidden udp {addr}"

    admin, attacker = net["admin"], net["attacker"]
    for addr in (admin.vps_v4, admin.vps_v6):
        assert net.probe("admin", "tcp", addr, SSH_PORT), f"admin ssh {addr}"
        assert not net.probe("admin", "tcp", addr, OTHER_PORT), f"admin other port {addr}"
    for addr in (attacker.vps_v4, attacker.vps_v6):
        assert not net.probe("attacker", "tcp", addr, SSH_PORT), f"attacker ssh {addr}"

    status = lab.garrison(config, "firewall", "status")
    assert "applied:       yes" in status.stdout
    assert "live == persisted: yes" in status.stdout


def test_unconfirmed_lockout_is_rolled_back_by_the_watchdog(
    lab: FirewallLab, tmp_path: Path
) -> None:
    net = lab.lab
    good = write_config(tmp_path, lab_config(net, tmp_path))
    assert lab.garrison(good, "firewall", "apply").returncode == 0
    assert lab.garrison(good, "firewall", "confirm").returncode == 0
    before = net.ruleset()

    bad_data = lab_config(net, tmp_path, inbound=[{"name": "web", "port": 443}])
    bad = write_config(tmp_path, bad_data, "lockout.toml")
    session = {"SSH_CONNECTION": f"{net['admin'].v4} 50022 {net['admin'].vps_v4} {SSH_PORT}"}
    refused = lab.garrison(bad, "firewall", "apply", env=session)
    assert refused.returncode == 2
    assert "refusing to apply" in refused.stderr and "tcp/22" in refused.stderr
    assert net.ruleset() == before

    forced = lab.garrison(bad, "firewall", "apply", "--force", "--timeout", "6", env=session)
    assert forced.returncode == 0, forced.stderr
    assert "--force" in forced.stderr
    assert not net.probe("admin", "tcp", net["admin"].vps_v4, SSH_PORT)  # locked out now

    # nobody confirms: the detached watchdog restores the previous ruleset by itself
    assert wait_for(lambda: "rolled-back" in lab.garrison(bad, "firewall", "status").stdout)
    assert net.probe("admin", "tcp", net["admin"].vps_v4, SSH_PORT)
    assert net.ruleset() == before  # byte for byte (nft -s: no ticking timers)
    late = lab.garrison(bad, "firewall", "confirm")
    assert late.returncode == 2 and "rolled-back" in late.stderr
    assert "web" not in (tmp_path / "nftables.conf").read_text()


def wait_for(predicate: object, limit_s: float = 30.0) -> bool:
    """Poll a condition (not a timing assertion: the limit only bounds a hung test)."""
    import time

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.3)
    return False


def test_drops_are_logged_to_the_nflog_group(lab: FirewallLab, tmp_path: Path) -> None:
    """The guard's interface: dropped packets arrive on NFLOG group [firewall].nflog_group."""
    import sys

    from tests.lab.netns import HERE

    net = lab.lab
    config = write_config(tmp_path, lab_config(net, tmp_path, nflog_group=4242))
    assert lab.garrison(config, "firewall", "apply").returncode == 0
    listener = net.spawn("vps", [sys.executable, str(HERE / "nflog_listen.py"), "4242", "20"])
    assert not net.probe("vps", "tcp", net["forbidden"].v4, BROKER_TCP)
    assert listener.stdout is not None
    assert listener.stdout.readline().strip() == "PREFIX=garrison-drop-out"
