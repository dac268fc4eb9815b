"""The package database collector and the Debian version comparator (against real dpkg)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import facts_for, fixture_root

from garrison.errors import HostError
from garrison.host.collectors.packages import (
    collect_packages,
    compare_debian_versions,
    parse_apk_installed,
    parse_dpkg_status,
    parse_rpm_header,
)


def test_dpkg_status_keeps_only_installed_packages() -> None:
    db = facts_for(fixture_root("image-pass")).get(collect_packages)
    assert db.manager == "dpkg"
    assert "gcc" not in db  # "deinstall ok config-files": only its conffiles are left
    assert {"base-files", "gcc-12-base", "libx11-6", "openssh-server", "make"} <= set(db.packages)
    pkg = db.get("libgcc-s1")
    assert pkg is not None
    assert (pkg.version, pkg.arch, pkg.source) == ("12.2.0-14+deb12u1", "amd64", "gcc-12")


def test_origin_names_the_stanza_line() -> None:
    root = fixture_root("image-pass")
    db = facts_for(root).get(collect_packages)
    pkg = db.get("openssh-server")
    assert pkg is not None
    path, line = pkg.origin.rsplit(":", 1)
    assert path == "/var/lib/dpkg/status"
    lines = (root / "var/lib/dpkg/status").read_text().splitlines()
    assert lines[int(line) - 1] == "Package: openssh-server"


def test_source_field_drops_the_version() -> None:
    text = "Package: g++\nStatus: install ok installed\nSource: gcc-defaults (1.203)\n"
    (pkg,) = parse_dpkg_status(text, "status")
    assert pkg.source == "gcc-defaults"


def test_hold_and_deinstall_states() -> None:
    text = (
        "Package: held\nStatus: hold ok installed\nVersion: 1\n\n"
        "Package: half\nStatus: install reinstreq half-installed\nVersion: 1\n\n"
        "Package: gone\nStatus: purge ok not-installed\n\n"
    )
    names = [p.name for p in parse_dpkg_status(text, "status")]
    assert names == ["held"]


def test_distroless_status_d() -> None:
    db = facts_for(fixture_root("image-distroless")).get(collect_packages)
    assert db.manager == "dpkg"
    assert set(db.packages) == {"base-files", "netbase", "tzdata", "gcc-12"}
    assert db.databases == ("/var/lib/dpkg/status.d",)


def test_apk_database() -> None:
    db = facts_for(fixture_root("image-apk")).get(collect_packages)
    assert db.manager == "apk"
    gcc = db.get("gcc")
    assert gcc is not None
    assert (gcc.version, gcc.arch, gcc.source) == ("13.2.1_git20240309-r0", "x86_64", "gcc")
    busybox = db.get("busybox-extras")
    assert busybox is not None and busybox.source == "busybox"


def test_apk_parser_line_numbers() -> None:
    pkgs = parse_apk_installed("P:a\nV:1\n\nP:b\nV:2\n", "db")
    assert [(p.name, p.origin) for p in pkgs] == [("a", "db:1"), ("b", "db:4")]


def test_no_database_is_an_empty_db(tmp_path: Path) -> None:
    db = facts_for(tmp_path).get(collect_packages)
    assert db.manager == "" and len(db) == 0


def test_this_hosts_status_file_parses_like_dpkg_query() -> None:
    """The live status file against dpkg-query: same installed set, same versions."""
    if shutil.which("dpkg-query") is None:
        pytest.skip("dpkg-query not installed")
    status = Path("/var/lib/dpkg/status")
    before = status.stat().st_mtime_ns
    pending = Path("/var/lib/dpkg/updates")
    if pending.is_dir() and any(pending.iterdir()):
        pytest.skip("dpkg is mid-transaction (journal in /var/lib/dpkg/updates)")
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Status} ${Package} ${Version}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = {}
    for row in out.splitlines():
        state, name, *version = row.split(" ")
        if state == "installed":
            expected.setdefault(name, version[0] if version else "")
    db = facts_for(Path("/")).get(collect_packages)
    if status.stat().st_mtime_ns != before:
        pytest.skip("another process changed the dpkg database during the test")
    assert {p.name: p.version for p in db} == expected


# -- Debian version ordering -----------------------------------------------------------------

KNOWN = [
    ("1.0", "1.0-0", 0),
    ("1.0~rc1", "1.0", -1),
    ("1.0~rc1", "1.0~", 1),
    ("1:0.1", "2.0", 1),
    ("6.1.0-31-amd64", "6.1.0-28-amd64", 1),
    ("6.1.0-9-amd64", "6.1.0-10-amd64", -1),
    ("2.30", "2.4", 1),
    ("1.0a", "1.0+", -1),
    ("1.0", "1.0.", -1),
    ("1.002", "1.2", 0),
    ("0:1.0", "1.0", 0),
    ("12.2.0-14+deb12u1", "12.2.0-14", 1),
]


@pytest.mark.parametrize(("a", "b", "want"), KNOWN)
def test_known_orderings(a: str, b: str, want: int) -> None:
    assert compare_debian_versions(a, b) == want
    assert compare_debian_versions(b, a) == -want


def dpkg_compare(a: str, b: str) -> int:
    def holds(op: str) -> bool:
        proc = subprocess.run(["dpkg", "--compare-versions", a, op, b], capture_output=True)
        assert proc.returncode in (0, 1), proc.stderr
        return proc.returncode == 0

    if holds("lt"):
        return -1
    return 0 if holds("eq") else 1


_UPSTREAM_CHARS = st.sampled_from([*"0123456789" * 3, *"ab.+~z-"])
_REVISION_CHARS = st.sampled_from([*"0123456789" * 3, *"ab.+~"])


def _version(epoch: str, first: str, rest: str, revision: str) -> str:
    # A hyphen in the upstream part is only legal when a revision follows it.
    upstream = first + (rest if revision else rest.replace("-", "."))
    return f"{epoch}{upstream}{revision}"


versions = st.builds(
    _version,
    st.sampled_from(["", "", "", "1:", "2:", "0:"]),
    st.sampled_from(list("0123456789")),
    st.text(_UPSTREAM_CHARS, max_size=8),
    st.one_of(st.just(""), st.text(_REVISION_CHARS, min_size=1, max_size=5).map(lambda r: "-" + r)),
)


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg not installed")
@settings(max_examples=300, deadline=None)
@given(versions, versions)
def test_comparator_agrees_with_dpkg(a: str, b: str) -> None:
    assert compare_debian_versions(a, b) == dpkg_compare(a, b), (a, b)


# -- rpm (sqlite database written by the real rpm 4.18, see make_rpm_fixture.sh) ---------------


def test_rpm_sqlite_database() -> None:
    root = fixture_root("image-rpm")
    db = facts_for(root).get(collect_packages)
    assert db.manager == "rpm"
    assert db.databases == ("/var/lib/rpm/rpmdb.sqlite",)
    assert set(db.packages) == {
        "gcc",
        "kernel-core",
        "telnet-server",
        "bash",
        "xorg-x11-server-Xorg",
        "dnf-automatic",
    }
    bash = db.get("bash")
    assert bash is not None
    assert (bash.version, bash.arch, bash.source) == ("1:5.1.8-9.el9", "x86_64", "bash")
    kernel = db.get("kernel-core")
    assert kernel is not None and kernel.built == date(2025, 2, 8)
    # Opened read-only and immutable: no -wal/-shm/-journal appears in the audited image.
    assert sorted(p.name for p in (root / "var/lib/rpm").iterdir()) == ["rpmdb.sqlite"]


def test_rpm_matches_the_rpm_tool(tmp_path: Path) -> None:
    if shutil.which("rpm") is None:
        pytest.skip("rpm not installed (apt-get install rpm) - the fixture is committed anyway")
    root = tmp_path / "image-rpm"  # a copy: rpm may leave a lock file next to the database
    shutil.copytree(fixture_root("image-rpm"), root)
    out = subprocess.run(
        [
            "rpm",
            "--root",
            str(root),
            "--dbpath",
            "/var/lib/rpm",
            "-qa",
            "--qf",
            "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{ARCH}\\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = {tuple(row.split(" ")) for row in out.splitlines()}
    assert len(expected) == 6
    db = facts_for(root).get(collect_packages)
    assert {(p.name, p.version, p.arch) for p in db} == expected


def test_damaged_rpm_database_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "var/lib/rpm").mkdir(parents=True)
    (tmp_path / "var/lib/rpm/rpmdb.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(HostError, match=r"^/var/lib/rpm/rpmdb.sqlite: not a readable rpm database"):
        facts_for(tmp_path).get(collect_packages)


def test_rpm_header_parser_rejects_truncation() -> None:
    with pytest.raises(ValueError, match="past its end"):
        parse_rpm_header(b"\x00\x00\x00\x02\x00\x00\x01\x00" + b"\x00" * 10)
