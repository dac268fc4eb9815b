"""Walk the protected trees in a fixed order and hash files in parallel, streaming.

The walk (one thread) lstat()s entries depth-first with names sorted, so records come out in
manifest order. Consecutive records are grouped into chunks; a thread pool reads and hashes each
chunk (BLAKE3 and file reads release the GIL, big files are hashed with BLAKE3's own threads over
an mmap). Chunks are yielded in submission order with a bounded number in flight, so memory stays
flat however many files there are.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from garrison.integrity.records import UNREADABLE, FileRecord, record_from_stat, sort_key

CAPABILITY_XATTR = "security.capability"
#: Files at least this big are hashed alone, with BLAKE3's own threads, through an mmap.
BIG_FILE_BYTES = 4 << 20
CHUNK_FILES = 128
CHUNK_BYTES = 8 << 20
CHUNK_RECORDS = 1024
READ_BLOCK = 1 << 20

ProgressCallback = Callable[[int, int], None]  # (files done, bytes hashed so far)
#: Given a fresh record (metadata only), a complete record to use instead of reading the file.
#: Called in walk order from one thread, so it can be a cursor over a sorted baseline.
HashReuse = Callable[[FileRecord], FileRecord | None]


@dataclass(frozen=True)
class ScanSpec:
    """What to scan: system paths under a root, exclusions, algorithm and parallelism."""

    paths: tuple[str, ...]
    excludes: tuple[str, ...] = ()
    algorithm: str = "blake3"
    workers: int = 0
    one_filesystem: bool = True
    root: Path = Path("/")

    def real(self, system_path: str) -> str:
        if self.root == Path("/"):
            return system_path
        return str(self.root) + system_path

    def worker_count(self) -> int:
        return self.workers or max(2, os.cpu_count() or 2)


@dataclass
class ScanProblems:
    """Files that could not be read or vanished during the scan (reported, never fatal)."""

    unreadable: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    skipped_mounts: list[str] = field(default_factory=list)
    limit: int = 1000  # keep memory bounded if a whole tree is unreadable

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


def walk(
    spec: ScanSpec, problems: ScanProblems, missing: list[str] | None = None
) -> Iterator[FileRecord]:
    """Metadata records of every path under spec.paths, in manifest order (nothing followed)."""
    excluded = compile_excludes(spec.excludes)
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
        yield record_from_stat(top, st)
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_dir(spec, top, st.st_dev, excluded, problems)


def _walk_dir(
    spec: ScanSpec,
    directory: str,
    device: int,
    excluded: re.Pattern[str] | None,
    problems: ScanProblems,
) -> Iterator[FileRecord]:
    try:
        with os.scandir(spec.real(directory)) as handle:
            entries = sorted(handle, key=lambda e: e.name)
    except FileNotFoundError:
        problems.note(problems.vanished, directory)
        return
    except OSError as exc:
        problems.note(problems.unreadable, f"{directory}: {exc.strerror}")
        return
    prefix = directory.rstrip("/") + "/"
    for entry in entries:
        path = prefix + entry.name
        if excluded is not None and excluded.fullmatch(path):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            problems.note(problems.vanished, path)
            continue
        except OSError as exc:
            problems.note(problems.unreadable, f"{path}: {exc.strerror}")
            continue
        yield record_from_stat(path, st)
        if stat.S_ISDIR(st.st_mode):
            if spec.one_filesystem and st.st_dev != device:
                problems.note(problems.skipped_mounts, path)
                continue
            yield from _walk_dir(spec, path, device, excluded, problems)


def hash_file(real_path: str, size: int, algorithm: str) -> str:
    """Hex digest of a file's content. Raises OSError when it cannot be read."""
    if algorithm == "blake3":
        if size >= BIG_FILE_BYTES:
            hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
            hasher.update_mmap(real_path)
            return str(hasher.hexdigest())
        with open(real_path, "rb", buffering=0) as handle:
            return str(blake3.blake3(handle.read()).hexdigest())
    digest = hashlib.sha256()
    with open(real_path, "rb", buffering=0) as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def read_caps(real_path: str) -> str:
    """The security.capability xattr as hex, '' when there is none."""
    try:
        return os.getxattr(real_path, CAPABILITY_XATTR, follow_symlinks=False).hex()
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.ENOENT):
            return ""
        raise


@dataclass
class _Chunk:
    records: list[FileRecord]
    to_hash: list[int]  # indexes into records that need their content read
    nbytes: int = 0


def _complete_chunk(chunk: _Chunk, spec: ScanSpec) -> tuple[list[FileRecord], list[str], list[str]]:
    """Fill in hashes, caps and symlink targets. Returns (records, unreadable, vanished)."""
    out: list[FileRecord] = []
    unreadable: list[str] = []
    vanished: list[str] = []
    hash_set = set(chunk.to_hash)
    for index, record in enumerate(chunk.records):
        real = spec.real(record.path)
        try:
            if record.type == "l":
                out.append(record.with_content(hash="", target=os.readlink(real)))
                continue
            if index not in hash_set:  # not a file, or fast mode reused the baseline's hash
                out.append(record)
                continue
            caps = read_caps(real)
            digest = hash_file(real, record.size, spec.algorithm)
            out.append(record.with_content(hash=digest, caps=caps))
        except FileNotFoundError:
            vanished.append(record.path)  # gone since the walk saw it: not recorded
        except OSError as exc:
            unreadable.append(f"{record.path}: {exc.strerror or exc}")
            out.append(record.with_content(hash=UNREADABLE))
    return out, unreadable, vanished


def _chunks(records: Iterable[FileRecord], reuse: HashReuse | None) -> Iterator[_Chunk]:
    """Group records into units of work; each big file is a unit of its own."""
    chunk = _Chunk([], [])
    for fresh in records:
        known = reuse(fresh) if reuse is not None and fresh.is_file else None
        if known is not None:
            chunk.records.append(known)
        elif fresh.is_file and fresh.size >= BIG_FILE_BYTES:
            if chunk.records:
                yield chunk
            yield _Chunk([fresh], [0], fresh.size)
            chunk = _Chunk([], [])
            continue
        else:
            if fresh.is_file:
                chunk.to_hash.append(len(chunk.records))
                chunk.nbytes += fresh.size
            chunk.records.append(fresh)
        if (
            len(chunk.to_hash) >= CHUNK_FILES
            or chunk.nbytes >= CHUNK_BYTES
            or len(chunk.records) >= CHUNK_RECORDS
        ):
            yield chunk
            chunk = _Chunk([], [])
    if chunk.records:
        yield chunk


def scan(
    spec: ScanSpec,
    problems: ScanProblems,
    *,
    progress: ProgressCallback | None = None,
    reuse: HashReuse | None = None,
    missing: list[str] | None = None,
) -> Iterator[FileRecord]:
    """Every record under spec.paths with content hashes, in manifest order, bounded memory.

    `reuse` lets verify's fast mode skip reading files whose metadata did not change.
    """
    workers = spec.worker_count()
    in_flight: deque[tuple[_Chunk, Future[tuple[list[FileRecord], list[str], list[str]]]]]
    in_flight = deque()
    max_in_flight = workers * 4
    files_done = 0
    bytes_done = 0

    def drain_one() -> Iterator[FileRecord]:
        nonlocal files_done, bytes_done
        chunk, future = in_flight.popleft()
        records, unreadable, vanished = future.result()
        for text in unreadable:
            problems.note(problems.unreadable, text)
        for path in vanished:
            problems.note(problems.vanished, path)
        files_done += len(chunk.records)
        bytes_done += chunk.nbytes
        if progress is not None:
            progress(files_done, bytes_done)
        yield from records

    with ThreadPoolExecutor(workers, thread_name_prefix="garrison-hash") as pool:
        try:
            for chunk in _chunks(walk(spec, problems, missing), reuse):
                in_flight.append((chunk, pool.submit(_complete_chunk, chunk, spec)))
                if len(in_flight) >= max_in_flight:
                    yield from drain_one()
            while in_flight:
                yield from drain_one()
        finally:
            for _chunk, future in in_flight:
                future.cancel()


def count_files(spec: ScanSpec) -> tuple[int, int]:
    """(entries, bytes of regular files) under spec.paths: a cheap pre-pass for progress bars."""
    problems = ScanProblems()
    entries = 0
    total = 0
    for record in walk(spec, problems):
        entries += 1
        if record.is_file:
            total += record.size
    return entries, total


def sorted_paths(paths: Sequence[str]) -> list[str]:
    return sorted(paths, key=sort_key)
