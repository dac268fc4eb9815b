"""Network-namespace lab: one "vps" namespace with a veth link to each peer host.

Peer i gets 10.77.i.0/24 and fd00:77:i::/64 (vps .1/::1, peer .2/::2); namespaces are named
`<prefix>-<pid>-<n>-<host>` so parallel labs never collide, and `close()` removes them even
after a failure. Nothing here touches the root network namespace.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
#: Absolute, so a test can run garrison with a PATH that lacks tools (e.g. no nft).
IP = shutil.which("ip") or "/usr/sbin/ip"
PROBE = HERE / "netprobe.py"
DNS_SERVER = HERE / "dns_server.py"
_counter = itertools.count()


@dataclass(frozen=True)
class Peer:
    name: str
    ns: str
    index: int

    @property
    def v4(self) -> str:
        return f"10.77.{self.index}.2"

    @property
    def v6(self) -> str:
        return f"fd00:77:{self.index}::2"

    @property
    def vps_v4(self) -> str:
        return f"10.77.{self.index}.1"

    @property
    def vps_v6(self) -> str:
        return f"fd00:77:{self.index}::1"

    @property
    def net_v4(self) -> str:
        return f"10.77.{self.index}.0/24"

    @property
    def net_v6(self) -> str:
        return f"fd00:77:{self.index}::/64"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Lab:
    prefix: str
    vps: str
    peers: dict[str, Peer] = field(default_factory=dict)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    # -- building ---------------------------------------------------------------------------
    def add_peer(self, name: str) -> Peer:
        index = len(self.peers) + 1
        peer = Peer(name, f"{self.prefix}-{name}", index)
        _ip("netns", "add", peer.ns)
        _ip("-n", peer.ns, "link", "set", "lo", "up")
        vps_if = f"to-{name}"[:15]
        _ip(
            "link",
            "add",
            vps_if,
            "netns",
            self.vps,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            peer.ns,
        )
        for ns, ifname, v4, v6 in (
            (self.vps, vps_if, peer.vps_v4, peer.vps_v6),
            (peer.ns, "eth0", peer.v4, peer.v6),
        ):
            _ip("-n", ns, "addr", "add", f"{v4}/24", "dev", ifname)
            _ip("-n", ns, "addr", "add", f"{v6}/64", "dev", ifname, "nodad")
            _ip("-n", ns, "link", "set", ifname, "up")
        self.peers[name] = peer
        return peer

    def __getitem__(self, name: str) -> Peer:
        return self.peers[name]

    # -- running ----------------------------------------------------------------------------
    def run(
        self,
        ns: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run argv inside namespace `ns` (a full ns name or a peer name, or "vps")."""
        return subprocess.run(
            [IP, "netns", "exec", self.ns_of(ns), *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=check,
        )

    def spawn(self, ns: str, argv: Sequence[str], *, ready: str = "READY") -> subprocess.Popen[str]:
        """Start a long-running process in `ns`; waits for `ready` on its stdout."""
        proc = subprocess.Popen(
            [IP, "netns", "exec", self.ns_of(ns), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if ready not in line:
            proc.kill()
            raise RuntimeError(
                f"{argv} did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
            )
        return proc

    def ns_of(self, name: str) -> str:
        if name == "vps":
            return self.vps
        return self.peers[name].ns if name in self.peers else name

    # -- packets ----------------------------------------------------------------------------
    def serve(self, ns: str, proto: str, port: int) -> subprocess.Popen[str]:
        """An echo server on every address of `ns` (v4 and v6)."""
        return self.spawn(ns, [sys.executable, str(PROBE), "serve", proto, str(port)])

    def probe(
        self,
        ns: str,
        proto: str,
        addr: str,
        port: int,
        *,
        user: str | None = None,
        timeout: float = 1.0,
    ) -> bool:
        """True when a round trip to addr:port from `ns` (optionally as `user`) succeeds."""
        argv = [sys.executable, str(PROBE), "probe", proto, addr, str(port), str(timeout)]
        if user:
            gid = pwd.getpwnam(user).pw_gid
            argv = ["setpriv", f"--reuid={user}", f"--regid={gid}", "--clear-groups", *argv]
        result = self.run(ns, argv, timeout=timeout + 10)
        return result.returncode == 0

    def ruleset(self, ns: str = "vps") -> str:
        return self.run(ns, ["nft", "-s", "list", "ruleset"], check=True).stdout

    # -- teardown ---------------------------------------------------------------------------
    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for ns in [self.vps, *(p.ns for p in self.peers.values())]:
            kill_processes_in(ns)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def kill_processes_in(ns: str) -> None:
    """Kill what still runs in a namespace we created (e.g. a detached watchdog)."""
    result = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    for pid in result.stdout.split():
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


@contextmanager
def network_lab(prefix: str, peers: Sequence[str]) -> Iterator[Lab]:
    """A vps namespace linked to each named peer; everything is removed on exit."""
    base = f"{prefix}-{os.getpid()}-{next(_counter)}"
    lab = Lab(base, f"{base}-vps")
    try:
        _ip("netns", "add", lab.vps)
        _ip("-n", lab.vps, "link", "set", "lo", "up")
        for name in peers:
            lab.add_peer(name)
        time.sleep(0.05)
        yield lab
    finally:
        lab.close()
