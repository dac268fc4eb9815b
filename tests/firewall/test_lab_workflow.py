"""Workflow details in the lab: confirm from a new connection, rollback, flush mode, updates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from tests.firewall.conftest import GARRISON, FirewallLab
from tests.firewall.labconfig import BROKER_TCP, SSH_PORT, lab_config, write_config
from tests.firewall.test_lab_apply import wait_for
from tests.lab.netns import IP

from garrison.config.loader import validate_config
from garrison.firewall.policy import build_policy
from garrison.firewall.ssh_session import SshEndpoint, current_session, lockout_problem

OTHER_TABLE = """table ip other {
	chain forward {
		type filter hook forward priority 10; policy accept;
	}
}
"""


@pytest.mark.root
def test_confirm_must_come_from_a_new_connection(lab: FirewallLab, tmp_path: Path) -> None:
    net = lab.lab
    config = write_config(tmp_path, lab_config(net, tmp_path))
    admin = net["admin"]
    first = {"SSH_CONNECTION": f"{admin.v4} 40001 {admin.vps_v4} {SSH_PORT}"}
    second = {"SSH_CONNECTION": f"{admin.v4} 40002 {admin.vps_v4} {SSH_PORT}"}
    applied = lab.garrison(config, "firewall", "apply", env=first)
    assert applied.returncode == 0, applied.stderr
    assert f"tcp/22 from {admin.v4}" in applied.stdout
    same = lab.garrison(config, "firewall", "confirm", env=first)
    assert same.returncode == 64 and "NEW SSH connection" in same.stderr
    assert not (tmp_path / "nftables.conf").exists()
    fresh = lab.garrison(config, "firewall", "confirm", env=second)
    assert fresh.returncode == 0, fresh.stderr
    assert (tmp_path / "nftables.conf").exists()


@pytest.mark.root
def test_flush_mode_and_manual_rollback_restore_other_tables(
    lab: FirewallLab, tmp_path: Path
) -> None:
    net = lab.lab
    other = tmp_path / "other.nft"
    other.write_text(OTHER_TABLE)
    net.run("vps", ["nft", "-f", str(other)], check=True)
    before = net.ruleset()
    config = write_config(tmp_path, lab_config(net, tmp_path, other_tables="flush"))
    assert lab.garrison(config, "firewall", "apply").returncode == 0
    assert "table ip other" not in net.ruleset()
    status = json.loads(lab.garrison(config, "firewall", "status", "-f", "json").stdout)
    assert status["pending"] is True and 0 < status["seconds_left"] <= 30
    assert status["watchdog_running"] is True
    rolled = lab.garrison(config, "firewall", "rollback")
    assert rolled.returncode == 0, rolled.stderr
    assert net.ruleset() == before
    nothing = lab.garrison(config, "firewall", "confirm")
    assert nothing.returncode == 2 and "rolled-back" in nothing.stderr


@pytest.mark.root
def test_updates_window_gates_package_mirrors(lab: FirewallLab, tmp_path: Path) -> None:
    net = lab.lab
    mirror = net["forbidden"]
    egress = [
        {
            "name": "debian-mirror",
            "cidrs": [f"{mirror.v4}/32", f"{mirror.v6}/128"],
            "ports": [BROKER_TCP],
            "during_updates": True,
        }
    ]
    config = write_config(tmp_path, lab_config(net, tmp_path, egress=egress))
    assert lab.garrison(config, "firewall", "apply").returncode == 0
    assert lab.garrison(config, "firewall", "confirm").returncode == 0
    assert not net.probe("vps", "tcp", mirror.v4, BROKER_TCP)
    assert lab.garrison(config, "firewall", "updates", "open").returncode == 0
    assert "open" in lab.garrison(config, "firewall", "updates", "status").stdout
    for addr in (mirror.v4, mirror.v6):
        assert net.probe("vps", "tcp", addr, BROKER_TCP), addr
    audit = lab.garrison(config, "audit", "--area", "firewall", "-f", "json")
    failed = {
        f["check_id"]
        for f in json.loads(audit.stdout)["findings"]
        if f["status"] == "fail" and f["check_id"] != "GAR-FW-006"  # open window = drift
    }
    assert failed == set()  # the window's accept is guarded by the mirror's addresses
    assert lab.garrison(config, "firewall", "updates", "close").returncode == 0
    assert not net.probe("vps", "tcp", mirror.v4, BROKER_TCP)


def test_lockout_detection_from_session_and_listening_sshd(tmp_path: Path) -> None:
    data = {"firewall": {"inbound": [{"name": "ssh", "port": 2222, "sources": ["10.0.0.0/8"]}]}}
    policy = build_policy(validate_config(data, "t"))
    session = current_session({"SSH_CONNECTION": "10.1.2.3 50000 10.0.0.1 2222"})
    assert session == SshEndpoint(2222, "10.1.2.3", "SSH_CONNECTION")
    assert lockout_problem(policy, [session]) == ""
    outsider = SshEndpoint(2222, "192.0.2.7", "SSH_CONNECTION")
    assert "192.0.2.7 -> tcp/2222" in lockout_problem(policy, [outsider])
    assert "tcp/22 " in lockout_problem(policy, [SshEndpoint(22, None, "listening sshd (pid 1)")])
    assert lockout_problem(policy, [SshEndpoint(2222, None, "listening sshd (pid 1)")]) == ""
    assert current_session({"SSH_CONNECTION": "garbage"}) is None


@pytest.mark.root
def test_watchdog_survives_the_applying_session_dying(lab: FirewallLab, tmp_path: Path) -> None:
    """An SSH session that dies (SIGHUP to its whole process group) does not stop the rollback."""
    net = lab.lab
    before = net.ruleset()
    config = write_config(tmp_path, lab_config(net, tmp_path))
    command = (
        f"{IP} netns exec {net.vps} {GARRISON} -c {config} firewall apply --timeout 8; sleep 60"
    )
    # SIGHUP back to its default: a runner started under nohup would otherwise pass its
    # "ignore SIGHUP" down, and the fake terminal could not hang up.
    session = subprocess.Popen(
        ["sh", "-c", command],
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    try:
        pending = tmp_path / "run" / "firewall" / "pending.json"
        assert wait_for(lambda: pending.exists() and "table inet garrison" in net.ruleset())
        os.killpg(session.pid, signal.SIGHUP)  # the "terminal" goes away
        session.wait(timeout=10)
    finally:
        if session.poll() is None:
            os.killpg(session.pid, signal.SIGKILL)
    assert wait_for(lambda: not pending.exists())
    assert net.ruleset() == before
    log = (tmp_path / "run" / "firewall" / "watchdog.log").read_text()
    assert "rolled-back: not confirmed in time" in log
