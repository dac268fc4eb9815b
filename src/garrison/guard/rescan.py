"""Rescans: a stat snapshot of the watched trees, compared after an overflow or a restart,
plus the integrity baseline (garrison.integrity.verify.verify_baseline) when one exists."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from garrison.guard.fileevents import FileState, file_state
from garrison.guard.pathglob import PathFilter
from garrison.model import Event


@dataclass
class Snapshot:
    """A compact picture of the watched trees (about 120 bytes per file, not 450).

    files maps hash(path) -> hash(lstat state); dirs maps a directory to the hash of its
    watched file names, which is how a rescan finds files removed while the guard was blind.
    """

    files: dict[int, int] = field(default_factory=dict)
    dirs: dict[str, tuple[int, int]] = field(default_factory=dict)  # (names hash, count)

    def __len__(self) -> int:
        return len(self.files)

    def update(
        self, path: str, state: FileState | None, path_filter: PathFilter, names_changed: bool
    ) -> None:
        """Follow one event so the next rescan does not report it again."""
        if state is None:
            self.files.pop(hash(path), None)
        else:
            self.files[hash(path)] = hash(state)
        directory = os.path.dirname(path)
        if names_changed and directory in self.dirs:
            self.dirs[directory] = _names_hash(directory, path_filter)


def _names_hash(directory: str, path_filter: PathFilter) -> tuple[int, int]:
    try:
        with os.scandir(directory) as entries:
            names = sorted(
                e.name
                for e in entries
                if not e.is_dir(follow_symlinks=False)
                and os.path.join(directory, e.name) in path_filter
            )
    except OSError:
        return (0, 0)
    return hash(tuple(names)), len(names)


def take_snapshot(roots: Iterable[str], path_filter: PathFilter) -> Snapshot:
    """lstat of every watched path under roots (directories are not followed across links)."""
    snap = Snapshot()
    for root in roots:
        if not os.path.lexists(root):
            continue
        if not os.path.isdir(root) or os.path.islink(root):
            state = file_state(root)
            if state is not None and root in path_filter:
                snap.files[hash(root)] = hash(state)
            continue
        for directory, _dirs, files in os.walk(root):
            names = []
            for name in files:
                path = os.path.join(directory, name)
                if path in path_filter:
                    state = file_state(path)
                    if state is not None:
                        snap.files[hash(path)] = hash(state)
                        names.append(name)
            snap.dirs[directory] = (hash(tuple(sorted(names))), len(names))
    return snap


def rescan_changes(
    before: Snapshot, roots: Iterable[str], path_filter: PathFilter
) -> tuple[Snapshot, list[tuple[str, str]]]:
    """Walk again; (new snapshot, (kind, path) for each difference).

    New and changed files are named; a directory that lost files is reported as a 'delete' of
    the directory (the compact snapshot keeps no names).
    """
    after = take_snapshot(roots, path_filter)
    changes: list[tuple[str, str]] = []
    seen_dirs = set()
    for directory, (names_hash, count) in after.dirs.items():
        seen_dirs.add(directory)
        old = before.dirs.get(directory)
        try:
            with os.scandir(directory) as entries:
                paths = [
                    os.path.join(directory, e.name)
                    for e in entries
                    if not e.is_dir(follow_symlinks=False)
                ]
        except OSError:
            continue
        added = 0
        for path in paths:
            key = hash(path)
            if key not in after.files:
                continue
            previous = before.files.get(key)
            if previous is None:
                changes.append(("create", path))
                added += 1
            elif previous != after.files[key]:
                changes.append(("write", path))
        if old is not None and old[0] != names_hash and count - added < old[1]:
            changes.append(("delete", directory))  # files vanished from this directory
    changes.extend(("delete", d) for d in before.dirs if d not in seen_dirs)
    return after, sorted(changes, key=lambda c: c[1])


def release_memory() -> None:
    """Give the walk's freed memory back to the OS (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


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
