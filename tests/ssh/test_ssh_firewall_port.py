"""GAR-SSH-029: sshd's ports must be admitted by [firewall].inbound, or applying it locks SSH out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from tests.conftest import facts_for

from garrison.checks.engine import run_check
from garrison.checks.ssh_session import FirewallAdmitsSsh
from garrison.config.schema import Config
from garrison.model import Status

MakeRoot = Callable[[Mapping[str, str | bytes]], Path]


def verdicts(root: Path, config: Config | None = None) -> dict[str, Status]:
    return {f.subject: f.status for f in run_check(FirewallAdmitsSsh, facts_for(root, config))}


def test_moved_port_not_in_default_policy_fails(make_root: MakeRoot) -> None:
    root = make_root({"etc/ssh/sshd_config": "Port 2222\n"})
    assert verdicts(root) == {"port 2222": Status.FAIL}


def test_port_admitted_by_policy_passes(make_root: MakeRoot) -> None:
    root = make_root({"etc/ssh/sshd_config": "Port 2222\nListenAddress [::1]:2200\n"})
    config = Config.model_validate(
        {
            "firewall": {
                "inbound": [
                    {"name": "ssh", "port": 2222, "sources": ["192.0.2.0/24"]},
                    {"name": "ssh6", "port": 2200, "protocol": "both"},
                ]
            }
        }
    )
    assert verdicts(root, config) == {"port 2200": Status.PASS, "port 2222": Status.PASS}


def test_udp_only_rule_does_not_admit_ssh(make_root: MakeRoot) -> None:
    root = make_root({"etc/ssh/sshd_config": "PermitRootLogin no\n"})
    config = Config.model_validate(
        {"firewall": {"inbound": [{"name": "ssh", "port": 22, "protocol": "udp"}]}}
    )
    assert verdicts(root, config) == {"port 22": Status.FAIL}
