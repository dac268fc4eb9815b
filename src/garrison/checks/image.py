"""Checklist box 1, the image under it: a minimal image without compilers, GUI or legacy services.

The seed: "Skip the bloated hoster template ... Strip GUI libraries, compilers, and legacy
services. Every removed package is one less CVE notification in your inbox."
Package checks read dpkg's, apk's or rpm's (sqlite) database, so they work under --root;
the listening-socket check needs the running host.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from garrison.checks.base import Check, CheckSkipped
from garrison.errors import GarrisonError
from garrison.host.collectors.packages import Package, PackageDb, collect_packages
from garrison.host.collectors.sockets import (
    ListeningSocket,
    SshPorts,
    collect_listening_sockets,
    collect_ssh_ports,
)
from garrison.host.collectors.sshd import collect_sshd
from garrison.host.collectors.updates import collect_apt_config, collect_apt_sources
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity

#: UDP ports of DHCP clients: a VPS on DHCP has them bound on the wildcard address by design.
DHCP_CLIENT_PORTS = frozenset({68, 546})
#: System daemons whose loopback-only listeners are part of a stock Debian/Ubuntu host
#: (systemd-resolved's stub on 127.0.0.53/54:53, chrony's command port 323).
LOOPBACK_SYSTEM_DAEMONS = frozenset({"systemd-resolve", "systemd-resolved", "chronyd"})


def is_expected_listener(sock: ListeningSocket, expected_ports: frozenset[int]) -> bool:
    """Configured ports, DHCP clients, and the stock loopback-only system daemons."""
    if sock.port in expected_ports:
        return True
    if sock.proto == "udp" and sock.port in DHCP_CLIENT_PORTS:
        return True
    return sock.loopback_only and sock.process in LOOPBACK_SYSTEM_DAEMONS


@dataclass(frozen=True)
class PackageRule:
    """Package names (a regex over the full name) that are unwanted, with why and how bad."""

    pattern: re.Pattern[str]
    kind: str
    severity: Severity


def _rule(regex: str, kind: str, severity: Severity) -> PackageRule:
    return PackageRule(re.compile(f"^(?:{regex})$"), kind, severity)


_ARCH = r"(?:-[a-z0-9_]+-linux-gnu[a-z]*)?"  # gcc-12-x86-64-linux-gnu style cross/arch packages

COMPILER_RULES: tuple[PackageRule, ...] = (
    _rule(rf"gcc(?:-\d+)?{_ARCH}", "C compiler", Severity.MEDIUM),
    _rule(rf"g\+\+(?:-\d+)?{_ARCH}|gcc-c\+\+", "C++ compiler", Severity.MEDIUM),
    _rule(r"clang(?:-\d+)?", "C/C++ compiler", Severity.MEDIUM),
    _rule(rf"gfortran(?:-\d+)?{_ARCH}|gcc-gfortran", "Fortran compiler", Severity.MEDIUM),
    _rule(r"gccgo(?:-\d+)?|golang(?:-go|-\d+(?:\.\d+)?-go)?|go", "Go toolchain", Severity.MEDIUM),
    _rule(r"rustc|cargo|rust", "Rust toolchain", Severity.MEDIUM),
    _rule(r"tcc|nasm|yasm", "compiler/assembler", Severity.MEDIUM),
    _rule(r"build-essential|build-base", "build toolchain meta-package", Severity.MEDIUM),
    _rule(r"binutils", "assembler and linker", Severity.LOW),
)

GUI_RULES: tuple[PackageRule, ...] = (
    _rule(
        r"xserver-xorg(?:-core)?|xserver-common|xorg|xwayland|xvfb|xserver-xephyr|"
        r"xorg-x11-server-(?:Xorg|Xvfb|Xwayland|common)",
        "X server",
        Severity.MEDIUM,
    ),
    _rule(r"gdm3?|lightdm|sddm|xdm|slim|lxdm|nodm", "display manager", Severity.MEDIUM),
    _rule(
        r"gnome-shell|gnome-session|kde-plasma-desktop|plasma-desktop|plasma-workspace|"
        r"xfce4|xfce4-session|lxde|lxde-core|lxqt|lxqt-core|mate-desktop-environment|"
        r"mate-session-manager|cinnamon|task-[a-z0-9-]*desktop|ubuntu-desktop|xubuntu-desktop",
        "desktop environment",
        Severity.MEDIUM,
    ),
    _rule(
        r"tigervnc-standalone-server|tightvncserver|x11vnc|xrdp|vnc4server",
        "remote desktop server",
        Severity.HIGH,
    ),
    _rule(
        r"libgtk-3-0t?64|libgtk-3-0|libgtk2\.0-0t?64|libgtk2\.0-0|libgtk-4-1|gtk\+3\.0|gtk\+2\.0"
        r"|libqt5gui5t?64|libqt6gui6t?64|qt5-qtbase-x11|qt6-qtbase-x11|gtk[234]|qt[56]-qtbase-gui",
        "GUI toolkit",
        Severity.LOW,
    ),
)

LEGACY_SERVICE_RULES: tuple[PackageRule, ...] = (
    _rule(
        r"telnetd|telnetd-ssl|inetutils-telnetd|busybox-extras|telnet-server",
        "telnet server",
        Severity.HIGH,
    ),
    _rule(
        r"rsh-server|rsh-redone-server|inetutils-rshd|inetutils-rlogind|rlinetd",
        "rsh/rlogin server",
        Severity.HIGH,
    ),
    _rule(
        r"vsftpd|proftpd-basic|proftpd-core|pure-ftpd(?:-common)?|ftpd|ftpd-ssl|"
        r"inetutils-ftpd|tnftpd",
        "FTP server",
        Severity.HIGH,
    ),
    _rule(r"tftpd|tftpd-hpa|atftpd|tftp-hpa-server|tftp-server", "TFTP server", Severity.HIGH),
    _rule(r"xinetd|openbsd-inetd|inetutils-inetd|rlinetd", "inetd super-server", Severity.HIGH),
    _rule(r"rpcbind|portmap|nfs-kernel-server|nfs-common|nfs-utils", "RPC/NFS", Severity.MEDIUM),
    _rule(r"avahi-daemon|avahi", "mDNS responder", Severity.MEDIUM),
    _rule(r"cups|cups-daemon|cups-browsed", "print server", Severity.MEDIUM),
    _rule(r"samba|samba-common-bin|winbind", "SMB server", Severity.MEDIUM),
    _rule(r"snmpd|net-snmp", "SNMP agent", Severity.MEDIUM),
    _rule(r"nis|ypserv|ypbind-mt", "NIS", Severity.HIGH),
    _rule(r"talkd|inetutils-talkd|fingerd|cfingerd|rwhod", "legacy daemon", Severity.MEDIUM),
    _rule(
        r"telnet|inetutils-telnet|telnet-ssl|rsh-client|rsh-redone-client|inetutils-rsh|"
        r"ftp|inetutils-ftp|tnftp|tftp|tftp-hpa|talk|inetutils-talk|finger|rwho|rsh",
        "cleartext legacy client",
        Severity.LOW,
    ),
)


def _allowed(name: str, allowed: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed)


def _classify(db: PackageDb, rules: Iterable[PackageRule]) -> list[tuple[Package, PackageRule]]:
    rules = tuple(rules)
    hits = []
    for pkg in db:
        for rule in rules:
            if rule.pattern.match(pkg.name):
                hits.append((pkg, rule))
                break
    return sorted(hits, key=lambda hit: hit[0].name)


class _UnwantedPackages(Check):
    """Shared logic: one FAIL per unwanted installed package, one PASS when there are none."""

    rules: tuple[PackageRule, ...] = ()
    what: str = ""

    def run(self, facts: Facts) -> Iterable[Finding]:
        db = facts.get(collect_packages)
        if not db.manager:
            raise CheckSkipped(
                "no package database (/var/lib/dpkg/status, /lib/apk/db/installed, "
                "rpmdb.sqlite) found"
            )
        allowed = facts.config.audit.allowed_packages
        hits = _classify(db, self.rules)
        excused = [pkg.name for pkg, _ in hits if _allowed(pkg.name, allowed)]
        bad = [(pkg, rule) for pkg, rule in hits if not _allowed(pkg.name, allowed)]
        for pkg, rule in bad:
            yield self.failed(
                f"{rule.kind} {pkg.name} {pkg.version} is installed",
                Evidence(
                    source=pkg.origin,
                    observed=f"{pkg.name} {pkg.version} ({pkg.arch or 'any'}, source {pkg.source})",
                    expected="not installed, or listed in [audit].allowed_packages",
                ),
                subject=pkg.name,
                severity=rule.severity,
            )
        if not bad:
            note = f"; allowed by [audit].allowed_packages: {', '.join(excused)}" if excused else ""
            yield self.passed(
                f"no {self.what} among {len(db)} installed packages{note}",
                Evidence(source=db.label, observed=f"{len(db)} packages ({db.manager})"),
            )


class NoCompilers(_UnwantedPackages):
    meta = CheckMeta(
        id="GAR-IMG-001",
        area="image",
        item=1,
        title="No compilers or build toolchains are installed",
        severity=Severity.MEDIUM,
        rationale="A compiler on a server lets an intruder build exploits and implants on the "
        "spot; the seed says strip compilers from the image.",
        remediation="apt-get purge the listed packages (apk del on Alpine, dnf remove on "
        "RHEL-likes). If the bot's venv "
        "needs a compiler at install time (TA-Lib, numpy from source...), build wheels in CI or "
        "a throw-away builder container and install wheels, or install the compiler, build, and "
        "purge it in the same step; if it must stay, list it in [audit].allowed_packages.",
        references=("https://www.cisecurity.org/benchmark/debian_linux",),
    )
    rules = COMPILER_RULES
    what = "compiler or toolchain"


class NoGraphicalStack(_UnwantedPackages):
    meta = CheckMeta(
        id="GAR-IMG-002",
        area="image",
        item=1,
        title="No X server, desktop, display manager or GUI toolkit is installed",
        severity=Severity.MEDIUM,
        rationale="GUI stacks are large, patched often and useless on a headless VPS; the seed "
        "says strip GUI libraries. Plain libx11 is not flagged: many headless libraries "
        "depend on it.",
        remediation="apt-get purge the listed packages and apt-get autoremove --purge. MT5 under "
        "Wine needs a virtual X server (xvfb): list it in [audit].allowed_packages then.",
    )
    rules = GUI_RULES
    what = "graphical stack packages"


class NoLegacyServices(_UnwantedPackages):
    meta = CheckMeta(
        id="GAR-IMG-003",
        area="image",
        item=1,
        title="No legacy or unneeded network services are installed",
        severity=Severity.HIGH,
        rationale="telnet, rsh, FTP, TFTP, inetd, RPC, NFS, mDNS, printing, SMB and SNMP "
        "services speak cleartext or have long CVE histories; none belongs on a trading VPS.",
        remediation="apt-get purge the listed packages (apk del on Alpine); use ssh/scp/sftp "
        "instead of telnet, rsh and ftp.",
        references=("https://www.cisecurity.org/benchmark/debian_linux",),
    )
    rules = LEGACY_SERVICE_RULES
    what = "legacy network services or clients"


def expected_ssh_ports(facts: Facts) -> SshPorts:
    """sshd's ports as the SSH area sees them (sshd -T, cached), else a plain Port reader."""
    try:
        sshd = facts.get(collect_sshd)
    except (CheckSkipped, GarrisonError):
        return facts.get(collect_ssh_ports)
    return SshPorts(tuple(sorted(sshd.ports())), sshd.source)


class OnlyExpectedListeners(Check):
    meta = CheckMeta(
        id="GAR-IMG-004",
        area="image",
        item=1,
        title="Only expected ports are listening",
        severity=Severity.HIGH,
        rationale="Every listening socket is attack surface; a service the operator does not "
        "know about is either bloat from the image or an intruder's backdoor.",
        remediation="Stop and disable the service (systemctl disable --now UNIT) or bind it to "
        "127.0.0.1; if it is needed, add its port to [audit].expected_ports.",
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sockets = facts.get(collect_listening_sockets)
        ssh = expected_ssh_ports(facts)
        expected = set(facts.config.audit.expected_ports) | set(ssh.ports)
        unexpected = [s for s in sockets if not is_expected_listener(s, frozenset(expected))]
        for sock in unexpected:
            evidence = Evidence(
                source="psutil.net_connections (/proc/net)",
                observed=f"{sock.endpoint} by {sock.owner}",
                expected=f"ports {sorted(expected)} (SSH from {ssh.source} + "
                "[audit].expected_ports)",
            )
            if sock.loopback_only:
                yield self.warned(
                    f"loopback only, not expected ({sock.owner})",
                    evidence,
                    subject=sock.endpoint,
                )
            else:
                yield self.failed(
                    f"reachable from the network and not expected ({sock.owner})",
                    evidence,
                    subject=sock.endpoint,
                )
        if not unexpected:
            seen = ", ".join(f"{s.endpoint} {s.process}".strip() for s in sockets) or "none"
            yield self.passed(
                "every listening socket is expected",
                Evidence(source="psutil.net_connections (/proc/net)", observed=seen),
            )


class AuthenticatedPackageSources(Check):
    meta = CheckMeta(
        id="GAR-IMG-005",
        area="image",
        item=1,
        title="Package sources are authenticated (no trusted=yes, no unauthenticated installs)",
        severity=Severity.HIGH,
        rationale="A patched image is only as good as the packages it trusts: trusted=yes or "
        "AllowUnauthenticated lets anyone on the path to the mirror install code as root.",
        remediation="Remove trusted=yes / allow-insecure=yes from the source and add the "
        "repository's key with signed-by=; drop APT::Get::AllowUnauthenticated and "
        "Acquire::AllowInsecureRepositories.",
    )

    _INSECURE_OPTIONS = (
        "apt::get::allowunauthenticated",
        "acquire::allowinsecurerepositories",
        "acquire::allowdowngradetoinsecurerepositories",
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        db = facts.get(collect_packages)
        if db.manager != "dpkg":
            raise CheckSkipped("not an APT system")
        sources = facts.get(collect_apt_sources)
        apt = facts.get(collect_apt_config)
        bad = False
        for src in sources:
            if src.is_trusted_blindly:
                bad = True
                yield self.failed(
                    f"{src.uri} {src.suite} is trusted without a signature",
                    Evidence(source=src.origin, observed=src.options, expected="signed-by=KEY"),
                    subject=src.uri,
                )
        for key in self._INSECURE_OPTIONS:
            value = apt.get(key)
            if value is not None and value.value.lower() in ("1", "true", "yes"):
                bad = True
                yield self.failed(
                    f"{key} is enabled",
                    Evidence(source=value.origin, observed=f'"{value.value}"', expected='"false"'),
                    subject=key,
                )
        if not bad:
            what = f"{len(sources)} APT sources, all" if sources else "no APT sources; nothing"
            yield self.passed(
                f"{what} signature-checked",
                Evidence(source="/etc/apt/sources.list{,.d}", observed=f"{len(sources)} sources"),
            )
