"""Rescans: a stat snapshot of the watched trees, compared after an overflow or a restart,
plus the integrity baseline (garrison.integrity.verify.verify_baseline) when one exists."""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import ctypes.util
import importlib
import os
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from garrison.guard.fileevents import FileState, file_state
from garrison.guard.pathglob import PathFilter
from garrison.model import Event


class HashMap:
    """int -> int in two sorted 8-byte arrays plus a small dict of later changes.

    About 16 bytes per file instead of ~120 for a dict of Python ints; lookups bisect.
    """

    def __init__(self, keys: array[int] | None = None, values: array[int] | None = None) -> None:
        self.keys = keys if keys is not None else array("q")
        self.values = values if values is not None else array("q")
        self.changes: dict[int, int | None] = {}  # None: removed since the arrays were built

    @classmethod
    def build(cls, keys: array[int], values: array[int]) -> HashMap:
        order = sorted(range(len(keys)), key=keys.__getitem__)
        return cls(array("q", (keys[i] for i in order)), array("q", (values[i] for i in order)))

    def get(self, key: int) -> int | None:
        if key in self.changes:
            return self.changes[key]
        i = bisect.bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            return self.values[i]
        return None

    def __setitem__(self, key: int, value: int) -> None:
        self.changes[key] = value

    def discard(self, key: int) -> None:
        self.changes[key] = None

    def __contains__(self, key: int) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        return len(self.keys) + sum(1 for k, v in self.changes.items() if v is not None)


@dataclass
class Snapshot:
    """A compact picture of the watched trees (about 16 bytes per file).

    files maps hash(path) -> hash(lstat state); dirs maps a directory to the hash and count of
    its watched file names, which is how a rescan finds files removed while the guard was blind.
    """

    files: HashMap = field(default_factory=HashMap)
    dirs: dict[str, tuple[int, int]] = field(default_factory=dict)  # (names hash, count)

    def __len__(self) -> int:
        return len(self.files)

    def update(
        self, path: str, state: FileState | None, path_filter: PathFilter, names_changed: bool
    ) -> None:
        """Follow one event so the next rescan does not report it again."""
        if state is None:
            self.files.discard(hash(path))
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
    keys: array[int] = array("q")
    values: array[int] = array("q")
    for root in roots:
        if not os.path.lexists(root):
            continue
        if not os.path.isdir(root) or os.path.islink(root):
            state = file_state(root)
            if state is not None and root in path_filter:
                keys.append(hash(root))
                values.append(hash(state))
            continue
        for directory, _dirs, files in os.walk(root):
            names = []
            for name in files:
                path = os.path.join(directory, name)
                if path in path_filter:
                    state = file_state(path)
                    if state is not None:
                        keys.append(hash(path))
                        values.append(hash(state))
                        names.append(name)
            snap.dirs[directory] = (hash(tuple(sorted(names))), len(names))
    snap.files = HashMap.build(keys, values)
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
            current = after.files.get(key)
            if current is None:
                continue
            previous = before.files.get(key)
            if previous is None:
                changes.append(("create", path))
                added += 1
            elif previous != current:
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
