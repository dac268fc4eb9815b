"""Rescans: a stat snapshot of the watched trees, compared after an overflow or a restart,
plus the integrity baseline (garrison.integrity.verify.verify_baseline) when one exists."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from garrison.guard.fileevents import FileState, file_state
from garrison.guard.pathglob import PathFilter
from garrison.model import Event

Snapshot = dict[str, FileState]


def take_snapshot(roots: Iterable[str], path_filter: PathFilter) -> Snapshot:
    """lstat of every watched path under roots (directories are not followed across links)."""
    snap: Snapshot = {}
    for root in roots:
        if not os.path.lexists(root):
            continue
        if not os.path.isdir(root) or os.path.islink(root):
            state = file_state(root)
            if state is not None and root in path_filter:
                snap[root] = state
            continue
        for directory, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(directory, name)
                if path in path_filter:
                    state = file_state(path)
                    if state is not None:
                        snap[path] = state
    return snap


def compare_snapshots(before: Snapshot, after: Snapshot) -> list[tuple[str, str]]:
    """(kind, path) for every difference; kinds create/write/attrib/delete."""
    changes: list[tuple[str, str]] = []
    for path, state in after.items():
        old = before.get(path)
        if old is None:
            changes.append(("create", path))
        elif old != state:
            content = old[1:3] != state[1:3] or old[4] != state[4]
            changes.append(("write" if content else "attrib", path))
    changes.extend(("delete", path) for path in before if path not in after)
    return sorted(changes, key=lambda c: c[1])


def verify_against_baseline(config: Any) -> tuple[str, list[Event]]:
    """('ok'|'no baseline'|'unavailable: ...', events for each drift) from the integrity area."""
    try:
        verify = importlib.import_module("garrison.integrity.verify")
    except ImportError:
        return "unavailable: garrison.integrity.verify is not installed", []
    try:
        report = verify.verify_baseline(config, full=False)
    except Exception as exc:  # no baseline, bad signature...: reported, never fatal
        return f"not verified: {exc}", []
    events = []
    now = datetime.now(UTC)
    for change in getattr(report, "changes", ()) or ():
        kind = str(getattr(change, "kind", "changed"))
        events.append(
            Event(
                source="integrity",
                kind={"added": "create", "removed": "delete"}.get(kind, "write"),
                time=now,
                path=str(getattr(change, "path", "")),
                detail={"baseline_change": kind, "what": str(getattr(change, "detail", ""))},
            )
        )
    return "ok", events
