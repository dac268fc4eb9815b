"""authorized_keys collection: line parsing, key sizes, modes and owners, hostile files."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import facts_for, fixture_root

from garrison.checks.engine import run_check
from garrison.checks.registry import find_check
from garrison.config.schema import Config
from garrison.host.collectors.authorized_keys import (
    collect_authorized_keys,
    describe_public_key,
    expand_pattern,
    split_key_line,
)
from garrison.host.host import Account, Host
from garrison.model import Finding, Status

MakeRoot = Callable[[Mapping[str, str | bytes]], Path]
PASSWD = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"
HARDENED = "PermitRootLogin no\n"


def fixture_key(root: str, path: str, index: int = 0) -> str:
    lines = (fixture_root(root) / path).read_text().splitlines()
    return [line for line in lines if line.startswith(("ssh-", "ecdsa-"))][index]


ED25519 = fixture_key("ssh-pass", "home/alice/.ssh/authorized_keys")
RSA4096 = fixture_key("ssh-pass", "home/alice/.ssh/authorized_keys", 1)


def run(check_id: str, root: Path, config: Config | None = None) -> list[Finding]:
    check = find_check(check_id)
    assert check is not None
    return run_check(check, facts_for(root, config))


def test_describe_keys_sizes_and_fingerprints() -> None:
    kind, blob = ED25519.split()[:2]
    info = describe_public_key(kind, blob)
    assert (info.family, info.bits) == ("ed25519", 256)
    expected = subprocess.run(
        ["ssh-keygen", "-l", "-f", "/dev/stdin"],
        input=ED25519,
        text=True,
        capture_output=True,
        check=True,
    ).stdout.split()[1]
    assert info.fingerprint == expected
    kind, blob = RSA4096.split()[:2]
    assert describe_public_key(kind, blob).bits == 4096


def test_split_key_line_with_quoted_options() -> None:
    line = f'command="echo \\"a b\\"",from="10.0.0.1" {ED25519}'
    options, kind, _blob, comment = split_key_line(line) or ("", "", "", "")
    assert options == 'command="echo \\"a b\\"",from="10.0.0.1"'
    assert kind == "ssh-ed25519"
    assert comment == "alice_ed@garrison-fixture"
    assert split_key_line("# comment") is None
    with pytest.raises(ValueError, match="unterminated quote"):
        split_key_line('command="oops ssh-ed25519 AAAA')


def test_certificate_key_is_read(tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    user = tmp_path / "user"
    for key in (ca, user):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-s", str(ca), "-I", "id", "-n", "alice", str(user) + ".pub"],
        check=True,
    )
    kind, blob = (tmp_path / "user-cert.pub").read_text().split()[:2]
    info = describe_public_key(kind, blob)
    assert (info.key_type, info.family) == ("ssh-ed25519-cert-v01@openssh.com", "ed25519")


def test_expand_pattern() -> None:
    alice = Account("alice", 1000, 1000, "/home/alice", "/bin/bash")
    assert expand_pattern(".ssh/authorized_keys", alice) == "/home/alice/.ssh/authorized_keys"
    assert expand_pattern("/etc/ssh/keys/%u-%U", alice) == "/etc/ssh/keys/alice-1000"
    assert expand_pattern("%h/.ssh/k%%", alice) == "/home/alice/.ssh/k%"


def test_dormant_unrestricted_root_key_only_warns(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/passwd": PASSWD,
            "etc/ssh/sshd_config": HARDENED,
            "root/.ssh/authorized_keys": ED25519 + "\n",
        }
    )
    (finding,) = run("GAR-SSH-025", root)
    assert finding.status is Status.WARN
    assert "dormant" in finding.message


def test_group_writable_file_and_foreign_owner_fail(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/passwd": PASSWD,
            "etc/ssh/sshd_config": HARDENED,
            "home/alice/.ssh/authorized_keys": ED25519 + "\n",
            "root/.ssh/authorized_keys": ED25519 + "\n",
        }
    )
    (root / "home/alice/.ssh/authorized_keys").chmod(0o664)
    (root / "home/alice").chmod(0o777)
    if os.geteuid() == 0:
        os.chown(root / "root/.ssh/authorized_keys", 1234, 1234)
    findings = {f.subject: f for f in run("GAR-SSH-026", root)}
    alice = findings["alice"]
    assert alice.status is Status.FAIL
    assert "file mode 0664 is group/world-writable" in alice.message
    assert "/home/alice is group/world-writable" in alice.message
    if os.geteuid() == 0:
        assert findings["root"].status is Status.FAIL
        assert "owned by uid 1234" in findings["root"].message


def test_hostile_files_do_not_block_or_crash(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/passwd": PASSWD,
            "etc/ssh/sshd_config": HARDENED,
            "root/.ssh/authorized_keys/oops": "a directory, not a file",
        }
    )
    (root / "home/alice/.ssh").mkdir(parents=True)
    os.mkfifo(root / "home/alice/.ssh/authorized_keys")  # a read would block forever
    found = collect_authorized_keys(Host(root), Config())
    problems = {p.where: p.problem for p in found.problems}
    assert "not a regular file" in problems["/home/alice/.ssh/authorized_keys"]
    assert "not a regular file" in problems["/root/.ssh/authorized_keys"]
    findings = run("GAR-SSH-027", root)
    assert {f.status for f in findings} == {Status.WARN}
    assert {f.subject for f in findings} == {"alice", "root"}


def test_keys_audited_even_without_sshd_config(make_root: MakeRoot) -> None:
    dsa = fixture_key("ssh-fail", "home/bob/.ssh/authorized_keys", 1)
    assert dsa.startswith("ssh-dss")
    root = make_root({"etc/passwd": PASSWD, "home/alice/.ssh/authorized_keys": dsa + "\n"})
    (finding,) = run("GAR-SSH-022", root)
    assert finding.status is Status.FAIL
    assert finding.evidence[0].source == "/home/alice/.ssh/authorized_keys:1"


def test_authorized_keys_file_none_means_no_files(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/passwd": PASSWD,
            "etc/ssh/sshd_config": "AuthorizedKeysFile none\n",
            "home/alice/.ssh/authorized_keys": "garbage\n",
        }
    )
    found = collect_authorized_keys(Host(root), Config())
    assert (found.keys, found.problems, found.files) == ((), (), ())


CANARY = "GARRISON-CANARY-7f3a9c"


def test_key_options_and_material_never_reach_the_report(
    make_root: MakeRoot, cli: Callable[..., Any]
) -> None:
    """Options can carry secrets (environment="API_KEY=..."); reports show fingerprints only."""
    blob = ED25519.split()[1]
    root = make_root(
        {
            "etc/passwd": PASSWD,
            "etc/ssh/sshd_config": "PermitRootLogin yes\n",
            "root/.ssh/authorized_keys": f'environment="BYBIT_SECRET={CANARY}" {ED25519}\n'
            f"ssh-rsa {CANARY}\n{CANARY} pasted by mistake\n",
        }
    )
    for fmt in ("table", "json", "sarif", "junit"):
        result = cli("audit", "--root", str(root), "--area", "ssh", "-v", "-f", fmt)
        assert result.code in (0, 1), result.err
        assert CANARY not in result.out + result.err, fmt
        assert blob not in result.out, fmt


def test_host_key_without_pub_is_read_from_the_private_key(
    make_root: MakeRoot, tmp_path: Path
) -> None:
    key = tmp_path / "hostkey"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(key)], check=True
    )
    root = make_root(
        {
            "etc/ssh/sshd_config": "HostKey /etc/ssh/ssh_host_rsa_key\n",
            "etc/ssh/ssh_host_rsa_key": key.read_bytes(),
        }
    )
    (finding,) = run("GAR-SSH-021", root)
    assert finding.status is Status.FAIL
    assert finding.evidence[0].source == "/etc/ssh/ssh_host_rsa_key"
    assert "rsa 2048 bits" in finding.evidence[0].observed
    assert "PRIVATE KEY" not in str(finding)


def test_authorized_keys_command_is_flagged_as_unaudited(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/passwd": PASSWD,
            "etc/ssh/sshd_config": "AuthorizedKeysCommand /usr/bin/cloud-keys %u\n"
            "AuthorizedKeysCommandUser nobody\n",
        }
    )
    (finding,) = run("GAR-SSH-027", root)
    assert finding.status is Status.WARN
    assert finding.evidence[0].source == "/etc/ssh/sshd_config:1"


def test_root_key_flagged_without_any_sshd_config(make_root: MakeRoot) -> None:
    root = make_root({"etc/passwd": PASSWD, "root/.ssh/authorized_keys": ED25519 + "\n"})
    (finding,) = run("GAR-SSH-025", root)
    assert finding.status is Status.FAIL
    assert finding.subject == "root"
