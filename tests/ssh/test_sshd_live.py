"""The live path: a real `sshd -T` on test configs (never /etc/ssh), and its failure modes.

sshd -T needs /run/sshd, which exists only while the service runs; the collector then reruns
it in a private mount namespace with its own /run, so nothing on this machine changes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from garrison.checks.engine import run_audit, select_checks
from garrison.config.audit import AuditConfig, SshConfig
from garrison.config.schema import Config
from garrison.host.collectors.sshd import load_sshd_config, sshd_binary
from garrison.host.host import Host
from garrison.host.runner import CommandResult
from garrison.model import Status

pytestmark = [
    pytest.mark.skipif(shutil.which(sshd_binary()) is None, reason="sshd not installed"),
]
needs_root = pytest.mark.skipif(
    __import__("os").geteuid() != 0, reason="needs root (sshd -T, unshare)"
)


@pytest.fixture
def host_key(tmp_path: Path) -> Path:
    key = tmp_path / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sshd_config"
    path.write_text(text)
    return path


@needs_root
def test_real_sshd_t_values_with_origins(tmp_path: Path, host_key: Path) -> None:
    drop_in = tmp_path / "conf.d"
    drop_in.mkdir()
    (drop_in / "10-root.conf").write_text("PermitRootLogin no\n")
    config = write_config(
        tmp_path,
        f"Include {drop_in}/*.conf\nPermitRootLogin yes\nPort 2222\nMACs hmac-sha2-512\n"
        "Match User bob\n  PasswordAuthentication yes\n",
    )
    sshd = load_sshd_config(Host("/"), str(config), sshd_argv=(sshd_binary(), "-h", str(host_key)))
    assert sshd.from_sshd, sshd.fallback_reason
    root_login = sshd.effective("permitrootlogin")
    assert root_login.value == "no"
    assert root_login.origin == f"sshd -T (set at {drop_in}/10-root.conf:1)"
    assert sshd.effective("port").value == "2222"
    # Values sshd fills in itself are labelled as defaults.
    assert sshd.effective("maxauthtries").origin == "sshd -T (default)"
    assert sshd.effective("macs").value == "hmac-sha2-512"
    # sshd -T prints the global values; the Match block comes from the parser.
    assert sshd.effective("passwordauthentication").value == "yes"
    assert [b.criteria for b in sshd.match_blocks] == ["User bob"]
    assert sshd.host_keys() == (str(host_key),)


@needs_root
def test_sshd_syntax_error_falls_back_with_sshds_message(tmp_path: Path, host_key: Path) -> None:
    config = write_config(tmp_path, "PermitRootLogin no\nFrobnicate yes\n")
    sshd = load_sshd_config(Host("/"), str(config), sshd_argv=(sshd_binary(), "-h", str(host_key)))
    assert not sshd.from_sshd
    assert "Bad configuration option: Frobnicate" in sshd.fallback_reason
    assert sshd.effective("permitrootlogin").origin == f"{config}:1"


def test_sshd_missing_falls_back_to_parser(tmp_path: Path) -> None:
    config = write_config(tmp_path, "PasswordAuthentication no\n")
    sshd = load_sshd_config(Host("/"), str(config), sshd_argv=("garrison-test-no-such-sshd",))
    assert not sshd.from_sshd
    assert sshd.fallback_reason == "garrison-test-no-such-sshd is not installed"
    assert sshd.effective("passwordauthentication").value == "no"


def test_sshd_missing_and_no_config_on_live_host_skips(tmp_path: Path) -> None:
    from garrison.checks.base import CheckSkipped

    with pytest.raises(CheckSkipped):
        load_sshd_config(
            Host("/"), str(tmp_path / "absent"), sshd_argv=("garrison-test-no-such-sshd",)
        )


def test_runner_stub_timeout_is_reported(tmp_path: Path) -> None:
    config = write_config(tmp_path, "PermitRootLogin no\n")

    def hung(argv: Any, *, timeout: float) -> CommandResult:
        return CommandResult(tuple(argv), -1, "", "", timeout, timed_out=True)

    sshd = load_sshd_config(Host("/", runner=hung, command_timeout=3), str(config))
    assert "did not finish within 3s" in sshd.fallback_reason


def fake_sshd(tmp_path: Path, body: str) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    script = bindir / "sshd"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return bindir


def test_hanging_sshd_times_out_and_the_audit_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = fake_sshd(tmp_path, "exec sleep 30\n")
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    config_path = write_config(tmp_path, "PermitRootLogin no\nPasswordAuthentication yes\n")
    config = Config(
        ssh=SshConfig(sshd_config=str(config_path)), audit=AuditConfig(command_timeout_s=0.5)
    )
    host = Host("/", command_timeout=config.audit.command_timeout_s)
    report = run_audit(host, config, select_checks(config, areas=["ssh"]))
    by_id = {f.check_id: f for f in report.findings}
    known = by_id["GAR-SSH-001"]
    assert known.status is Status.WARN
    assert "did not finish within" in known.message
    # Every other check still judged the parsed file.
    assert by_id["GAR-SSH-002"].status is Status.PASS
    assert by_id["GAR-SSH-003"].status is Status.FAIL
    assert by_id["GAR-SSH-003"].evidence[0].source == f"{config_path}:2"
    assert not [f for f in report.findings if f.status is Status.ERROR]


def test_cli_with_failing_sshd_prints_one_line_and_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Any]
) -> None:
    bindir = fake_sshd(tmp_path, "echo '/x line 1: Bad configuration option: Nope' >&2\nexit 255\n")
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    config_path = write_config(tmp_path, "PermitRootLogin no\n")
    toml = tmp_path / "garrison.toml"
    toml.write_text(f'[ssh]\nsshd_config = "{config_path}"\n')
    result = cli("audit", "--config", str(toml), "--area", "ssh", "-f", "json")
    assert "Traceback" not in result.err
    findings = json.loads(result.out)["findings"]
    known = next(f for f in findings if f["check_id"] == "GAR-SSH-001")
    assert known["status"] == "warn"
    assert "Bad configuration option: Nope" in known["message"]


@needs_root
def test_live_host_audit_runs(cli: Callable[..., Any]) -> None:
    result = cli("audit", "--area", "ssh", "-f", "json")
    assert result.code in (0, 1), result.err
    findings = json.loads(result.out)["findings"]
    ids = {f["check_id"] for f in findings}
    assert {"GAR-SSH-001", "GAR-SSH-002", "GAR-SSH-028"} <= ids
    assert not [f for f in findings if f["status"] == "error"], findings


@needs_root
def test_no_mount_namespace_keeps_sshds_own_message(tmp_path: Path) -> None:
    """In a container without CAP_SYS_ADMIN the private-/run retry fails; say both."""
    config = write_config(tmp_path, "PermitRootLogin no\n")
    calls: list[tuple[str, ...]] = []

    def runner(argv: Any, *, timeout: float) -> CommandResult:
        calls.append(tuple(argv))
        if argv[0] == "unshare":
            return CommandResult(
                tuple(argv), 1, "", "unshare: unshare failed: Operation not permitted\n", 0.0
            )
        return CommandResult(
            tuple(argv), 255, "", "Missing privilege separation directory: /run/sshd\n", 0.0
        )

    sshd = load_sshd_config(Host("/", runner=runner), str(config), sshd_argv=("sshd",))
    assert [c[0] for c in calls] == ["sshd", "unshare"]
    assert "Missing privilege separation directory" in sshd.fallback_reason
    assert "Operation not permitted" in sshd.fallback_reason
    assert sshd.effective("permitrootlogin").origin == f"{config}:1"


def test_one_sshd_run_per_audit(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, "PermitRootLogin no\n")
    calls: list[tuple[str, ...]] = []

    def runner(argv: Any, *, timeout: float) -> CommandResult:
        calls.append(tuple(argv))
        return CommandResult(tuple(argv), 0, "permitrootlogin no\nport 22\n", "", 0.0)

    config = Config(ssh=SshConfig(sshd_config=str(config_path)))
    report = run_audit(Host("/", runner=runner), config, select_checks(config, areas=["ssh"]))
    assert [c for c in calls if "-T" in c] == [(sshd_binary(), "-T", "-f", str(config_path))]
    root = next(f for f in report.findings if f.check_id == "GAR-SSH-002")
    assert root.evidence[0].source == f"sshd -T (set at {config_path}:1)"
