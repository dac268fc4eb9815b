"""Kernel findings per fixture root, build-date parsing, live patching, and a hanging tool."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from tests.conftest import CliResult, facts_for, fixture_root

import garrison.checks.kernel as kernel_checks
from garrison.checks.engine import run_check
from garrison.checks.kernel import KernelRecent, LivePatchingActive, NewestKernelRunning
from garrison.checks.updates import (
    AutomaticSecurityUpdates,
    NoRebootPending,
    SecurityRepositoryConfigured,
)
from garrison.config.audit import AuditConfig
from garrison.config.schema import Config
from garrison.host.collectors.kernel import (
    InstalledKernel,
    RunningKernel,
    _kernel_package_release,
    collect_running_kernel,
    find_installed_kernels,
    parse_build_date,
    parse_distro_kernel_version,
)
from garrison.host.collectors.packages import collect_packages
from garrison.host.collectors.updates import parse_deb822_sources, parse_one_line_sources
from garrison.host.facts import Facts
from garrison.host.host import Host
from garrison.model import Finding, Status

FROZEN_TODAY = date(2025, 2, 20)  # 12 days after the kernel-pass changelog entry


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel_checks, "today", lambda: FROZEN_TODAY)


def statuses(root: str) -> dict[str, Status]:
    facts = facts_for(fixture_root(root))
    out: dict[str, Status] = {}
    for check in (
        KernelRecent,
        AutomaticSecurityUpdates,
        SecurityRepositoryConfigured,
        NoRebootPending,
        NewestKernelRunning,
        LivePatchingActive,
    ):
        (finding,) = run_check(check, facts)
        out[check.meta.id] = finding.status
    return out


def test_kernel_pass_root() -> None:
    assert statuses("kernel-pass") == {
        "GAR-KRN-001": Status.PASS,
        "GAR-KRN-002": Status.SKIP,  # live only
        "GAR-KRN-003": Status.SKIP,  # live only
        "GAR-KRN-004": Status.PASS,
        "GAR-KRN-005": Status.PASS,
        "GAR-KRN-006": Status.PASS,
    }


def test_kernel_fail_root() -> None:
    assert statuses("kernel-fail") == {
        "GAR-KRN-001": Status.FAIL,
        "GAR-KRN-002": Status.SKIP,
        "GAR-KRN-003": Status.SKIP,
        "GAR-KRN-004": Status.FAIL,
        "GAR-KRN-005": Status.FAIL,
        "GAR-KRN-006": Status.WARN,
    }


def test_image_kernel_age_names_the_newest_kernel_and_its_date_source() -> None:
    (finding,) = run_check(KernelRecent, facts_for(fixture_root("kernel-pass")))
    assert "6.1.0-31-amd64" in finding.message  # newer than 6.1.0-28 by Debian ordering
    assert finding.evidence[0].source == (
        "/usr/share/doc/linux-image-6.1.0-31-amd64/changelog.Debian.gz"
    )
    assert "2025-02-08" in finding.evidence[0].observed


def test_kernel_age_threshold_comes_from_config() -> None:
    config = Config(audit=AuditConfig(kernel_max_age_days=7))
    (finding,) = run_check(KernelRecent, facts_for(fixture_root("kernel-pass"), config))
    assert finding.status == Status.FAIL
    assert "12 days ago" in finding.message


def test_image_kernel_without_package_is_dated_by_mtime(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    image = tmp_path / "boot/vmlinuz-6.12.0-1-amd64"
    image.write_bytes(b"")
    stamp = 1739404800  # 2025-02-13
    os.utime(image, (stamp, stamp))
    (finding,) = run_check(KernelRecent, facts_for(tmp_path))
    assert finding.status == Status.PASS
    assert finding.evidence[0].source == "mtime of /boot/vmlinuz-6.12.0-1-amd64"


def test_automatic_updates_failure_names_each_problem() -> None:
    (finding,) = run_check(AutomaticSecurityUpdates, facts_for(fixture_root("kernel-fail")))
    sources = {e.source for e in finding.evidence}
    assert "/etc/apt/apt.conf.d/20auto-upgrades:2" in sources  # Unattended-Upgrade "0"
    assert "/etc/apt/apt.conf.d/50unattended-upgrades:2" in sources  # no security origin
    assert "/etc/systemd/system/apt-daily-upgrade.timer" in sources  # masked


def test_missing_unattended_upgrades(tmp_path: Path) -> None:
    root = tmp_path
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: apt\nStatus: install ok installed\nVersion: 2.6.1\n"
    )
    (finding,) = run_check(AutomaticSecurityUpdates, facts_for(root))
    assert finding.status == Status.FAIL
    observed = [e.observed for e in finding.evidence]
    assert "unattended-upgrades not installed" in observed
    assert "APT::Periodic::Unattended-Upgrade not set" in observed


def test_nested_apt_conf_syntax_counts(tmp_path: Path) -> None:
    root = fixture_root("kernel-pass")
    facts = facts_for(root)
    (finding,) = run_check(AutomaticSecurityUpdates, facts)
    assert finding.status == Status.PASS
    other = tmp_path / "r"
    shutil.copytree(root, other, symlinks=True)
    (other / "etc/apt/apt.conf.d/20auto-upgrades").write_text(
        'APT {\n  Periodic {\n    Update-Package-Lists "1";\n    Unattended-Upgrade "1";\n  };\n};\n'
        "// a later file wins\n"
    )
    (other / "etc/apt/apt.conf.d/99local").write_text('APT::Periodic::Unattended-Upgrade "0";\n')
    (finding,) = run_check(AutomaticSecurityUpdates, facts_for(other))
    assert finding.status == Status.FAIL
    assert [e.source for e in finding.evidence] == ["/etc/apt/apt.conf.d/99local:1"]
    (other / "etc/apt/apt.conf.d/99local").rename(other / "etc/apt/apt.conf.d/99local.dpkg-old")
    (finding,) = run_check(AutomaticSecurityUpdates, facts_for(other))
    assert finding.status == Status.PASS  # apt ignores *.dpkg-old, so does garrison


def test_dnf_automatic() -> None:
    (good,) = run_check(AutomaticSecurityUpdates, facts_for(fixture_root("kernel-dnf-pass")))
    assert good.status == Status.PASS and "security" in good.message
    (bad,) = run_check(AutomaticSecurityUpdates, facts_for(fixture_root("kernel-dnf-fail")))
    assert bad.status == Status.FAIL
    assert {e.observed for e in bad.evidence} == {
        "apply_updates = no",
        "no dnf-automatic timer enabled",
    }


def test_reboot_required_lists_packages_once() -> None:
    (finding,) = run_check(NoRebootPending, facts_for(fixture_root("kernel-fail")))
    assert finding.status == Status.WARN
    assert "linux-image-6.1.0-21-amd64, libc6" in finding.message


def test_cli_kernel_fail_root_json(cli: Callable[..., CliResult]) -> None:
    result = cli(
        "audit", "--root", str(fixture_root("kernel-fail")), "--area", "kernel", "-f", "json"
    )
    assert result.code == 1
    data = json.loads(result.out)
    got = {f["check_id"]: f["status"] for f in data["findings"]}
    assert got["GAR-KRN-001"] == "fail"
    assert got["GAR-KRN-005"] == "fail"
    assert got["GAR-KRN-002"] == "skip"


# -- the running kernel ----------------------------------------------------------------------

UNAME_V = [
    ("#1 SMP PREEMPT_DYNAMIC Debian 6.1.129-1 (2025-03-06)", date(2025, 3, 6), "6.1.129-1"),
    ("#1 SMP Debian 5.10.234-1 (2025-02-24)", date(2025, 2, 24), "5.10.234-1"),
    ("#26~22.04.1-Ubuntu SMP PREEMPT_DYNAMIC Thu Jul 11 22:33:04 UTC 2", None, ""),
    ("#57-Ubuntu SMP PREEMPT_DYNAMIC Wed Feb 12 23:42:21 UTC 2025", date(2025, 2, 12), ""),
    ("#1 SMP PREEMPT_DYNAMIC Tue Nov 11 12:00:00 UTC 2025", date(2025, 11, 11), ""),
    ("#1 SMP PREEMPT_DYNAMIC Fri Jan 10 08:59:58 EST 2025", date(2025, 1, 10), ""),
    ("#1 SMP PREEMPT_DYNAMIC Sat, 01 Mar 2025 16:13:41 +0000", date(2025, 3, 1), ""),
    ("#1-Alpine SMP PREEMPT_DYNAMIC 2025-02-14 10:23:42", date(2025, 2, 14), ""),
    ("#1 SMP PREEMPT_DYNAMIC @1741219200", date(2025, 3, 6), ""),
    ("#1 SMP PREEMPT_DYNAMIC @0", None, ""),  # reproducible build: no real date
    ("#1 SMP", None, ""),
]


@pytest.mark.parametrize(("version", "built", "package"), UNAME_V)
def test_build_date_parsing(version: str, built: date | None, package: str) -> None:
    assert parse_build_date(version) == built
    assert parse_distro_kernel_version(version) == package


def test_running_kernel_is_read_from_proc() -> None:
    kernel = Facts(Host("/"), Config()).get(collect_running_kernel)
    assert kernel.release == os.uname().release
    assert kernel.version == os.uname().version


def test_undated_running_kernel_is_manual_not_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    undated = RunningKernel("6.18.0-test", "#1 SMP PREEMPT_DYNAMIC @0", None, "", "uname -v")
    monkeypatch.setattr(kernel_checks, "collect_running_kernel", lambda host, config: undated)
    monkeypatch.setattr(kernel_checks, "find_installed_kernels", lambda host, db: ())
    (finding,) = run_check(KernelRecent, Facts(Host("/"), Config()))
    assert finding.status == Status.MANUAL
    assert finding.evidence[0].observed == "#1 SMP PREEMPT_DYNAMIC @0"


def test_undated_running_kernel_is_dated_by_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    undated = RunningKernel("6.1.0-31-amd64", "#1 SMP @0", None, "", "uname -v")
    packaged = InstalledKernel(
        "6.1.0-31-amd64",
        "linux-image-6.1.0-31-amd64",
        "6.1.128-1",
        "",
        date(2025, 2, 8),
        "/usr/share/doc/linux-image-6.1.0-31-amd64/changelog.Debian.gz",
    )
    monkeypatch.setattr(kernel_checks, "collect_running_kernel", lambda host, config: undated)
    monkeypatch.setattr(kernel_checks, "find_installed_kernels", lambda host, db: (packaged,))
    (finding,) = run_check(KernelRecent, Facts(Host("/"), Config()))
    assert finding.status == Status.PASS
    assert "date from /usr/share/doc/linux-image-6.1.0-31-amd64" in finding.message


def test_running_kernel_age_fails_when_old(monkeypatch: pytest.MonkeyPatch) -> None:
    old = RunningKernel(
        "6.1.0-21-amd64",
        "#1 SMP Debian 6.1.90-1 (2024-05-18)",
        date(2024, 5, 18),
        "6.1.90-1",
        "/proc/sys/kernel/version (uname -v)",
    )
    monkeypatch.setattr(kernel_checks, "collect_running_kernel", lambda host, config: old)
    (finding,) = run_check(KernelRecent, Facts(Host("/"), Config()))
    assert finding.status == Status.FAIL
    assert "278 days ago (2024-05-18), more than 30" in finding.message


def newest_running(root: str, running: RunningKernel, monkeypatch: pytest.MonkeyPatch) -> Finding:
    """NewestKernelRunning on a fixture root, pretending `running` is booted."""
    monkeypatch.setattr(kernel_checks, "collect_running_kernel", lambda host, config: running)
    (finding,) = list(NewestKernelRunning().run(facts_for(fixture_root(root))))
    return finding


def test_newer_kernel_installed_but_not_booted(monkeypatch: pytest.MonkeyPatch) -> None:
    old = RunningKernel(
        "6.1.0-28-amd64",
        "#1 SMP Debian 6.1.119-1 (2024-11-30)",
        date(2024, 11, 30),
        "6.1.119-1",
        "uname -v",
    )
    finding = newest_running("kernel-pass", old, monkeypatch)
    assert finding.status == Status.FAIL
    assert "6.1.0-31-amd64 is installed but 6.1.0-28-amd64 is running" in finding.message


def test_same_abi_newer_build_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = RunningKernel(
        "6.1.0-31-amd64",
        "#1 SMP Debian 6.1.124-1 (2025-01-14)",
        date(2025, 1, 14),
        "6.1.124-1",
        "uname -v",
    )
    finding = newest_running("kernel-pass", stale, monkeypatch)
    assert finding.status == Status.FAIL
    assert "6.1.128-1 is installed but the running build is 6.1.124-1" in finding.message


def test_newest_kernel_running(monkeypatch: pytest.MonkeyPatch) -> None:
    current = RunningKernel(
        "6.1.0-31-amd64",
        "#1 SMP Debian 6.1.128-1 (2025-02-08)",
        date(2025, 2, 8),
        "6.1.128-1",
        "uname -v",
    )
    assert newest_running("kernel-pass", current, monkeypatch).status == Status.PASS


# -- live patching: real processes standing in for the vendor tools ---------------------------


def fake_tool(bindir: Path, name: str, script: str) -> None:
    path = bindir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def bindir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH directory in front of the system's, for fake vendor tools."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}:{os.environ.get('PATH', '')}")
    return directory


def livepatch_finding(timeout: float = 10.0) -> Finding:
    (finding,) = run_check(LivePatchingActive, Facts(Host("/", command_timeout=timeout), Config()))
    return finding


@pytest.mark.skipif(Path("/sys/kernel/livepatch").exists(), reason="host has live patches")
def test_no_live_patching_fails(bindir: Path) -> None:
    finding = livepatch_finding()
    assert finding.status == Status.FAIL
    assert "no active live patching" in finding.message


@pytest.mark.skipif(Path("/sys/kernel/livepatch").exists(), reason="host has live patches")
def test_kpatch_with_loaded_patch_passes(bindir: Path) -> None:
    fake_tool(
        bindir,
        "kpatch",
        'printf "Loaded patch modules:\\nkpatch_cve_2025_1 [enabled]\\n'
        '\\nInstalled patch modules:\\n"\n',
    )
    finding = livepatch_finding()
    assert finding.status == Status.PASS
    assert finding.evidence[0].source == "kpatch list"
    assert "kpatch_cve_2025_1 [enabled]" in finding.evidence[0].observed


@pytest.mark.skipif(Path("/sys/kernel/livepatch").exists(), reason="host has live patches")
def test_installed_but_idle_tool_is_not_enough(bindir: Path) -> None:
    fake_tool(bindir, "kcarectl", 'echo "kpatch-state: no patch"\n')
    fake_tool(bindir, "kpatch", 'printf "Loaded patch modules:\\n\\nInstalled patch modules:\\n"\n')
    finding = livepatch_finding()
    assert finding.status == Status.FAIL
    assert {e.source for e in finding.evidence} == {"kcarectl --info", "kpatch list"}


@pytest.mark.skipif(Path("/sys/kernel/livepatch").exists(), reason="host has live patches")
def test_hanging_tool_is_one_line_error(bindir: Path) -> None:
    fake_tool(bindir, "canonical-livepatch", "exec sleep 30\n")
    finding = livepatch_finding(timeout=1.0)
    assert finding.status == Status.ERROR
    assert "`canonical-livepatch status --format yaml` did not finish" in finding.message
    assert "\n" not in finding.message


def test_alpine_periodic_apk_upgrade(tmp_path: Path) -> None:
    (good,) = run_check(AutomaticSecurityUpdates, facts_for(fixture_root("image-apk")))
    assert good.status == Status.PASS
    assert good.evidence[0].source == "/etc/periodic/daily/apk-upgrade:3"
    shutil.copytree(fixture_root("image-apk"), tmp_path / "r")
    (tmp_path / "r/etc/periodic/daily/apk-upgrade").write_text("# apk upgrade disabled\n")
    (bad,) = run_check(AutomaticSecurityUpdates, facts_for(tmp_path / "r"))
    assert bad.status == Status.FAIL


def test_deb822_and_one_line_sources() -> None:
    deb822 = (
        "Types: deb deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://security.debian.org/debian-security\n"
        "Suites: bookworm-security\nComponents: main\nEnabled: no\n\n"
        "Types: deb\nURIs: http://apt.example.com\nSuites: stable\nTrusted: yes\n"
    )
    found = parse_deb822_sources(deb822, "x.sources")
    assert [(s.uri, s.suite, s.origin) for s in found] == [
        ("http://deb.debian.org/debian", "bookworm", "x.sources:1"),
        ("http://apt.example.com", "stable", "x.sources:12"),
    ]
    assert [s.is_trusted_blindly for s in found] == [False, True]
    one_line = (
        "# deb http://security.debian.org/debian-security bookworm-security main\n"
        "deb-src http://deb.debian.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] https://security.ubuntu.com/ubuntu noble-security main\n"
    )
    (src,) = parse_one_line_sources(one_line, "s.list")
    assert (src.uri, src.suite, src.origin, src.is_security) == (
        "https://security.ubuntu.com/ubuntu",
        "noble-security",
        "s.list:3",
        True,
    )


LIVEPATCH_PROBE = """
import json
from garrison.checks.engine import run_check
from garrison.checks.kernel import LivePatchingActive
from garrison.config.schema import Config
from garrison.host.collectors.packages import collect_packages
from garrison.host.collectors.updates import parse_deb822_sources, parse_one_line_sources
from garrison.host.facts import Facts
from garrison.host.host import Host
(f,) = run_check(LivePatchingActive, Facts(Host("/"), Config()))
print(json.dumps({"status": f.status.value, "evidence": [[e.source, e.observed] for e in f.evidence]}))
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root")
@pytest.mark.parametrize(("enabled", "status"), [("1", "pass"), ("0", "fail")])
def test_sysfs_livepatch_in_a_private_mount_namespace(
    bindir: Path, enabled: str, status: str
) -> None:
    """A tmpfs over /sys/kernel, only inside a private mount namespace, with one patch."""
    existed = Path("/sys/kernel/livepatch").exists()
    script = (
        "set -e; mount -t tmpfs garrison-test-livepatch /sys/kernel; "
        "mkdir -p /sys/kernel/livepatch/livepatch_cve_2025_1; "
        f"echo {enabled} > /sys/kernel/livepatch/livepatch_cve_2025_1/enabled; "
        f'exec {sys.executable} -c "$PROBE"'
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PROBE": LIVEPATCH_PROBE},
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == status
    assert ["/sys/kernel/livepatch/livepatch_cve_2025_1/enabled", f"enabled={enabled}"] in (
        result["evidence"]
    )
    assert Path("/sys/kernel/livepatch").exists() == existed  # the host's sysfs is untouched


@pytest.mark.parametrize(
    ("name", "release"),
    [
        ("linux-image-6.1.0-31-amd64", "6.1.0-31-amd64"),
        ("linux-image-amd64", ""),
        ("linux-image-cloud-amd64", ""),
        ("linux-image-6.1.0-31-amd64-dbg", ""),
        ("linux-image-unsigned-6.8.0-45-generic", "6.8.0-45-generic"),
        ("linux-image-generic", ""),
        ("proxmox-kernel-6.8.12-4-pve-signed", "6.8.12-4-pve"),
        ("proxmox-kernel-6.8", ""),
        ("pve-kernel-5.15.158-2-pve", "5.15.158-2-pve"),
        ("linux-headers-6.1.0-31-amd64", ""),
    ],
)
def test_kernel_package_names(name: str, release: str) -> None:
    assert _kernel_package_release(name) == release


def test_rescue_image_is_not_a_kernel_release(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot/vmlinuz-0-rescue-4f2a9c").write_bytes(b"")
    (tmp_path / "boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64").write_bytes(b"")
    (tmp_path / "boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64").write_bytes(b"")
    facts = facts_for(tmp_path)
    kernels = find_installed_kernels(facts.host, facts.get(collect_packages))
    assert [k.release for k in kernels] == [
        "5.14.0-427.13.1.el9_4.x86_64",
        "5.14.0-362.8.1.el9_3.x86_64",
    ]


def test_rpm_kernel_dated_by_its_build_time() -> None:
    facts = facts_for(fixture_root("image-rpm"))
    (age,) = run_check(KernelRecent, facts)
    assert age.status == Status.PASS  # built 2025-02-08, "today" is 2025-02-20
    assert "5.14.0-427.13.1.el9_4.x86_64" in age.message
    assert age.evidence[0].source == "rpm build time of kernel-core"
    (updates,) = run_check(AutomaticSecurityUpdates, facts)
    assert updates.status == Status.FAIL
    assert updates.evidence[0].source == "/etc/dnf/automatic.conf"
