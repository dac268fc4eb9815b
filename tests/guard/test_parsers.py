"""Parsers of the sources and the glob language, on recorded wire/log formats."""

from __future__ import annotations

import struct

import pytest

from garrison.guard.pathglob import PathFilter, glob_match
from garrison.guard.sources.audit import parse_fields
from garrison.guard.sources.authlog import parse_auth_line
from garrison.guard.sources.nflog import NFULA_PAYLOAD, NFULA_UID, _attr, parse_attrs, parse_payload


def ipv4_tcp(dst: bytes, dport: int) -> bytes:
    header = bytes([0x45, 0, 0, 60, 0, 0, 0, 0, 64, 6, 0, 0]) + bytes([10, 0, 0, 1]) + dst
    return header + struct.pack("!HH", 40000, dport) + b"\0" * 16


def test_nflog_attributes_and_ipv4_payload() -> None:
    body = _attr(NFULA_PAYLOAD, ipv4_tcp(bytes([203, 0, 113, 9]), 4444)) + _attr(
        NFULA_UID, struct.pack("!I", 1000)
    )
    attrs = parse_attrs(body)
    assert struct.unpack("!I", attrs[NFULA_UID])[0] == 1000
    assert parse_payload(attrs[NFULA_PAYLOAD]) == {
        "src": "10.0.0.1",
        "dst": "203.0.113.9",
        "proto": "tcp",
        "sport": 40000,
        "dport": 4444,
    }


def test_nflog_ipv6_udp_payload() -> None:
    header = (
        bytes([0x60, 0, 0, 0, 0, 8, 17, 64])
        + bytes(15)
        + b"\x01"
        + bytes([0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [9])
    )
    parsed = parse_payload(header + struct.pack("!HHHH", 5353, 53, 8, 0))
    assert parsed["dst"] == "2001:db8::9" and parsed["proto"] == "udp" and parsed["dport"] == 53


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Nov 24 10:00:00 vps sudo: pam_unix(sudo:auth): authentication failure; logname=bob "
            "uid=1000 euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=bob",
            {"program": "sudo", "by": "bob", "user": "bob"},
        ),
        (
            "Nov 24 10:00:05 vps sudo:      bob : 3 incorrect password attempts ; TTY=pts/0 ; "
            "PWD=/home/bob ; USER=root ; COMMAND=/bin/sh",
            {"program": "sudo", "by": "bob", "user": "root"},
        ),
        (
            "Nov 24 10:00:09 vps su[77]: FAILED SU (to root) mallory on pts/1",
            {"program": "su", "by": "mallory", "user": "root"},
        ),
        (
            "Nov 24 10:00:09 vps sudo:      bob : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls",
            None,
        ),
        ("Nov 24 10:00:09 vps sshd[5]: Failed password for root from 198.51.100.4", None),
    ],
)
def test_auth_log_lines(line: str, expected: dict[str, str] | None) -> None:
    assert parse_auth_line(line) == expected


def test_audit_fields_inside_user_auth_msg() -> None:
    text = (
        "pid=4242 uid=1000 auid=1000 ses=3 msg='op=PAM:authentication grantors=? "
        'acct="root" exe="/usr/bin/su" hostname=vps addr=? terminal=pts/0 res=failed\''
    )
    fields = parse_fields(text)
    assert fields["exe"] == "/usr/bin/su" and fields["res"] == "failed" and fields["acct"] == "root"


def test_globs_and_filter() -> None:
    assert glob_match("/home/*/.ssh/authorized_keys*", "/home/bot/.ssh/authorized_keys2")
    assert not glob_match("/home/*/.ssh/authorized_keys*", "/home/a/b/.ssh/authorized_keys")
    assert glob_match("/usr/bin/**", "/usr/bin/x/y")
    assert glob_match("**/__pycache__/*", "/usr/lib/python3/dist-packages/__pycache__/a.pyc")
    watched = PathFilter(["/usr/bin", "/home/*/.ssh", "/etc/cron.*/**"])
    assert "/usr/bin/ls" in watched and "/usr/bin" in watched
    assert "/usr/binx" not in watched
    assert "/home/bot/.ssh/authorized_keys" in watched  # prefix /home/
    assert "/var/log/syslog" not in watched
