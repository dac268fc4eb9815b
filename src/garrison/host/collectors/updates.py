"""How the audited system gets its security updates: APT configuration and sources, dnf-automatic.

apt.conf has its own syntax (`A::B "v";`, nested `A { B "v"; };`, lists `A { "x"; "y"; };`,
// and /* */ comments); python-apt would parse it but is not available in a venv, so a small
tokenizer does here. Files are read in apt's order: apt.conf.d/* sorted, then apt.conf.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from garrison.config.schema import Config
from garrison.host.host import Host

APT_CONF_D = "/etc/apt/apt.conf.d"
APT_CONF = "/etc/apt/apt.conf"
SOURCES_LIST = "/etc/apt/sources.list"
SOURCES_D = "/etc/apt/sources.list.d"
DNF_AUTOMATIC = "/etc/dnf/automatic.conf"
TIMERS_WANTS = "/etc/systemd/system/timers.target.wants"
REBOOT_REQUIRED = "/var/run/reboot-required"

# apt ignores files in apt.conf.d whose names have other characters or a foreign extension
# (foo.dpkg-old, foo.bak); it reads names without a dot and *.conf.
_APT_PART_NAME = re.compile(r"^[A-Za-z0-9_\-]+(\.conf)?$")
_TOKENS = re.compile(r'//[^\n]*|/\*.*?\*/|"[^"\n]*"|[{};]|[^\s{};"]+|\n', re.DOTALL)


@dataclass(frozen=True)
class AptValue:
    value: str
    origin: str  # file:line


@dataclass(frozen=True)
class AptConfig:
    """Scalar options and list options of apt.conf, keys lower-cased ("apt::periodic::...")."""

    values: Mapping[str, AptValue] = field(default_factory=lambda: MappingProxyType({}))
    lists: Mapping[str, tuple[AptValue, ...]] = field(default_factory=lambda: MappingProxyType({}))
    files: tuple[str, ...] = ()

    def get(self, key: str) -> AptValue | None:
        return self.values.get(key.lower())

    def items(self, key: str) -> tuple[AptValue, ...]:
        return self.lists.get(key.lower(), ())


def parse_apt_conf(
    text: str,
    origin: str,
    values: dict[str, AptValue],
    lists: dict[str, list[AptValue]],
) -> None:
    """Parse one apt.conf file into `values` and `lists` (later files override earlier)."""
    line = 1
    scope: list[str] = []
    words: list[tuple[str, int]] = []
    # '#' lines are comments (and #include/#clear directives, which this parser ignores);
    # blanking them keeps the line numbers right.
    cleaned = "\n".join("" if row.lstrip().startswith("#") else row for row in text.split("\n"))
    for match in _TOKENS.finditer(cleaned):
        token = match[0]
        if token == "\n":
            line += 1
            continue
        if token.startswith(("//", "/*")):
            line += token.count("\n")
            continue
        if token == "{":
            if words:
                scope.append(words[0][0].strip('"'))
            words = []
        elif token == "}":
            if scope:
                scope.pop()
            words = []
        elif token == ";":
            _statement(words, scope, origin, values, lists)
            words = []
        else:
            words.append((token, line))


def _statement(
    words: list[tuple[str, int]],
    scope: list[str],
    origin: str,
    values: dict[str, AptValue],
    lists: dict[str, list[AptValue]],
) -> None:
    if not words:
        return
    if len(words) == 1:
        if scope:  # a bare value inside a scope is a list item of that scope
            key = "::".join(scope).lower()
            lists.setdefault(key, []).append(
                AptValue(words[0][0].strip('"'), f"{origin}:{words[0][1]}")
            )
        return
    key = "::".join([*scope, words[0][0].strip('"')]).lower()
    values[key] = AptValue(words[1][0].strip('"'), f"{origin}:{words[0][1]}")


def collect_apt_config(host: Host, config: Config) -> AptConfig:
    """The merged APT configuration of the audited system."""
    del config
    values: dict[str, AptValue] = {}
    lists: dict[str, list[AptValue]] = {}
    files: list[str] = []
    parts = [f"{APT_CONF_D}/{n}" for n in host.listdir(APT_CONF_D) if _APT_PART_NAME.match(n)]
    for path in [*parts, APT_CONF]:
        text = host.read_text_or_none(path) if not host.is_dir(path) else None
        if text is None:
            continue
        files.append(path)
        parse_apt_conf(text, path, values, lists)
    return AptConfig(
        MappingProxyType(values),
        MappingProxyType({k: tuple(v) for k, v in lists.items()}),
        tuple(files),
    )


# -- APT sources -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AptSource:
    """One enabled `deb` source (one-line or deb822 format)."""

    uri: str
    suite: str
    options: str  # [trusted=yes ...] or deb822 fields that matter
    origin: str  # file:line

    @property
    def is_security(self) -> bool:
        return (
            self.suite.endswith(("-security", "/updates"))
            or "security." in self.uri
            or "/debian-security" in self.uri
        )

    @property
    def is_trusted_blindly(self) -> bool:
        """trusted=yes / allow-insecure=yes: apt installs whatever this source serves."""
        opts = self.options.lower().replace(" ", "")
        return any(flag in opts for flag in ("trusted=yes", "allow-insecure=yes", "trusted:yes"))


_ONE_LINE = re.compile(r"^deb\s+(?:\[(?P<opts>[^\]]*)\]\s+)?(?P<uri>\S+)\s+(?P<suite>\S+)")


def parse_one_line_sources(text: str, origin: str) -> list[AptSource]:
    found = []
    for number, row in enumerate(text.splitlines(), 1):
        match = _ONE_LINE.match(row.strip())
        if match:
            found.append(
                AptSource(match["uri"], match["suite"], match["opts"] or "", f"{origin}:{number}")
            )
    return found


def parse_deb822_sources(text: str, origin: str) -> list[AptSource]:
    found = []
    line = 1
    for chunk in text.split("\n\n"):
        fields: dict[str, str] = {}
        for row in chunk.split("\n"):
            key, sep, value = row.partition(":")
            if sep and row[:1] not in " \t#":
                fields[key.strip().lower()] = value.strip()
        types = fields.get("types", "").split()
        if "deb" in types and fields.get("enabled", "yes").lower() != "no":
            opts = " ".join(
                f"{k}={fields[k]}" for k in ("trusted", "allow-insecure") if k in fields
            )
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    found.append(AptSource(uri, suite, opts, f"{origin}:{line}"))
        line += chunk.count("\n") + 2
    return found


def collect_apt_sources(host: Host, config: Config) -> tuple[AptSource, ...]:
    """Enabled `deb` sources from sources.list and sources.list.d (*.list, *.sources)."""
    del config
    sources: list[AptSource] = []
    text = host.read_text_or_none(SOURCES_LIST)
    if text is not None:
        sources.extend(parse_one_line_sources(text, SOURCES_LIST))
    for name in host.listdir(SOURCES_D):
        path = f"{SOURCES_D}/{name}"
        if name.endswith(".list"):
            sources.extend(parse_one_line_sources(host.read_text_or_none(path) or "", path))
        elif name.endswith(".sources"):
            sources.extend(parse_deb822_sources(host.read_text_or_none(path) or "", path))
    return tuple(sources)


# -- dnf-automatic, timers, reboot-required ------------------------------------------------


@dataclass(frozen=True)
class DnfAutomatic:
    """/etc/dnf/automatic.conf and its timers."""

    present: bool
    apply_updates: str = ""
    upgrade_type: str = ""
    timers_enabled: tuple[str, ...] = ()


def collect_dnf_automatic(host: Host, config: Config) -> DnfAutomatic:
    del config
    text = host.read_text_or_none(DNF_AUTOMATIC)
    if text is None:
        return DnfAutomatic(present=False)
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=DNF_AUTOMATIC)
    except configparser.Error:
        return DnfAutomatic(present=True)
    timers = tuple(
        name
        for name in ("dnf-automatic.timer", "dnf-automatic-install.timer", "dnf5-automatic.timer")
        if timer_enabled(host, name)
    )
    return DnfAutomatic(
        present=True,
        apply_updates=parser.get("commands", "apply_updates", fallback="no").strip().lower(),
        upgrade_type=parser.get("commands", "upgrade_type", fallback="default").strip().lower(),
        timers_enabled=timers,
    )


def timer_enabled(host: Host, unit: str) -> bool:
    """A systemd timer is enabled when timers.target wants it (and it is not masked)."""
    return host.exists(f"{TIMERS_WANTS}/{unit}") and not timer_masked(host, unit)


def timer_masked(host: Host, unit: str) -> bool:
    """Masked: /etc/systemd/system/UNIT is a symlink to /dev/null."""
    try:
        link = host.lpath(f"/etc/systemd/system/{unit}")
        return link.is_symlink() and str(link.readlink()) == "/dev/null"
    except OSError:
        return False


@dataclass(frozen=True)
class RebootRequired:
    required: bool
    packages: tuple[str, ...] = ()


def collect_reboot_required(host: Host, config: Config) -> RebootRequired:
    """Debian/Ubuntu's /var/run/reboot-required flag and the packages that set it."""
    del config
    if not host.exists(REBOOT_REQUIRED):
        return RebootRequired(False)
    pkgs = host.read_text_or_none(REBOOT_REQUIRED + ".pkgs") or ""
    return RebootRequired(True, tuple(dict.fromkeys(p for p in pkgs.split() if p)))


_APK_UPGRADE = re.compile(r"^[^#\n]*\bapk\s+(?:-\S+\s+)*upgrade\b", re.MULTILINE)


def collect_apk_upgrade_jobs(host: Host, config: Config) -> tuple[str, ...]:
    """file:line of scheduled `apk upgrade` jobs (Alpine's periodic scripts and root crontab)."""
    del config
    candidates = [
        f"/etc/periodic/{period}/{name}"
        for period in ("15min", "hourly", "daily", "weekly", "monthly")
        for name in host.listdir(f"/etc/periodic/{period}")
    ]
    jobs: list[str] = []
    for path in [*candidates, "/etc/crontabs/root"]:
        text = host.read_text_or_none(path) if not host.is_dir(path) else None
        if text is None:
            continue
        for match in _APK_UPGRADE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            jobs.append(f"{path}:{line}")
    return tuple(jobs)
