"""Compare two record streams in manifest order: what was added, removed, changed or renamed."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from garrison.errors import IntegrityError
from garrison.integrity.records import TYPE_NAMES, UNREADABLE, FileRecord, sort_key
from garrison.model import Severity

#: A path component that marks configuration, where an edit is routine rather than alarming.
CONFIG_COMPONENT = "/etc/"


@dataclass(frozen=True)
class Change:
    """One difference between the baseline and now, about one path."""

    kind: str  # added removed content metadata type symlink renamed setuid setgid capability ...
    path: str
    severity: Severity
    detail: str
    before: dict[str, str] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)
    old_path: str = ""  # for renames: where the content was


def _describe(record: FileRecord) -> dict[str, str]:
    out = {
        "type": TYPE_NAMES.get(record.type, record.type),
        "mode": f"{record.mode:04o}",
        "owner": f"{record.uid}:{record.gid}",
    }
    if record.type == "f":
        out["size"] = str(record.size)
        out["hash"] = record.hash
    if record.caps:
        out["caps"] = record.caps
    if record.target:
        out["target"] = record.target
    return out


def _is_config(path: str) -> bool:
    return CONFIG_COMPONENT in path


def _added(record: FileRecord) -> list[Change]:
    changes = []
    executable = record.type == "f" and record.mode & 0o111
    severity = Severity.HIGH if executable and not _is_config(record.path) else Severity.MEDIUM
    what = "executable file" if executable else TYPE_NAMES.get(record.type, record.type)
    if record.type == "f" and record.nlink > 1:
        what += f" (hard link, {record.nlink} names share its inode {record.inode})"
    changes.append(Change("added", record.path, severity, f"new {what}", after=_describe(record)))
    changes.extend(_privilege_changes(None, record))
    return changes


def _privilege_changes(old: FileRecord | None, new: FileRecord) -> list[Change]:
    """New setuid/setgid bits and file capabilities: how attackers keep root."""
    out = []
    if new.setuid and (old is None or not old.setuid):
        out.append(
            Change(
                "setuid",
                new.path,
                Severity.CRITICAL,
                f"setuid bit set (owner uid {new.uid})",
                {"mode": f"{old.mode:04o}"} if old else {},
                {"mode": f"{new.mode:04o}"},
            )
        )
    if new.setgid and new.type == "f" and (old is None or not old.setgid):
        out.append(
            Change(
                "setgid",
                new.path,
                Severity.HIGH,
                f"setgid bit set (group gid {new.gid})",
                {"mode": f"{old.mode:04o}"} if old else {},
                {"mode": f"{new.mode:04o}"},
            )
        )
    if new.caps and (old is None or old.caps != new.caps):
        out.append(
            Change(
                "capability",
                new.path,
                Severity.HIGH,
                "file capabilities " + ("changed" if old and old.caps else "added"),
                {"caps": old.caps} if old and old.caps else {},
                {"caps": new.caps},
            )
        )
    return out


def compare_records(old: FileRecord, new: FileRecord) -> list[Change]:
    """The changes between two records of the same path."""
    path = new.path
    if old.type != new.type:
        return [
            Change(
                "type",
                path,
                Severity.HIGH,
                f"{TYPE_NAMES.get(old.type)} replaced by a {TYPE_NAMES.get(new.type)}",
                _describe(old),
                _describe(new),
            ),
            *_privilege_changes(None, new),
        ]
    changes: list[Change] = []
    if new.type == "f" and old.hash != new.hash:
        if UNREADABLE in (old.hash, new.hash):
            changes.append(
                Change(
                    "unreadable",
                    path,
                    Severity.MEDIUM,
                    "content could not be read, so it could not be compared",
                    {"hash": old.hash},
                    {"hash": new.hash},
                )
            )
        else:
            severity = Severity.MEDIUM if _is_config(path) else Severity.HIGH
            mtime_note = " (mtime unchanged)" if old.mtime_ns == new.mtime_ns else ""
            changes.append(
                Change(
                    "content",
                    path,
                    severity,
                    f"content changed{mtime_note}",
                    {"hash": old.hash, "size": str(old.size), "mtime_ns": str(old.mtime_ns)},
                    {"hash": new.hash, "size": str(new.size), "mtime_ns": str(new.mtime_ns)},
                )
            )
    if new.type == "l" and old.target != new.target:
        changes.append(
            Change(
                "symlink",
                path,
                Severity.HIGH,
                "symlink points elsewhere",
                {"target": old.target},
                {"target": new.target},
            )
        )
    content_changed = any(c.kind == "content" for c in changes)
    changes.extend(_metadata_changes(old, new, content_changed=content_changed))
    changes.extend(_privilege_changes(old, new))
    if old.caps and not new.caps:
        changes.append(
            Change(
                "capability", path, Severity.LOW, "file capabilities removed", {"caps": old.caps}
            )
        )
    return changes


def _metadata_changes(
    old: FileRecord, new: FileRecord, *, content_changed: bool = False
) -> list[Change]:
    """Mode, owner, and (for files) mtime, link count and inode; mtime is implied by a content
    change, so it is left out then."""
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    severity = Severity.LOW
    # setuid/setgid gains are reported on their own; here the rest of the mode.
    privilege_bits = stat.S_ISUID | stat.S_ISGID
    if (old.mode & ~privilege_bits) != (new.mode & ~privilege_bits) or (
        old.mode & privilege_bits and not new.mode & privilege_bits
    ):
        before["mode"], after["mode"] = f"{old.mode:04o}", f"{new.mode:04o}"
        gained_write = (new.mode & ~old.mode) & (stat.S_IWGRP | stat.S_IWOTH)
        severity = max(severity, Severity.HIGH if gained_write else Severity.MEDIUM)
    if (old.uid, old.gid) != (new.uid, new.gid):
        before["owner"], after["owner"] = f"{old.uid}:{old.gid}", f"{new.uid}:{new.gid}"
        severity = max(severity, Severity.MEDIUM)
    if new.type != "d":
        if old.mtime_ns != new.mtime_ns and not content_changed:
            before["mtime_ns"], after["mtime_ns"] = str(old.mtime_ns), str(new.mtime_ns)
        if old.nlink != new.nlink:
            before["nlink"], after["nlink"] = str(old.nlink), str(new.nlink)
        if old.inode != new.inode:
            before["inode"], after["inode"] = str(old.inode), str(new.inode)
    if not before:
        return []
    return [
        Change(
            "metadata", new.path, severity, "changed: " + ", ".join(sorted(before)), before, after
        )
    ]


def _match_renames(removed: list[FileRecord], added: list[FileRecord]) -> list[Change]:
    """Pair removed and added files with the same content hash as renames (in place)."""
    by_hash: dict[str, list[FileRecord]] = {}
    for record in removed:
        if record.type == "f" and record.hash not in ("", UNREADABLE):
            by_hash.setdefault(record.hash, []).append(record)
    renames: list[Change] = []
    still_added: list[FileRecord] = []
    matched: set[str] = set()
    for record in added:
        candidates = by_hash.get(record.hash) if record.type == "f" else None
        if candidates:
            old = candidates.pop(0)
            matched.add(old.path)
            renames.append(
                Change(
                    "renamed",
                    record.path,
                    Severity.LOW,
                    f"moved from {old.path} (same content)",
                    {"path": old.path},
                    {"path": record.path},
                    old_path=old.path,
                )
            )
            renames.extend(_privilege_changes(old, record))
        else:
            still_added.append(record)
    added[:] = still_added
    removed[:] = [r for r in removed if r.path not in matched]
    return renames


def diff_records(
    baseline: Iterable[FileRecord], current: Iterable[FileRecord], *, max_pending: int = 200_000
) -> Iterator[Change]:
    """Merge two streams in manifest order and yield the changes, renames matched at the end.

    Only added and removed records are kept (to pair renames); unchanged ones pass through.
    """
    removed: list[FileRecord] = []
    added: list[FileRecord] = []
    old_iter = iter(baseline)
    new_iter = iter(current)
    old = next(old_iter, None)
    new = next(new_iter, None)
    while old is not None or new is not None:
        if old is not None and new is not None and old.path == new.path:
            if old != new:  # tuples: equal means nothing at all changed
                yield from compare_records(old, new)
            old = next(old_iter, None)
            new = next(new_iter, None)
        elif new is None or (old is not None and sort_key(old.path) < sort_key(new.path)):
            assert old is not None
            if len(removed) < max_pending:
                removed.append(old)
            else:
                yield Change("removed", old.path, _removed_severity(old), "removed")
            old = next(old_iter, None)
        else:
            if len(added) < max_pending:
                added.append(new)
            else:
                yield from _added(new)
            new = next(new_iter, None)
    yield from _finish(removed, added)


def _finish(removed: list[FileRecord], added: list[FileRecord]) -> Iterator[Change]:
    """Renames first (they consume their removed/added halves), then the rest."""
    yield from _match_renames(removed, added)
    for record in removed:
        yield Change(
            "removed",
            record.path,
            _removed_severity(record),
            f"{TYPE_NAMES.get(record.type, record.type)} removed",
            before=_describe(record),
        )
    for record in added:
        yield from _added(record)


def diff_lines(
    baseline: Iterable[tuple[int, str]],
    current: Iterable[tuple[str, str]],
    parse: Callable[[str, int], FileRecord],
    *,
    max_pending: int = 200_000,
) -> Iterator[Change]:
    """diff_records over a manifest's raw record lines (numbered) and fresh (path, line) pairs.

    A line identical to the fresh one is skipped without being parsed: on a clean tree almost
    every line is, and parsing was a third of a full verify's own work. Baseline order is still
    checked on every line that is parsed.
    """
    removed: list[FileRecord] = []
    added: list[FileRecord] = []
    base_iter, cur_iter = iter(baseline), iter(current)
    base, cur = next(base_iter, None), next(cur_iter, None)
    old: FileRecord | None = None  # `base`, parsed, once needed
    new: FileRecord | None = None  # `cur`, parsed, once needed
    last_path = ""  # the last baseline path consumed (its key is computed only when needed)
    while base is not None or cur is not None:
        if (
            old is None
            and new is None
            and base is not None
            and cur is not None
            and base[1] == cur[1]
        ):
            last_path = cur[0]
            base, cur = next(base_iter, None), next(cur_iter, None)
            continue
        if old is None and base is not None:
            old = parse(base[1], base[0])
            if last_path and sort_key(old.path) <= sort_key(last_path):
                raise IntegrityError(f"line {base[0]}: records out of order: tampered")
            last_path = old.path
        if new is None and cur is not None:
            new = FileRecord.from_line(cur[1], f"scan of {cur[0]}")
        if old is not None and new is not None and old.path == new.path:
            if old != new:
                yield from compare_records(old, new)
            base, cur = next(base_iter, None), next(cur_iter, None)
            old = new = None
        elif new is None or (old is not None and sort_key(old.path) < sort_key(new.path)):
            assert old is not None
            if len(removed) < max_pending:
                removed.append(old)
            else:
                yield Change("removed", old.path, _removed_severity(old), "removed")
            base, old = next(base_iter, None), None
        else:
            if len(added) < max_pending:
                added.append(new)
            else:
                yield from _added(new)
            cur, new = next(cur_iter, None), None
    yield from _finish(removed, added)


def _removed_severity(record: FileRecord) -> Severity:
    return Severity.LOW if _is_config(record.path) else Severity.MEDIUM
