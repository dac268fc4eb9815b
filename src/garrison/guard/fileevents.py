"""Turn a raw file notification (path, kind, pid) into a model.Event with what rules need."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from garrison.guard.procinfo import process_info
from garrison.model import Event

CAPABILITY_XATTR = "security.capability"

#: The order in which a merged notification picks its main kind.
KIND_PRIORITY = ("create", "move_to", "write", "attrib", "delete", "move_from")

FileState = tuple[int, int, int, int, int]  # mode, size, mtime_ns, ctime_ns, inode


def file_state(path: str) -> FileState | None:
    """What a rescan compares; None when the path does not exist."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def describe_file(path: str) -> dict[str, Any]:
    """Mode, setuid/setgid and file capabilities of path as it is now (empty if it is gone)."""
    try:
        st = os.lstat(path)
    except OSError:
        return {"exists": False}
    info: dict[str, Any] = {
        "exists": True,
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
        "owner_uid": st.st_uid,
        "type": "dir" if stat.S_ISDIR(st.st_mode) else "file",
    }
    if stat.S_ISREG(st.st_mode):
        info["setuid"] = bool(st.st_mode & stat.S_ISUID)
        info["setgid"] = bool(st.st_mode & stat.S_ISGID)
        try:
            info["capability"] = bool(os.getxattr(path, CAPABILITY_XATTR, follow_symlinks=False))
        except OSError:
            info["capability"] = False
    return info


def build_file_event(
    source: str,
    kinds: tuple[str, ...],
    path: str,
    pid: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Event:
    """The Event for one notification: main kind, writer process, file state."""
    main = next((k for k in KIND_PRIORITY if k in kinds), kinds[0] if kinds else "change")
    detail: dict[str, Any] = {"kinds": list(kinds), **describe_file(path)}
    if extra:
        detail.update(extra)
    proc = process_info(pid)
    exe, uid = "", None
    if proc is not None:
        exe, uid = proc.exe, proc.uid
        detail["comm"] = proc.comm
        detail["ancestors"] = list(proc.ancestors)
        if proc.gone:
            detail["process_gone"] = True  # the writer exited before we looked
    return Event(
        source=source,
        kind=main,
        time=datetime.now(UTC),
        path=path,
        pid=pid,
        exe=exe,
        uid=uid,
        detail=detail,
    )
