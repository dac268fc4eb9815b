"""The running processes of each strategy and how they are confined (live host only).

A strategy's processes are those matching all of its given criteria: `match` (regex on the
command line), `user`, and `unit` (the systemd unit in /proc/PID/cgroup). With no strategy
declared, processes that look like freqtrade, Hummingbot or MT5 are inspected instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from garrison.config.schema import Config
from garrison.config.strategies import Strategy
from garrison.host.host import Host

_NAMESPACES = ("mnt", "pid", "net", "user")
_LOOKALIKES = (
    ("freqtrade", re.compile(r"(^|[/\s])freqtrade(\s|$)")),
    ("hummingbot", re.compile(r"hummingbot(_quickstart)?\.py|(^|/)hummingbot(\s|$)")),
    ("mt5", re.compile(r"terminal(64)?\.exe", re.IGNORECASE)),
)


@dataclass(frozen=True)
class Confinement:
    """What /proc says about one process."""

    pid: int
    cmdline: str
    uid: int
    cap_eff: int
    no_new_privs: bool
    seccomp: int  # 0 off, 1 strict, 2 filter
    own_namespaces: tuple[str, ...]  # namespaces that differ from PID 1's


@dataclass(frozen=True)
class StrategyProcesses:
    name: str
    declared: bool
    processes: tuple[Confinement, ...]


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _status_fields(pid: int) -> dict[str, str]:
    fields = {}
    for line in _read(f"/proc/{pid}/status").splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _host_namespace(ns: str) -> str:
    """PID 1's namespace; garrison's own where PID 1 is out of reach (e.g. inside a sandbox)."""
    try:
        return os.readlink(f"/proc/1/ns/{ns}")
    except OSError:
        return os.readlink(f"/proc/self/ns/{ns}")


def inspect_process(pid: int) -> Confinement | None:
    """Confinement of one process, or None when it is gone or unreadable."""
    try:
        status = _status_fields(pid)
        cmdline = _read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()
        own = []
        for ns in _NAMESPACES:
            try:
                if os.readlink(f"/proc/{pid}/ns/{ns}") != _host_namespace(ns):
                    own.append(ns)
            except OSError:
                continue
        return Confinement(
            pid=pid,
            cmdline=cmdline,
            uid=int(status.get("Uid", "0").split()[1]),  # effective uid
            cap_eff=int(status.get("CapEff", "0"), 16),
            no_new_privs=status.get("NoNewPrivs", "0") == "1",
            seccomp=int(status.get("Seccomp", "0")),
            own_namespaces=tuple(own),
        )
    except (OSError, ValueError, IndexError):
        return None


def _matches(strategy: Strategy, pid: int, cmdline: str, uid_of: dict[str, int]) -> bool:
    if strategy.match is None and strategy.user is None and strategy.unit is None:
        return False
    if strategy.match is not None and not re.search(strategy.match, cmdline):
        return False
    if strategy.user is not None:
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid_of.get(strategy.user, -1):
                return False
        except OSError:
            return False
    if strategy.unit is not None:
        try:
            if f"/{strategy.unit}" not in _read(f"/proc/{pid}/cgroup"):
                return False
        except OSError:
            return False
    return True


def collect_strategy_processes(host: Host, config: Config) -> list[StrategyProcesses]:
    """Processes per declared strategy (or per look-alike kind when none is declared)."""
    uid_of = {a.name: a.uid for a in host.accounts()}
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    if pids and pids[0] == 1:
        pids = pids[1:]
    cmdlines: dict[int, str] = {}
    for pid in pids:
        try:
            cmdlines[pid] = _read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()
        except OSError:
            continue
    own_pid = os.getpid()
    result: list[StrategyProcesses] = []
    if config.strategies:
        for strategy in config.strategies:
            found = [
                inspect_process(pid)
                for pid, cmd in cmdlines.items()
                if pid != own_pid and cmd and _matches(strategy, pid, cmd, uid_of)
            ]
            procs = tuple(c for c in found if c is not None)
            result.append(StrategyProcesses(strategy.name, True, procs))
        return result
    for kind, pattern in _LOOKALIKES:
        found = [inspect_process(pid) for pid, cmd in cmdlines.items() if pattern.search(cmd)]
        procs = tuple(c for c in found if c is not None)
        if procs:
            result.append(StrategyProcesses(kind, False, procs))
    return result
