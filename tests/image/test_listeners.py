"""GAR-IMG-004 against real sockets this test opens on loopback and the wildcard address."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import facts_for, needs_root, write_tree

from garrison.checks.engine import run_check
from garrison.checks.image import OnlyExpectedListeners, expected_ssh_ports, is_expected_listener
from garrison.config.audit import AuditConfig, SshConfig
from garrison.config.schema import Config
from garrison.host.collectors.sockets import ListeningSocket, collect_ssh_ports
from garrison.model import Finding, Status


@pytest.fixture
def listeners() -> Iterator[dict[str, socket.socket]]:
    """A TCP listener on 127.0.0.1, one on 0.0.0.0 and a bound UDP socket, on random ports."""
    opened: dict[str, socket.socket] = {}
    try:
        for name, kind, address in (
            ("tcp-loopback", socket.SOCK_STREAM, "127.0.0.1"),
            ("tcp-wildcard", socket.SOCK_STREAM, "0.0.0.0"),  # noqa: S104 (what is tested)
            ("udp-wildcard", socket.SOCK_DGRAM, "0.0.0.0"),  # noqa: S104
        ):
            sock = socket.socket(socket.AF_INET, kind)
            opened[name] = sock
            sock.bind((address, 0))
            if kind == socket.SOCK_STREAM:
                sock.listen()
        yield opened
    finally:
        for sock in opened.values():
            sock.close()


def port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def findings_for(config: Config) -> dict[str, Finding]:
    findings = run_check(OnlyExpectedListeners, facts_for(Path("/"), config))
    return {f.subject: f for f in findings}


@needs_root
def test_unexpected_listeners_are_reported_with_this_pid(
    listeners: dict[str, socket.socket],
) -> None:
    found = findings_for(Config())
    loopback = found[f"tcp 127.0.0.1:{port(listeners['tcp-loopback'])}"]
    wildcard = found[f"tcp 0.0.0.0:{port(listeners['tcp-wildcard'])}"]
    udp = found[f"udp 0.0.0.0:{port(listeners['udp-wildcard'])}"]
    assert loopback.status == Status.WARN
    assert wildcard.status == Status.FAIL
    assert udp.status == Status.FAIL
    for finding in (loopback, wildcard, udp):
        assert f"pid {os.getpid()}" in finding.evidence[0].observed
        assert "python" in finding.evidence[0].observed


@needs_root
def test_expected_ports_are_not_reported(listeners: dict[str, socket.socket]) -> None:
    ports = [port(s) for s in listeners.values()]
    found = findings_for(Config(audit=AuditConfig(expected_ports=ports)))
    reported = {subject for subject in found if subject.endswith(tuple(f":{p}" for p in ports))}
    assert reported == set()


@needs_root
def test_ssh_port_from_sshd_config_is_expected(
    listeners: dict[str, socket.socket], tmp_path: Path
) -> None:
    wildcard = port(listeners["tcp-wildcard"])
    conf = write_tree(tmp_path, {"sshd_config": f"# custom port\nPort {wildcard}\n"})
    config = Config(ssh=SshConfig(sshd_config=str(conf / "sshd_config")))
    found = findings_for(config)
    assert f"tcp 0.0.0.0:{wildcard}" not in found
    assert f"tcp 127.0.0.1:{port(listeners['tcp-loopback'])}" in found


def test_ssh_ports_follow_include(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nPort 22\n",
            "etc/ssh/sshd_config.d/10-port.conf": "Port 2222\n",
            "etc/ssh/sshd_config.d/readme.txt": "Port 9999\n",
        },
    )
    ports = facts_for(root).get(collect_ssh_ports)
    assert ports.ports == (22, 2222)
    assert "/etc/ssh/sshd_config.d/10-port.conf:1" in ports.source


def test_ssh_port_defaults_to_22(tmp_path: Path) -> None:
    assert facts_for(tmp_path).get(collect_ssh_ports).ports == (22,)


def test_listeners_skip_under_root(tmp_path: Path) -> None:
    (finding,) = run_check(OnlyExpectedListeners, facts_for(tmp_path))
    assert finding.status == Status.SKIP


@needs_root
@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
def test_ipv6_listeners() -> None:
    loopback = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    wildcard = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        try:
            loopback.bind(("::1", 0))
            wildcard.bind(("::", 0))
        except OSError as exc:
            pytest.skip(f"IPv6 not usable here: {exc}")
        loopback.listen()
        wildcard.listen()
        found = findings_for(Config())
        assert found[f"tcp [::1]:{port(loopback)}"].status == Status.WARN
        assert found[f"tcp [::]:{port(wildcard)}"].status == Status.FAIL
    finally:
        loopback.close()
        wildcard.close()


WILDCARD = "0.0.0.0"  # noqa: S104 (a value under test, not a bind)


@pytest.mark.parametrize(
    ("sock", "expected"),
    [
        (ListeningSocket("udp", "127.0.0.53", 53, 1, "systemd-resolve", ""), True),
        (ListeningSocket("udp", "::1", 323, 1, "chronyd", ""), True),
        (ListeningSocket("udp", WILDCARD, 323, 1, "chronyd", ""), False),  # not loopback
        (ListeningSocket("tcp", "127.0.0.1", 53, 1, "dnsmasq", ""), False),
        (ListeningSocket("udp", WILDCARD, 68, 1, "dhclient", ""), True),
        (ListeningSocket("tcp", WILDCARD, 68, 1, "nc", ""), False),  # DHCP is udp only
        (ListeningSocket("tcp", "::", 443, 1, "nginx", ""), True),  # in expected_ports below
    ],
)
def test_expected_listener_rules(sock: ListeningSocket, expected: bool) -> None:
    assert is_expected_listener(sock, frozenset({22, 443})) is expected


def test_expected_ssh_ports_use_the_ssh_areas_view(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "with",
        {"etc/ssh/sshd_config": "Port 2222\nListenAddress 127.0.0.1:2223\n"},
    )
    assert expected_ssh_ports(facts_for(root)).ports == (2222, 2223)
    (tmp_path / "without").mkdir()
    fallback = expected_ssh_ports(facts_for(tmp_path / "without"))  # no sshd: plain default
    assert fallback.ports == (22,)
    assert fallback.source.startswith("default")
