"""Walk protected trees in manifest order: what to scan (ScanSpec), what went wrong, and the
entries, depth-first with names sorted, without following anything."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from garrison.integrity.records import FileRecord, record_from_stat, sort_key

CHUNK_ENTRIES = 64

#: The baseline's record of a path, if any (fast mode reuses its hash when metadata matches).
#: Called in walk order from one thread, so it can be a cursor over a sorted baseline.
HashReuse = Callable[[str], FileRecord | None]


@dataclass(frozen=True)
class ScanSpec:
    """What to scan: system paths under a root, exclusions, algorithm and parallelism."""

    paths: tuple[str, ...]
    excludes: tuple[str, ...] = ()
    algorithm: str = "blake3"
    workers: int = 0
    one_filesystem: bool = True
    root: Path = Path("/")
    processes: bool = False  # manifest lines of big scans from worker processes
    _prefix: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        # real() runs once per entry: compare strings, not Paths.
        prefix = "" if str(self.root) == "/" else str(self.root).rstrip("/")
        object.__setattr__(self, "_prefix", prefix)

    def real(self, system_path: str) -> str:
        """Where a system path of the scanned system is on this machine."""
        return self._prefix + system_path

    def worker_count(self) -> int:
        return self.workers or max(2, os.cpu_count() or 2)


def use_processes(parallelism: str, workers: int = 0) -> bool:
    """Whether big scans hash in worker processes: "auto" does when there is more than one CPU
    to run them on (and more than one worker is allowed)."""
    if parallelism == "auto":
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return (cpus or 1) > 1 and workers != 1
    return parallelism == "process"


@dataclass
class ScanProblems:
    """Files that could not be read or vanished during the scan (reported, never fatal),
    and how much was hashed."""

    unreadable: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    skipped_mounts: list[str] = field(default_factory=list)
    limit: int = 1000  # keep memory bounded if a whole tree is unreadable
    files_hashed: int = 0
    bytes_hashed: int = 0

    def note(self, bucket: list[str], text: str) -> None:
        if len(bucket) < self.limit:
            bucket.append(text)


def compile_excludes(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for all glob patterns: '**' crosses '/', '*' and '?' do not.

    A pattern without a leading '/' matches at any depth (as if prefixed with '**/').
    """
    parts = []
    for pattern in patterns:
        text = pattern if pattern.startswith("/") else "**/" + pattern
        regex = ""
        i = 0
        while i < len(text):
            if text.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif text.startswith("**", i):
                regex += ".*"
                i += 2
            elif text[i] == "*":
                regex += "[^/]*"
                i += 1
            elif text[i] == "?":
                regex += "[^/]"
                i += 1
            else:
                regex += re.escape(text[i])
                i += 1
        parts.append(regex.rstrip("/"))
    if not parts:
        return None
    return re.compile("(?:" + "|".join(parts) + ")", re.DOTALL)


def top_level_paths(paths: Iterable[str]) -> list[str]:
    """Normalised, deduplicated, in walk order, with paths inside another listed path dropped."""
    unique = sorted({os.path.normpath(p) for p in paths}, key=sort_key)
    kept: list[str] = []
    for path in unique:
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


@dataclass(slots=True)
class PendingEntry:
    """A walked entry: directories arrive complete, other entries are lstat()ed by a worker."""

    path: str
    record: FileRecord | None
    known: FileRecord | None = None  # the baseline's record of this path (fast mode)


def mount_points(root: Path = Path("/")) -> set[str] | None:
    """System paths of the mount points under root (None when /proc cannot tell)."""
    try:
        text = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None
    prefix = str(root).rstrip("/")
    found = set()
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        # mountinfo escapes space, tab, newline and backslash as octal (\040...)
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        if prefix and not (point == prefix or point.startswith(prefix + "/")):
            continue
        found.add(point[len(prefix) :] or "/")
    return found


def walk_entries(
    spec: ScanSpec, problems: ScanProblems, missing: list[str] | None
) -> Iterator[PendingEntry]:
    """Every path under spec.paths in manifest order; nothing is followed."""
    excluded = compile_excludes(spec.excludes)
    mounts = mount_points(spec.root) if spec.one_filesystem else set()
    for top in top_level_paths(spec.paths):
        if excluded is not None and excluded.fullmatch(top):
            continue
        try:
            st = os.lstat(spec.real(top))
        except FileNotFoundError:
            if missing is not None:
                missing.append(top)
            continue
        except OSError as exc:
            problems.note(problems.unreadable, f"{top}: {exc.strerror}")
            continue
        yield PendingEntry(top, record_from_stat(top, st))
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_dir(spec, top, st.st_dev, excluded, problems, mounts)


def _list_dir(spec: ScanSpec, directory: str, problems: ScanProblems) -> list[os.DirEntry[str]]:
    """A directory's entries sorted by name ([] when it vanished or cannot be read: noted)."""
    try:
        with os.scandir(spec.real(directory)) as handle:
            return sorted(handle, key=lambda e: e.name)
    except FileNotFoundError:
        problems.note(problems.vanished, directory)
    except OSError as exc:
        problems.note(problems.unreadable, f"{directory}: {exc.strerror}")
    return []


def _walk_dir(
    spec: ScanSpec,
    top: str,
    device: int,
    excluded: re.Pattern[str] | None,
    problems: ScanProblems,
    mounts: set[str] | None,
) -> Iterator[PendingEntry]:
    """Everything under `top`, depth-first with names sorted.

    Iterative, with a stack of listings: nested generators would cost a resume per level of
    depth for every entry, which on /usr is most of the walk's time.
    """
    stack = [(top.rstrip("/") + "/", iter(_list_dir(spec, top, problems)))]
    while stack:
        prefix, entries = stack[-1]
        for entry in entries:
            path = prefix + entry.name
            if excluded is not None and excluded.fullmatch(path):
                continue
            try:
                # d_type answers this without a syscall; workers lstat() everything.
                is_dir = entry.is_dir(follow_symlinks=False)
                if is_dir and mounts is None:  # no mount table: compare devices here
                    crosses = entry.stat(follow_symlinks=False).st_dev != device
                else:
                    crosses = mounts is not None and path in mounts
            except FileNotFoundError:
                problems.note(problems.vanished, path)
                continue
            except OSError as exc:
                problems.note(problems.unreadable, f"{path}: {exc.strerror}")
                continue
            yield PendingEntry(path, None)
            if not is_dir:
                continue
            if spec.one_filesystem and crosses:
                problems.note(problems.skipped_mounts, path)
                continue
            stack.append((path + "/", iter(_list_dir(spec, path, problems))))
            break  # go down first; this listing resumes where it stopped
        else:
            stack.pop()


def chunk_entries(
    items: Iterable[PendingEntry], reuse: HashReuse | None, size: int = CHUNK_ENTRIES
) -> Iterator[list[PendingEntry]]:
    """Consecutive entries in units of work; fast mode looks up each one's baseline record."""
    chunk: list[PendingEntry] = []
    for item in items:
        if reuse is not None and item.record is None:
            item.known = reuse(item.path)
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
