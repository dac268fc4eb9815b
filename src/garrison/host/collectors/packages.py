"""Installed packages from dpkg's status database (and status.d) or Alpine's apk database.

Parsing is deliberately plain string work: a full Debian status file is ~1 MB and 700+
stanzas, and this collector must not show up in the audit's wall time.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from urllib.parse import quote

from garrison.config.schema import Config
from garrison.errors import HostError
from garrison.host.host import Host

DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_STATUS_D = "/var/lib/dpkg/status.d"  # distroless images: one stanza file per package
APK_INSTALLED = "/lib/apk/db/installed"
#: rpm >= 4.16 (RHEL 9, Fedora 33+); the /usr/lib/sysimage path is Fedora 36+ and openSUSE.
RPMDB_SQLITE = ("/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite")


@dataclass(frozen=True)
class Package:
    """One installed package."""

    name: str
    version: str
    arch: str
    source: str  # source package name (== name when the database does not say)
    origin: str  # where it was read, e.g. /var/lib/dpkg/status:1234
    built: date | None = None  # build date, where the database records one (rpm)


@dataclass(frozen=True)
class PackageDb:
    """The installed packages of the audited system, by name."""

    manager: str  # "dpkg", "apk", "rpm", or "" when no database was found
    packages: Mapping[str, Package] = field(default_factory=lambda: MappingProxyType({}))
    databases: tuple[str, ...] = ()  # the database files that were read

    def get(self, name: str) -> Package | None:
        return self.packages.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.packages

    def __iter__(self) -> Iterator[Package]:
        return iter(self.packages.values())

    def __len__(self) -> int:
        return len(self.packages)

    @property
    def label(self) -> str:
        """The database path(s) for evidence."""
        return ", ".join(self.databases) or "no package database"


def _stanzas(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, stanza text) for each blank-line separated stanza."""
    line = 1
    for chunk in text.split("\n\n"):
        stripped = chunk.lstrip("\n")
        start = line + (len(chunk) - len(stripped))
        if stripped.strip():
            yield start, stripped
        line += chunk.count("\n") + 2


def _fields(stanza: str, wanted: frozenset[str]) -> dict[str, str]:
    """The single-line values of the wanted fields of a deb822 stanza."""
    out: dict[str, str] = {}
    for row in stanza.split("\n"):
        if not row or row[0] in " \t#":
            continue  # continuation lines (Description, Conffiles) and comments
        key, sep, value = row.partition(":")
        if sep and key in wanted:
            out[key] = value.strip()
    return out


_DPKG_FIELDS = frozenset({"Package", "Status", "Version", "Architecture", "Source"})


def _is_installed(status: str | None, *, default: bool) -> bool:
    """dpkg's Status is 'want flag state'; the files are on disk when state is 'installed'."""
    if status is None:
        return default
    parts = status.split()
    return len(parts) == 3 and parts[1] == "ok" and parts[2] == "installed"


def parse_dpkg_status(text: str, origin: str, *, status_default: bool = False) -> list[Package]:
    """Installed packages of a dpkg status file (stanzas without Status use status_default)."""
    found: list[Package] = []
    for line, stanza in _stanzas(text):
        if "Package:" not in stanza:
            continue
        values = _fields(stanza, _DPKG_FIELDS)
        name = values.get("Package")
        if not name or not _is_installed(values.get("Status"), default=status_default):
            continue
        source = values.get("Source", name).split(" (", 1)[0].strip() or name
        found.append(
            Package(
                name=name,
                version=values.get("Version", ""),
                arch=values.get("Architecture", ""),
                source=source,
                origin=f"{origin}:{line}",
            )
        )
    return found


def parse_apk_installed(text: str, origin: str) -> list[Package]:
    """Packages of Alpine's /lib/apk/db/installed (every stanza there is installed)."""
    found: list[Package] = []
    for line, stanza in _stanzas(text):
        values: dict[str, str] = {}
        for row in stanza.split("\n"):
            if len(row) > 2 and row[1] == ":" and row[0] in "PVAo":
                values.setdefault(row[0], row[2:].strip())
        name = values.get("P")
        if name:
            found.append(
                Package(
                    name=name,
                    version=values.get("V", ""),
                    arch=values.get("A", ""),
                    source=values.get("o", name),
                    origin=f"{origin}:{line}",
                )
            )
    return found


def collect_packages(host: Host, config: Config) -> PackageDb:
    """The installed packages of the audited system (dpkg first, then apk)."""
    del config
    packages: dict[str, Package] = {}
    databases: list[str] = []
    status = host.read_text_or_none(DPKG_STATUS)
    if status is not None:
        databases.append(DPKG_STATUS)
        for pkg in parse_dpkg_status(status, DPKG_STATUS):
            packages.setdefault(pkg.name, pkg)  # multi-arch duplicates: keep the first
    for entry in host.listdir(DPKG_STATUS_D):
        if entry.endswith((".md5sums", ".list")) or entry.startswith("."):
            continue
        path = f"{DPKG_STATUS_D}/{entry}"
        text = host.read_text_or_none(path)
        if text is None:
            continue
        if DPKG_STATUS_D not in databases:
            databases.append(DPKG_STATUS_D)
        for pkg in parse_dpkg_status(text, path, status_default=True):
            packages.setdefault(pkg.name, pkg)
    if databases:
        return PackageDb("dpkg", MappingProxyType(packages), tuple(databases))
    apk = host.read_text_or_none(APK_INSTALLED)
    if apk is not None:
        found = {p.name: p for p in parse_apk_installed(apk, APK_INSTALLED)}
        return PackageDb("apk", MappingProxyType(found), (APK_INSTALLED,))
    for rpmdb in RPMDB_SQLITE:
        if host.exists(rpmdb):
            rpms: dict[str, Package] = {}
            for pkg in read_rpmdb_sqlite(host, rpmdb):
                rpms.setdefault(pkg.name, pkg)
            return PackageDb("rpm", MappingProxyType(rpms), (rpmdb,))
    return PackageDb("")


# -- rpm's sqlite database (RHEL 9, Fedora, openSUSE; Berkeley DB of RHEL <= 8 is not read) -----

_RPMTAG_NAME, _RPMTAG_VERSION, _RPMTAG_RELEASE, _RPMTAG_EPOCH = 1000, 1001, 1002, 1003
_RPMTAG_BUILDTIME, _RPMTAG_ARCH, _RPMTAG_SOURCERPM = 1006, 1022, 1044
_RPM_INT32, _RPM_STRING = 4, 6
_WANTED_TAGS = frozenset(
    {
        _RPMTAG_NAME,
        _RPMTAG_VERSION,
        _RPMTAG_RELEASE,
        _RPMTAG_EPOCH,
        _RPMTAG_BUILDTIME,
        _RPMTAG_ARCH,
        _RPMTAG_SOURCERPM,
    }
)


def parse_rpm_header(blob: bytes) -> dict[int, str | int]:
    """The wanted tags of one rpm header blob (index count, data length, entries, data)."""
    if len(blob) < 8:
        raise ValueError("header shorter than its preamble")
    count, data_len = struct.unpack_from(">II", blob, 0)
    data_start = 8 + 16 * count
    if data_start + data_len > len(blob):
        raise ValueError("header index points past its end")
    tags: dict[int, str | int] = {}
    for index in range(count):
        tag, kind, offset, _ = struct.unpack_from(">iiiI", blob, 8 + 16 * index)
        if tag not in _WANTED_TAGS or not 0 <= offset < data_len:
            continue
        at = data_start + offset
        if kind == _RPM_STRING:
            end = blob.index(b"\0", at)
            tags[tag] = blob[at:end].decode("utf-8", errors="replace")
        elif kind == _RPM_INT32:
            tags[tag] = struct.unpack_from(">i", blob, at)[0]
    return tags


def _rpm_package(tags: dict[int, str | int], origin: str) -> Package | None:
    name = tags.get(_RPMTAG_NAME)
    if not isinstance(name, str):
        return None
    epoch = tags.get(_RPMTAG_EPOCH)
    version = f"{tags.get(_RPMTAG_VERSION, '')}-{tags.get(_RPMTAG_RELEASE, '')}"
    if isinstance(epoch, int) and epoch:
        version = f"{epoch}:{version}"
    source_rpm = str(tags.get(_RPMTAG_SOURCERPM, ""))
    # kernel-5.14.0-427.13.1.el9_4.src.rpm -> kernel (name-version-release.src.rpm)
    source = source_rpm.rsplit("-", 2)[0] if source_rpm.count("-") >= 2 else name
    built = tags.get(_RPMTAG_BUILDTIME)
    return Package(
        name=name,
        version=version,
        arch=str(tags.get(_RPMTAG_ARCH, "")),
        source=source,
        origin=origin,
        built=datetime.fromtimestamp(built, UTC).date() if isinstance(built, int) else None,
    )


def read_rpmdb_sqlite(host: Host, system_path: str) -> list[Package]:
    """Packages of an rpm sqlite database, opened read-only and immutable (never written)."""
    real = host.path(system_path)
    uri = f"file:{quote(str(real))}?mode=ro&immutable=1"
    found: list[Package] = []
    try:
        connection = sqlite3.connect(uri, uri=True)
        try:
            rows = connection.execute("SELECT hnum, blob FROM Packages").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise HostError(f"{system_path}: not a readable rpm database ({exc})") from None
    for hnum, blob in rows:
        try:
            pkg = _rpm_package(parse_rpm_header(bytes(blob)), f"{system_path}#{hnum}")
        except (ValueError, struct.error):
            continue  # one damaged header must not hide the others
        if pkg is not None:
            found.append(pkg)
    return found


# -- Debian version ordering (dpkg --compare-versions, without python-apt) ----------------------


_DIGITS = frozenset("0123456789")


def _order(char: str) -> int:
    """dpkg's weight of one non-digit character: '~' sorts before everything, even the end."""
    if char == "~":
        return -1
    if not char or char in _DIGITS:
        return 0
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's verrevcmp: alternate non-digit runs (by _order) and digit runs (numerically)."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and a[i] not in _DIGITS) or (j < len(b) and b[j] not in _DIGITS):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return -1 if ac < bc else 1
            i += 1
            j += 1
        start_i = i
        while i < len(a) and a[i] in _DIGITS:
            i += 1
        start_j = j
        while j < len(b) and b[j] in _DIGITS:
            j += 1
        num_a = int(a[start_i:i] or "0")
        num_b = int(b[start_j:j] or "0")
        if num_a != num_b:
            return -1 if num_a < num_b else 1
    return 0


def split_debian_version(version: str) -> tuple[int, str, str]:
    """(epoch, upstream, revision) of a Debian version string."""
    version = version.strip()
    epoch = 0
    if ":" in version:
        head, rest = version.split(":", 1)
        if head.isdigit():
            epoch, version = int(head), rest
    upstream, sep, revision = version.rpartition("-")
    if not sep:
        return epoch, version, ""
    return epoch, upstream, revision


def compare_debian_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as `dpkg --compare-versions a lt/eq/gt b` would say."""
    epoch_a, up_a, rev_a = split_debian_version(a)
    epoch_b, up_b, rev_b = split_debian_version(b)
    if epoch_a != epoch_b:
        return -1 if epoch_a < epoch_b else 1
    return _compare_part(up_a, up_b) or _compare_part(rev_a, rev_b)
