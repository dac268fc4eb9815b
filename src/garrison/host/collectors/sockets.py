"""Listening sockets of the live host (TCP LISTEN and bound UDP), with their owning process.

psutil maps socket inodes to processes by walking /proc/*/fd, which is what `ss -p` does too;
it is only meaningful on the live host and needs root to see other users' processes.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import psutil

from garrison.config.schema import Config
from garrison.errors import HostError
from garrison.host.host import Host

DEFAULT_SSH_PORT = 22


@dataclass(frozen=True)
class ListeningSocket:
    """One listening TCP socket or bound UDP socket."""

    proto: str  # "tcp" or "udp"
    address: str  # "0.0.0.0", "::", "127.0.0.1", ...
    port: int
    pid: int | None
    process: str  # process name, "" when unknown (not root, or a kernel socket)
    exe: str

    @property
    def loopback_only(self) -> bool:
        try:
            return ipaddress.ip_address(self.address.split("%", 1)[0]).is_loopback
        except ValueError:
            return False

    @property
    def endpoint(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.proto} {host}:{self.port}"

    @property
    def owner(self) -> str:
        if self.pid is None:
            return "owner unknown"
        return f"{self.process or '?'} (pid {self.pid}{', ' + self.exe if self.exe else ''})"


def _process_info(pid: int | None, cache: dict[int, tuple[str, str]]) -> tuple[str, str]:
    if pid is None:
        return "", ""
    if pid not in cache:
        try:
            proc = psutil.Process(pid)
            name = proc.name()
            try:
                exe = proc.exe()
            except (psutil.AccessDenied, psutil.ZombieProcess):
                exe = ""
            cache[pid] = (name, exe)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            cache[pid] = ("", "")
    return cache[pid]


def collect_listening_sockets(host: Host, config: Config) -> tuple[ListeningSocket, ...]:
    """Every TCP socket in LISTEN and every UDP socket bound without a peer, v4 and v6."""
    del config
    if not host.live:
        raise HostError("listening sockets are only observable on the live host")
    try:
        conns = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        raise HostError("listing sockets: permission denied (run garrison as root)") from None
    processes: dict[int, tuple[str, str]] = {}
    found: dict[tuple[str, str, int, int | None], ListeningSocket] = {}
    for conn in conns:
        if not conn.laddr:
            continue
        if conn.type == socket.SOCK_STREAM:
            if conn.status != psutil.CONN_LISTEN:
                continue
            proto = "tcp"
        elif conn.type == socket.SOCK_DGRAM:
            if conn.raddr:
                continue  # a connected UDP socket is a client, not a service
            proto = "udp"
        else:
            continue
        name, exe = _process_info(conn.pid, processes)
        key = (proto, conn.laddr.ip, conn.laddr.port, conn.pid)
        found[key] = ListeningSocket(proto, conn.laddr.ip, conn.laddr.port, conn.pid, name, exe)
    return tuple(sorted(found.values(), key=lambda s: (s.port, s.proto, s.address, s.pid or 0)))


@dataclass(frozen=True)
class SshPorts:
    ports: tuple[int, ...]
    source: str


def collect_ssh_ports(host: Host, config: Config) -> SshPorts:
    """sshd's Port lines as its config files say (Include honoured), or 22 when none is set.

    Uses the SSH area's offline parser, without running sshd: this is the fallback for when
    `sshd -T` cannot say (see checks.image.expected_ssh_ports).
    """
    from garrison.checks.base import CheckSkipped
    from garrison.host.collectors.sshd import load_sshd_config

    main = config.ssh.sshd_config
    try:
        sshd = load_sshd_config(host, main, run_sshd=False)
    except (CheckSkipped, HostError):
        return SshPorts((DEFAULT_SSH_PORT,), f"default (no readable {main})")
    origins = [o.origin for o in sshd.all("port") if o.origin != "default"]
    ports = tuple(sorted(sshd.ports()))
    if not origins or not ports:
        return SshPorts((DEFAULT_SSH_PORT,), f"default (no Port in {main})")
    # sshd listens on every Port given, so all of them are expected.
    return SshPorts(ports, ", ".join(origins))
