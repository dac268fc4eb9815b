"""The running kernel, the installed kernels, and live-patching state.

The running kernel is read from /proc (live only). Installed kernels come from /boot/vmlinuz-*
and linux-image-* packages, so `--root` can say how old an image's newest kernel is.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import cmp_to_key

from garrison.config.schema import Config
from garrison.errors import HostError
from garrison.host.collectors.packages import Package, PackageDb, compare_debian_versions
from garrison.host.host import Host

#: Build dates before this are placeholders (reproducible builds with timestamp @0), not dates.
EARLIEST_REAL_BUILD = date(2000, 1, 1)

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_ISO_DATE = re.compile(r"(?<![\d.])(\d{4})-(\d{2})-(\d{2})(?![\d.])")
# "Tue Nov 11 12:00:00 UTC 2025" (RHEL, Ubuntu, vanilla) - the year comes after the time.
_CTIME_DATE = re.compile(
    rf"\b({_MONTHS})\s+(\d{{1,2}})\s+\d{{1,2}}:\d{{2}}:\d{{2}}(?:\s+[A-Z]{{2,5}}|\s+[+-]\d{{4}})?\s+(\d{{4}})\b"
)
# "Sat, 01 Mar 2025 16:13:41 +0000" (Arch) - day before month.
_RFC_DATE = re.compile(rf"\b(\d{{1,2}})\s+({_MONTHS})\s+(\d{{4}})\b")
_EPOCH = re.compile(r"(?:^|\s)@(\d+)\b")
_DEBIAN_PKG_VERSION = re.compile(r"\bDebian\s+(\d[\w.+~:-]*)")
_CHANGELOG_TRAILER = re.compile(r"^ -- .+?>\s+(.+)$", re.MULTILINE)


def parse_build_date(version: str) -> date | None:
    """The build date in a kernel version string (uname -v, /proc/version), or None.

    Understands Debian "(2025-03-06)", Alpine "2025-02-14 10:23:42", ctime
    "Tue Nov 11 12:00:00 UTC 2025", RFC 2822 "Sat, 01 Mar 2025 ..." and "@<epoch>" stamps.
    Placeholder dates (before 2000, e.g. "@0") count as unknown.
    """
    found: date | None = None
    month_index = {m: i + 1 for i, m in enumerate(_MONTHS.split("|"))}
    try:
        if match := _ISO_DATE.search(version):
            found = date(int(match[1]), int(match[2]), int(match[3]))
        elif match := _CTIME_DATE.search(version):
            found = date(int(match[3]), month_index[match[1]], int(match[2]))
        elif match := _RFC_DATE.search(version):
            found = date(int(match[3]), month_index[match[2]], int(match[1]))
        elif match := _EPOCH.search(version):
            found = datetime.fromtimestamp(int(match[1]), UTC).date()
    except (ValueError, OverflowError, OSError):
        return None
    if found is None or found < EARLIEST_REAL_BUILD:
        return None
    return found


def parse_distro_kernel_version(version: str) -> str:
    """The distribution package version inside uname -v ("Debian 6.1.129-1" -> "6.1.129-1")."""
    match = _DEBIAN_PKG_VERSION.search(version)
    return match[1] if match else ""


@dataclass(frozen=True)
class RunningKernel:
    """The kernel the live host booted."""

    release: str  # uname -r
    version: str  # uname -v
    built: date | None
    package_version: str  # distribution version from uname -v, "" when it does not say
    source: str


def collect_running_kernel(host: Host, config: Config) -> RunningKernel:
    """uname -r / uname -v of the live host, read from /proc/sys/kernel."""
    del config
    if not host.live:
        raise HostError("the running kernel is only known on the live host, not under --root")
    release = _read_proc_sys(host, "/proc/sys/kernel/osrelease")
    version = _read_proc_sys(host, "/proc/sys/kernel/version")
    return RunningKernel(
        release=release,
        version=version,
        built=parse_build_date(version),
        package_version=parse_distro_kernel_version(version),
        source="/proc/sys/kernel/version (uname -v)",
    )


def _read_proc_sys(host: Host, path: str) -> str:
    # /proc/sys handlers allocate a kernel buffer of the requested read size; Host's default
    # 16 MiB read fails there with ENOMEM, so ask for one page.
    return host.read_bytes(path, limit=4096).decode("utf-8", errors="replace").strip()


@dataclass(frozen=True)
class InstalledKernel:
    """A kernel present in the audited system (as a /boot image and/or a package)."""

    release: str
    package: str = ""  # e.g. linux-image-6.1.0-31-amd64
    package_version: str = ""
    image: str = ""  # e.g. /boot/vmlinuz-6.1.0-31-amd64
    dated: date | None = None
    date_source: str = ""  # where `dated` came from (changelog entry or file mtime)

    @property
    def origin(self) -> str:
        if self.package:
            return f"package {self.package} {self.package_version}".strip()
        return self.image


_KERNEL_PACKAGE_PREFIXES = ("linux-image-", "proxmox-kernel-", "pve-kernel-")


def _kernel_package_release(name: str) -> str:
    """linux-image-6.1.0-31-amd64 -> 6.1.0-31-amd64; "" for meta packages (linux-image-amd64).

    Also Ubuntu's linux-image-unsigned-* and Proxmox' proxmox-kernel-*-signed / pve-kernel-*.
    """
    prefix = next((p for p in _KERNEL_PACKAGE_PREFIXES if name.startswith(p)), None)
    if prefix is None:
        return ""
    rest = name.removeprefix(prefix).removeprefix("unsigned-").removesuffix("-signed")
    if not rest[:1].isdigit() or rest.endswith("-dbg") or "-" not in rest:
        return ""  # meta packages: linux-image-amd64, proxmox-kernel-6.8 (series only)
    return rest


#: RHEL-family kernel packages; their uname -r is VERSION-RELEASE.ARCH.
_RPM_KERNEL_PACKAGES = frozenset(
    {
        "kernel-core",
        "kernel",
        "kernel-rt-core",
        "kernel-uek-core",
        "kernel-uek",
        "kernel-lt-core",
        "kernel-ml-core",
        "kernel-default",
    }
)


def _package_kernel_release(pkg: Package, manager: str) -> str:
    if manager == "rpm":
        if pkg.name not in _RPM_KERNEL_PACKAGES:
            return ""
        return f"{pkg.version.split(':', 1)[-1]}.{pkg.arch}"
    return _kernel_package_release(pkg.name)


def _is_kernel_image(name: str) -> bool:
    release = name.removeprefix("vmlinuz-")
    return name.startswith("vmlinuz-") and release[:1].isdigit() and "rescue" not in release


def changelog_date(host: Host, package: str) -> tuple[date | None, str]:
    """The date of the newest entry of a package's Debian changelog, and where it was read."""
    for name in ("changelog.Debian.gz", "changelog.gz"):
        path = f"/usr/share/doc/{package}/{name}"
        try:
            raw = host.read_bytes(path)
        except HostError:
            continue
        try:
            # Only the head is needed; a decompressor limited to 64 KiB keeps this cheap.
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, 65536)
        except (zlib.error, gzip.BadGzipFile):
            continue
        match = _CHANGELOG_TRAILER.search(head.decode("utf-8", errors="replace"))
        if match:
            try:
                return parsedate_to_datetime(match[1].strip()).date(), path
            except (TypeError, ValueError):
                continue
    return None, ""


def _release_order(a: InstalledKernel, b: InstalledKernel) -> int:
    return compare_debian_versions(a.release, b.release) or compare_debian_versions(
        a.package_version, b.package_version
    )


def find_installed_kernels(host: Host, packages: PackageDb) -> tuple[InstalledKernel, ...]:
    """Installed kernels, newest first (by Debian version order of release, then package).

    Takes the package database (from facts) rather than re-reading it.
    """
    by_release: dict[str, Package] = {}
    for candidate in packages:
        release = _package_kernel_release(candidate, packages.manager)
        if release:
            by_release.setdefault(release, candidate)
    images = {
        name.removeprefix("vmlinuz-"): f"/boot/{name}"
        for name in host.listdir("/boot")
        if _is_kernel_image(name)
    }
    kernels: list[InstalledKernel] = []
    for release in sorted(set(by_release) | set(images)):
        pkg = by_release.get(release)
        image = images.get(release, "")
        dated, date_source = changelog_date(host, pkg.name) if pkg else (None, "")
        if dated is None and pkg is not None and pkg.built is not None:
            dated, date_source = pkg.built, f"rpm build time of {pkg.name}"
        if dated is None and image:
            try:
                mtime = host.stat(image).st_mtime
            except HostError:
                mtime = None
            if mtime is not None:
                dated = datetime.fromtimestamp(mtime, UTC).date()
                date_source = f"mtime of {image}"
        kernels.append(
            InstalledKernel(
                release=release,
                package=pkg.name if pkg else "",
                package_version=pkg.version if pkg else "",
                image=image,
                dated=dated,
                date_source=date_source,
            )
        )
    kernels.sort(key=cmp_to_key(_release_order), reverse=True)
    return tuple(kernels)


# -- live patching ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LivepatchObservation:
    """One thing looked at while detecting live patching."""

    source: str  # file or command
    observed: str
    active: bool


@dataclass(frozen=True)
class LivepatchState:
    """What live-patching evidence exists on the live host."""

    observations: tuple[LivepatchObservation, ...]
    problems: tuple[str, ...]  # tools that hung or failed (one line each)

    @property
    def active(self) -> tuple[LivepatchObservation, ...]:
        return tuple(o for o in self.observations if o.active)


LIVEPATCH_SYSFS = "/sys/kernel/livepatch"

#: (argv, predicate on stdout that says patching is active)
_LIVEPATCH_TOOLS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (
        ("canonical-livepatch", "status", "--format", "yaml"),
        re.compile(r"patchState:\s*(applied|nothing-to-apply)\b", re.I),
    ),
    (("kpatch", "list"), re.compile(r"Loaded patch modules:\s*\n\s*\S+.*\[enabled\]", re.I)),
    (("kcarectl", "--info"), re.compile(r"kpatch-state:\s*patch is applied", re.I)),
)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[:3])[:200]


def collect_livepatch(host: Host, config: Config) -> LivepatchState:
    """Live-patch evidence: enabled patches in sysfs, and the vendor tools' own status."""
    del config
    if not host.live:
        raise HostError("live patching is only observable on the live host, not under --root")
    observations: list[LivepatchObservation] = []
    problems: list[str] = []
    for name in host.listdir(LIVEPATCH_SYSFS):
        path = f"{LIVEPATCH_SYSFS}/{name}/enabled"
        state = (host.read_text_or_none(path) or "").strip()
        observations.append(LivepatchObservation(path, f"enabled={state or '?'}", state == "1"))
    if host.exists("/proc/kcare"):
        observations.append(LivepatchObservation("/proc/kcare", "KernelCare module loaded", False))
    for argv, active_pattern in _LIVEPATCH_TOOLS:
        result = host.run(argv)
        if result.missing:
            continue
        if result.timed_out:
            problems.append(result.problem())
            continue
        output = result.stdout + result.stderr
        active = result.ok and bool(active_pattern.search(output))
        observed = _first_line(output) or f"exit {result.returncode}, no output"
        observations.append(LivepatchObservation(result.display, observed, active))
    return LivepatchState(tuple(observations), tuple(problems))
