"""Walk the protected trees in a fixed order and hash files in parallel, streaming.

The walk (one thread) reads directories depth-first with names sorted, so records come out in
manifest order. Consecutive entries are grouped into chunks; a thread pool lstat()s, reads and
hashes each chunk (BLAKE3 and file reads release the GIL; big files are read in 4 MiB blocks into
a reused buffer, one thread per file: BLAKE3's own thread pool only added CPU on 2 cores, and an
mmap turns a file truncated mid-read into SIGBUS). Chunks are yielded in
submission order with a bounded number in flight, so memory stays flat however many files there
are.
"""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import re
import resource
import signal
import stat
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from garrison.errors import IntegrityError
from garrison.integrity.records import UNREADABLE, FileRecord, record_from_stat, sort_key

CAPABILITY_XATTR = "security.capability"
#: Files at least this big are read block by block into a reused buffer of BIG_READ_BYTES.
BIG_FILE_BYTES = 4 << 20
BIG_READ_BYTES = 4 << 20
#: Files at least this big are hashed by helper threads (reads and BLAKE3 release the GIL, so
#: they run in parallel); handing over files from 64 KiB or 512 KiB up measured no faster.
DEFER_BYTES = 4 << 20
CHUNK_ENTRIES = 64
#: Entries after which a scan moves from threads to worker processes (when allowed).
PROCESS_THRESHOLD = 4096
#: Chunks the walking thread may run ahead of a big file still being hashed.
INLINE_WINDOW = 256
#: Helper threads: enough reads in flight for a cold disk.
IO_THREADS = 4
#: While the disk is the limit, one chunk in this many is still done inline to re-measure.
PROBE_EVERY = 16
READ_BLOCK = 1 << 20

ProgressCallback = Callable[[int, int], None]  # (files done, bytes hashed so far)
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
    processes: bool = False  # hash in worker processes instead of threads
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
class _Pending:
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


def _walk(spec: ScanSpec, problems: ScanProblems, missing: list[str] | None) -> Iterator[_Pending]:
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
        yield _Pending(top, record_from_stat(top, st))
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_dir(spec, top, st.st_dev, excluded, problems, mounts)


def _walk_dir(
    spec: ScanSpec,
    directory: str,
    device: int,
    excluded: re.Pattern[str] | None,
    problems: ScanProblems,
    mounts: set[str] | None,
) -> Iterator[_Pending]:
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
        yield _Pending(path, None)
        if not is_dir:
            continue
        if spec.one_filesystem and crosses:
            problems.note(problems.skipped_mounts, path)
            continue
        yield from _walk_dir(spec, path, device, excluded, problems, mounts)


_buffers = threading.local()


def _read_buffer() -> bytearray:
    """A per-thread read buffer: big files are hashed in place, never held whole in memory."""
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(BIG_READ_BYTES)
    return buffer


def hash_file(real_path: str, size: int, algorithm: str) -> str:
    """Hex digest of a file's content. Raises OSError when it cannot be read.

    Plain reads, not mmap: a file truncated while mapped kills the process with SIGBUS.
    """
    # os.open/os.read: no file object per file. O_NOFOLLOW and O_NONBLOCK: if the file was
    # swapped for a symlink or a FIFO since the lstat, fail instead of following or hanging.
    fd = os.open(real_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        digest = blake3.blake3() if algorithm == "blake3" else hashlib.sha256()
        if size < BIG_FILE_BYTES:
            want = size + 1
            block = os.read(fd, want)
            while block:
                digest.update(block)
                if len(block) < want:  # a short read of a regular file is its end
                    break
                want = READ_BLOCK
                block = os.read(fd, want)
        else:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)  # larger readahead when cold
            buffer = _read_buffer()
            view = memoryview(buffer)
            while count := os.readv(fd, [buffer]):
                digest.update(view[:count])
    finally:
        os.close(fd)
    return str(digest.hexdigest())


def read_caps(real_path: str) -> str:
    """The security.capability xattr as hex, '' when there is none."""
    try:
        return os.getxattr(real_path, CAPABILITY_XATTR, follow_symlinks=False).hex()
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.ENOENT):
            return ""
        raise


@dataclass
class _ChunkResult:
    """What a worker sends back: records, or (for a manifest) only paths and their lines, which
    are cheap to hand over between processes."""

    records: list[FileRecord] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    files_hashed: int = 0
    bytes_hashed: int = 0
    # big files handed to a helper thread: (position in records/lines, record, hash future)
    deferred: list[tuple[int, FileRecord, Future[str]]] = field(default_factory=list)

    def pending(self) -> bool:
        return any(not future.done() for _pos, _record, future in self.deferred)

    def resolve(self, lines: bool) -> None:
        """Fill in the hashes of deferred big files (waiting for them)."""
        gone: set[int] = set()
        for position, record, future in self.deferred:
            try:
                complete = record.with_content(hash=future.result(), caps=record.caps)
                self.files_hashed += 1
                self.bytes_hashed += record.size
            except FileNotFoundError:
                self.vanished.append(record.path)
                gone.add(position)
                continue
            except OSError as exc:
                self.unreadable.append(f"{record.path}: {exc.strerror or exc}")
                complete = record.with_content(hash=UNREADABLE, caps=record.caps)
            if lines:
                self.lines[position] = complete.to_line()
            else:
                self.records[position] = complete
        self.deferred.clear()
        if gone:
            keep = [i for i in range(len(self.paths if lines else self.records)) if i not in gone]
            if lines:
                self.paths = [self.paths[i] for i in keep]
                self.lines = [self.lines[i] for i in keep]
            else:
                self.records = [self.records[i] for i in keep]


#: Hashes a big file on a helper thread; a future of its digest.
Defer = Callable[[str, int], "Future[str]"]


def _reusable(known: FileRecord | None, record: FileRecord) -> bool:
    """Fast mode: the baseline's hash stands when size, mtime, ctime and inode are unchanged."""
    return (
        known is not None
        and known.is_file
        and known.hash not in ("", UNREADABLE)
        and known.same_inode_state(record)
    )


def _complete_chunk(
    chunk: list[_Pending], spec: ScanSpec, lines: bool, defer: Defer | None = None
) -> _ChunkResult:
    """lstat, read symlinks and capabilities, and hash the files of one chunk.

    With `defer`, files of DEFER_BYTES or more are handed to it and resolved later.
    """
    result = _ChunkResult()
    for item in chunk:
        real = spec.real(item.path)
        try:
            record = item.record
            if record is None:
                record = record_from_stat(item.path, os.lstat(real))
            if record.type == "l":
                record = record.with_content(hash="", target=os.readlink(real))
            elif record.type == "f":
                if _reusable(item.known, record):
                    assert item.known is not None
                    record = record.with_content(hash=item.known.hash, caps=item.known.caps)
                elif defer is not None and record.size >= DEFER_BYTES:
                    record = record.with_content(hash="", caps=read_caps(real))
                    position = len(result.lines if lines else result.records)
                    result.deferred.append((position, record, defer(real, record.size)))
                else:
                    caps = read_caps(real)
                    digest = hash_file(real, record.size, spec.algorithm)
                    record = record.with_content(hash=digest, caps=caps)
                    result.files_hashed += 1
                    result.bytes_hashed += record.size
            _add(result, record, lines)
        except FileNotFoundError:
            result.vanished.append(item.path)  # gone since the walk saw it: not recorded
        except OSError as exc:
            result.unreadable.append(f"{item.path}: {exc.strerror or exc}")
            if record is not None:
                _add(result, record.with_content(hash=UNREADABLE), lines)
    return result


def _add(result: _ChunkResult, record: FileRecord, lines: bool) -> None:
    if lines:  # formatted here, in parallel, rather than in the writing thread
        result.paths.append(record.path)
        result.lines.append(record.to_line())
    else:
        result.records.append(record)


def _chunks(items: Iterable[_Pending], reuse: HashReuse | None) -> Iterator[list[_Pending]]:
    chunk: list[_Pending] = []
    for item in items:
        if reuse is not None and item.record is None:
            item.known = reuse(item.path)
        chunk.append(item)
        if len(chunk) >= CHUNK_ENTRIES:
            yield chunk
            chunk = []
    if chunk:
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
    for result in _scan(spec, problems, progress, reuse, missing, lines=False):
        yield from result.records


def scan_lines(
    spec: ScanSpec,
    problems: ScanProblems,
    *,
    progress: ProgressCallback | None = None,
    missing: list[str] | None = None,
) -> Iterator[tuple[str, str]]:
    """(path, manifest line) of every entry, in order; lines are formatted by the workers."""
    for result in _scan(spec, problems, progress, None, missing, lines=True):
        yield from zip(result.paths, result.lines, strict=True)


def _scan(
    spec: ScanSpec,
    problems: ScanProblems,
    progress: ProgressCallback | None,
    reuse: HashReuse | None,
    missing: list[str] | None,
    *,
    lines: bool,
) -> Iterator[_ChunkResult]:
    entries_done = 0
    chunks = _chunks(_walk(spec, problems, missing), reuse)
    scanner = (
        _scan_pooled(spec, chunks, lines) if spec.processes else _scan_inline(spec, chunks, lines)
    )
    for size, result in scanner:
        for text in result.unreadable:
            problems.note(problems.unreadable, text)
        for path in result.vanished:
            problems.note(problems.vanished, path)
        problems.files_hashed += result.files_hashed
        problems.bytes_hashed += result.bytes_hashed
        entries_done += size
        if progress is not None:
            progress(entries_done, problems.bytes_hashed)
        yield result


def _blocks_read() -> int:
    """Blocks this thread had to read from the disk so far (0 growth: all from the cache)."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_inblock


def _hash_later(real_path: str, size: int, algorithm: str) -> str:
    return hash_file(real_path, size, algorithm)  # looked up at call time (tests patch it)


def _scan_inline(
    spec: ScanSpec, chunks: Iterator[list[_Pending]], lines: bool
) -> Iterator[tuple[int, _ChunkResult]]:
    """The walking thread does the per-file work itself; helper threads hash big files.

    Per-file work is mostly short Python between short syscalls: spread over threads it spends
    its time handing the GIL around. Big files are the opposite (long reads and BLAKE3, both
    without the GIL), so they go to helpers, which then run truly in parallel. When the disk,
    not the CPU, is the limit (a cold cache: the thread's reads reach the disk), whole chunks
    go to the helpers too, to keep several reads in flight.
    """
    helpers = max(IO_THREADS, spec.worker_count() - 1)
    pool = ThreadPoolExecutor(helpers, thread_name_prefix="garrison-hash")
    window: deque[tuple[int, _ChunkResult | Future[_ChunkResult]]] = deque()
    io_bound = False

    def defer(real_path: str, size: int) -> Future[str]:
        return pool.submit(_hash_later, real_path, size, spec.algorithm)

    def head_ready() -> bool:
        head = window[0][1]
        return head.done() if isinstance(head, Future) else not head.pending()

    def finish() -> tuple[int, _ChunkResult]:
        size, item = window.popleft()
        result = item.result() if isinstance(item, Future) else item
        result.resolve(lines)
        return size, result

    try:
        for number, chunk in enumerate(chunks):
            if io_bound and number % PROBE_EVERY:
                window.append((len(chunk), pool.submit(_complete_chunk, chunk, spec, lines)))
            else:  # do it here, and notice whether that needed the disk (a cold cache)
                before = _blocks_read()
                window.append((len(chunk), _complete_chunk(chunk, spec, lines, defer)))
                io_bound = _blocks_read() > before
            # run ahead while big files hash; hand results on as soon as they are complete
            while window and (len(window) > INLINE_WINDOW or head_ready()):
                yield finish()
        while window:
            yield finish()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _scan_pooled(
    spec: ScanSpec, chunks: Iterator[list[_Pending]], lines: bool
) -> Iterator[tuple[int, _ChunkResult]]:
    """Every chunk to a pool: threads at first, worker processes once the scan is big."""
    workers = spec.worker_count()
    in_flight: deque[tuple[int, Future[_ChunkResult]]] = deque()
    max_in_flight = workers * 4
    pools: list[Executor] = [ThreadPoolExecutor(workers, thread_name_prefix="garrison-hash")]
    submitted = 0
    try:
        for chunk in chunks:
            if submitted >= PROCESS_THRESHOLD and len(pools) == 1:
                pools.append(_process_pool(workers))
            future = pools[-1].submit(_complete_chunk, chunk, spec, lines)
            submitted += len(chunk)
            in_flight.append((len(chunk), future))
            if len(in_flight) >= max_in_flight:
                size, done = in_flight.popleft()
                yield size, done.result()
        while in_flight:
            size, done = in_flight.popleft()
            yield size, done.result()
    except BrokenExecutor:
        raise IntegrityError("a hashing worker process died; nothing was saved") from None
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)


def _ignore_sigint() -> None:
    """Worker processes leave Ctrl-C to the parent, which stops the pool cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _process_pool(workers: int) -> Executor:
    """Worker processes: no GIL between the walk and the per-file work, at the price of
    pickling every chunk (measured on 2 busy cores: more CPU, no faster; so opt-in)."""
    # spawn, not fork: the caller may run threads (the progress bar), and fork copies locks.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_sigint)
