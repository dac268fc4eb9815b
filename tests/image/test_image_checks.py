"""Which image findings each fixture root produces (through the real engine and CLI)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult, facts_for, fixture_root

from garrison.checks.engine import run_check
from garrison.checks.image import (
    AuthenticatedPackageSources,
    NoCompilers,
    NoGraphicalStack,
    NoLegacyServices,
)
from garrison.config.audit import AuditConfig
from garrison.config.schema import Config
from garrison.model import Finding, Severity, Status


def by_subject(findings: list[Finding]) -> dict[str, Finding]:
    return {f.subject: f for f in findings}


def test_pass_root_has_no_compiler_gui_or_legacy_service() -> None:
    facts = facts_for(fixture_root("image-pass"))
    for check in (NoCompilers, NoGraphicalStack, NoLegacyServices, AuthenticatedPackageSources):
        findings = run_check(check, facts)
        assert [f.status for f in findings] == [Status.PASS], (check.meta.id, findings)


def test_compilers_are_named_with_version_and_line() -> None:
    findings = run_check(NoCompilers, facts_for(fixture_root("image-fail")))
    failed = by_subject([f for f in findings if f.status == Status.FAIL])
    assert set(failed) == {"gcc-12", "g++", "build-essential", "rustc"}
    gcc = failed["gcc-12"]
    assert "12.2.0-14+deb12u1" in gcc.message
    assert gcc.evidence[0].source.startswith("/var/lib/dpkg/status:")
    assert "build wheels" in gcc.remediation


def test_gui_stack_flags_servers_and_toolkits_not_libx11() -> None:
    findings = run_check(NoGraphicalStack, facts_for(fixture_root("image-fail")))
    failed = by_subject([f for f in findings if f.status == Status.FAIL])
    assert set(failed) == {"xserver-xorg-core", "lightdm", "libgtk-3-0", "xvfb"}
    assert failed["libgtk-3-0"].severity == Severity.LOW
    assert failed["lightdm"].severity == Severity.MEDIUM


def test_legacy_services_servers_high_clients_low() -> None:
    findings = run_check(NoLegacyServices, facts_for(fixture_root("image-fail")))
    failed = by_subject([f for f in findings if f.status == Status.FAIL])
    assert set(failed) == {"telnetd", "telnet", "rpcbind", "avahi-daemon", "vsftpd"}
    assert failed["telnetd"].severity == Severity.HIGH
    assert failed["telnet"].severity == Severity.LOW
    assert "0.17+2.4-2+deb12u1" in failed["telnetd"].message


def test_allowed_packages_turn_a_failure_into_a_pass() -> None:
    config = Config(audit=AuditConfig(allowed_packages=["xvfb", "xserver-*", "lightdm", "libgtk*"]))
    findings = run_check(NoGraphicalStack, facts_for(fixture_root("image-fail"), config))
    assert [f.status for f in findings] == [Status.PASS]
    assert "xvfb" in findings[0].message and "allowed" in findings[0].message


def test_unsigned_sources_and_apt_options_fail() -> None:
    findings = run_check(AuthenticatedPackageSources, facts_for(fixture_root("image-fail")))
    failed = by_subject([f for f in findings if f.status == Status.FAIL])
    assert set(failed) == {
        "http://mirror.example-hoster.net/debian",
        "apt::get::allowunauthenticated",
    }
    assert failed["http://mirror.example-hoster.net/debian"].evidence[0].source == (
        "/etc/apt/sources.list:3"
    )
    assert failed["apt::get::allowunauthenticated"].evidence[0].source == (
        "/etc/apt/apt.conf.d/99hoster:4"
    )


def test_apk_image() -> None:
    facts = facts_for(fixture_root("image-apk"))
    compilers = by_subject(run_check(NoCompilers, facts))
    assert compilers["gcc"].status == Status.FAIL
    legacy = by_subject(run_check(NoLegacyServices, facts))
    assert legacy["busybox-extras"].status == Status.FAIL
    (sources,) = run_check(AuthenticatedPackageSources, facts)
    assert sources.status == Status.SKIP


def test_distroless_image() -> None:
    findings = run_check(NoCompilers, facts_for(fixture_root("image-distroless")))
    assert [(f.subject, f.status) for f in findings] == [("gcc-12", Status.FAIL)]
    assert findings[0].evidence[0].source == "/var/lib/dpkg/status.d/gcc-12:1"


def test_no_package_database_skips(tmp_path: Path) -> None:
    (finding,) = run_check(NoCompilers, facts_for(tmp_path))
    assert finding.status == Status.SKIP
    assert "no package database" in finding.message


def test_cli_json_on_fail_root(cli: Callable[..., CliResult]) -> None:
    result = cli(
        "audit", "--root", str(fixture_root("image-fail")), "--area", "image", "-f", "json"
    )
    assert result.code == 1, result.err
    data = json.loads(result.out)
    statuses = {(f["check_id"], f["subject"]): f["status"] for f in data["findings"]}
    assert statuses[("GAR-IMG-001", "gcc-12")] == "fail"
    assert statuses[("GAR-IMG-003", "telnetd")] == "fail"
    assert statuses[("GAR-IMG-004", "")] == "skip"  # listening sockets: live only


def test_cli_on_pass_root_exits_zero(cli: Callable[..., CliResult]) -> None:
    result = cli(
        "audit", "--root", str(fixture_root("image-pass")), "--area", "image", "-f", "json"
    )
    assert result.code == 0, result.out
    data = json.loads(result.out)
    assert {f["check_id"]: f["status"] for f in data["findings"]} == {
        "GAR-IMG-001": "pass",
        "GAR-IMG-002": "pass",
        "GAR-IMG-003": "pass",
        "GAR-IMG-004": "skip",
        "GAR-IMG-005": "pass",
    }


def test_unreadable_database_is_one_line_error_and_the_audit_goes_on(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    (tmp_path / "var/lib/dpkg/status").mkdir(parents=True)  # a directory where a file belongs
    (tmp_path / "etc/apt").mkdir(parents=True)
    result = cli(
        "audit", "--root", str(tmp_path), "--area", "image", "--area", "kernel", "-f", "json"
    )
    assert result.code == 1
    assert "Traceback" not in result.err
    findings = json.loads(result.out)["findings"]
    img1 = next(f for f in findings if f["check_id"] == "GAR-IMG-001")
    assert img1["status"] == "error"
    assert img1["message"] == "/var/lib/dpkg/status: is a directory, expected a file"
    reboot = next(f for f in findings if f["check_id"] == "GAR-KRN-006")
    assert reboot["status"] == "pass"  # independent checks still ran


def test_rpm_image() -> None:
    facts = facts_for(fixture_root("image-rpm"))
    failed = {
        (f.check_id, f.subject)
        for check in (NoCompilers, NoGraphicalStack, NoLegacyServices)
        for f in run_check(check, facts)
        if f.status == Status.FAIL
    }
    assert failed == {
        ("GAR-IMG-001", "gcc"),
        ("GAR-IMG-002", "xorg-x11-server-Xorg"),
        ("GAR-IMG-003", "telnet-server"),
    }
