"""What `garrison init` finds on a host: SSH port, listening services, trading software."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
class Listener:
    port: int
    protocol: str
    address: str
    process: str


@dataclass(frozen=True)
class Discovery:
    hostname: str
    ssh_ports: tuple[int, ...]
    listeners: tuple[Listener, ...]
    strategies: tuple[FoundStrategy, ...] = field(default_factory=tuple)


def discover(host: Host) -> Discovery:
    """Look at the host (files through host.root; processes and sockets only when live)."""
    return Discovery(
        hostname=host.hostname,
        ssh_ports=_ssh_ports(host),
        listeners=_listeners() if host.live else (),
        strategies=_strategies(host),
    )


def _ssh_ports(host: Host) -> tuple[int, ...]:
    text = host.read_text_or_none("/etc/ssh/sshd_config") or ""
    ports = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0].lower() == "port" and words[1].isdigit():
            ports.append(int(words[1]))
    return tuple(ports) or (22,)


def _listeners() -> tuple[Listener, ...]:
    import psutil  # only needed on the live host

    seen: dict[tuple[int, str], Listener] = {}
    try:
        conns = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, OSError):
        return ()
    for conn in conns:
        is_tcp_listen = conn.status == psutil.CONN_LISTEN
        is_udp_bound = conn.type == 2 and not conn.raddr  # SOCK_DGRAM
        if not (is_tcp_listen or is_udp_bound) or not conn.laddr:
            continue
        proto = "tcp" if is_tcp_listen else "udp"
        name = ""
        if conn.pid:
            try:
                name = psutil.Process(conn.pid).name()
            except (psutil.Error, OSError):
                name = f"pid {conn.pid}"
        key = (conn.laddr.port, proto)
        if key not in seen or conn.laddr.ip in ("0.0.0.0", "::"):  # noqa: S104 - a comparison
            seen[key] = Listener(conn.laddr.port, proto, conn.laddr.ip, name)
    return tuple(sorted(seen.values(), key=lambda item: (item.protocol, item.port)))


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
