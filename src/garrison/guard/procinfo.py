"""What /proc says about the process behind an event: executable, uid and ancestry."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

MAX_ANCESTORS = 12
#: A burst from one writer (pip, dpkg, tar) costs one /proc walk per second, not per event.
#: A stale entry after an exec can only misattribute for this long, and package-manager writes
#: are verified by content anyway.
CACHE_TTL_S = 1.0
CACHE_MAX = 1024


@dataclass(frozen=True)
class ProcessInfo:
    """The writer of an event; `gone` when the process exited before we could look."""

    pid: int
    exe: str
    uid: int | None
    comm: str
    ancestors: tuple[str, ...]  # comm names from the parent upwards
    gone: bool = False


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _stat_fields(pid: int) -> tuple[str, int]:
    """(comm, ppid) from /proc/PID/stat; comm may contain spaces and parentheses."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return "", 0
    start, end = text.find("("), text.rfind(")")
    comm = text[start + 1 : end]
    rest = text[end + 2 :].split()
    return comm, int(rest[1]) if len(rest) > 1 else 0


_cache: dict[int, tuple[float, ProcessInfo]] = {}


def process_info(pid: int | None) -> ProcessInfo | None:
    """Look up pid (cached for CACHE_TTL_S); None when there is no pid (inotify events)."""
    if pid is None or pid <= 0:
        return None
    now = time.monotonic()
    hit = _cache.get(pid)
    if hit is not None and now - hit[0] < CACHE_TTL_S:
        return hit[1]
    info = _lookup(pid)
    if not info.gone:
        if len(_cache) >= CACHE_MAX:
            _cache.clear()
        _cache[pid] = (now, info)
    return info


def _lookup(pid: int) -> ProcessInfo:
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = ""
    comm, ppid = _stat_fields(pid)
    if not comm and not exe:
        return ProcessInfo(pid, "", None, "", (), gone=True)
    uid: int | None = None
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("Uid:"):
            uid = int(line.split()[1])
            break
    ancestors: list[str] = []
    seen = {pid}
    while ppid > 1 and ppid not in seen and len(ancestors) < MAX_ANCESTORS:
        seen.add(ppid)
        parent_comm, ppid = _stat_fields(ppid)
        if not parent_comm:
            break
        ancestors.append(parent_comm)
    return ProcessInfo(pid, exe.removesuffix(" (deleted)"), uid, comm, tuple(ancestors))
