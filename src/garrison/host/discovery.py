"""What `garrison init` finds on a host: SSH port, listening services, trading software."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from garrison.config.schema import Config
from garrison.errors import HostError
from garrison.host.collectors.sockets import (
    ListeningSocket,
    collect_listening_sockets,
    collect_ssh_ports,
)
from garrison.host.host import Host

#: Well-known install locations, relative to a home directory (or absolute).
_DIR_HINTS: tuple[tuple[str, str], ...] = (
    ("freqtrade", "freqtrade"),
    ("freqtrade", "ft_userdata"),
    ("hummingbot", "hummingbot"),
    ("hummingbot", "hummingbot_files"),
    ("mt5", ".wine/drive_c/Program Files/MetaTrader 5"),
    ("mt5", ".mt5/drive_c/Program Files/MetaTrader 5"),
)
_ABS_HINTS: tuple[tuple[str, str], ...] = (
    ("freqtrade", "/opt/freqtrade"),
    ("freqtrade", "/srv/freqtrade"),
    ("hummingbot", "/opt/hummingbot"),
    ("custom", "/opt/trading"),
)
_PROCESS_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("freqtrade", re.compile(r"(^|[/\s])freqtrade(\s|$)")),
    ("hummingbot", re.compile(r"hummingbot(_quickstart)?\.py|(^|/)hummingbot(\s|$)")),
    ("mt5", re.compile(r"terminal(64)?\.exe", re.IGNORECASE)),
)


@dataclass(frozen=True)
class FoundStrategy:
    name: str
    kind: str
    user: str | None
    code_dir: str | None
    match: str | None
    evidence: str


@dataclass(frozen=True)
class Discovery:
    hostname: str
    ssh_ports: tuple[int, ...]
    listeners: tuple[ListeningSocket, ...]
    strategies: tuple[FoundStrategy, ...] = field(default_factory=tuple)


def discover(host: Host) -> Discovery:
    """Look at the host (files through host.root; processes and sockets only when live)."""
    config = Config()  # init runs before there is a config: describe the host on defaults
    listeners: tuple[ListeningSocket, ...] = ()
    if host.live:
        try:
            listeners = collect_listening_sockets(host, config)
        except HostError:
            listeners = ()  # not root: init still writes a config, just without the list
    return Discovery(
        hostname=host.hostname,
        ssh_ports=collect_ssh_ports(host, config).ports,
        listeners=listeners,
        strategies=_strategies(host),
    )


def _strategies(host: Host) -> tuple[FoundStrategy, ...]:
    found: dict[str, FoundStrategy] = {}
    if host.live:
        for strategy in _from_processes():
            found.setdefault(strategy.name, strategy)
    homes = [(a.name, a.home) for a in host.accounts() if a.home not in ("", "/", "/nonexistent")]
    for user, home in homes:
        for kind, rel in _DIR_HINTS:
            path = f"{home.rstrip('/')}/{rel}"
            if host.is_dir(path):
                name = _unique(found, f"{kind}-{user}")
                found[name] = FoundStrategy(name, kind, user, path, None, f"directory {path}")
    for kind, path in _ABS_HINTS:
        if host.is_dir(path) and not any(s.code_dir == path for s in found.values()):
            name = _unique(found, f"{kind}-{path.rstrip('/').rsplit('/', 1)[-1]}")
            found[name] = FoundStrategy(name, kind, None, path, None, f"directory {path}")
    return tuple(found.values())


def _from_processes() -> list[FoundStrategy]:
    import psutil

    out: list[FoundStrategy] = []
    for proc in psutil.process_iter(["pid", "cmdline", "username", "cwd"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        for kind, pattern in _PROCESS_PATTERNS:
            if pattern.search(cmdline):
                user = proc.info.get("username")
                out.append(
                    FoundStrategy(
                        name=f"{kind}-{user or proc.info['pid']}",
                        kind=kind,
                        user=user,
                        code_dir=proc.info.get("cwd"),
                        match=pattern.pattern,
                        evidence=f"process {proc.info['pid']}: {cmdline[:80]}",
                    )
                )
                break
    return out


def _unique(existing: dict[str, FoundStrategy], name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", name)
    candidate, n = safe, 2
    while candidate in existing:
        candidate, n = f"{safe}-{n}", n + 1
    return candidate
