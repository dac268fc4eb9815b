"""Scan the protected trees: walk in manifest order, hash in parallel, stream results in order.

Two ways to spread the per-file work (lstat, capabilities, read, hash, format):

* worker processes (baselines and `verify --full` of big trees, when more than one CPU): the
  walking process sends plain paths and gets back one string of manifest lines per chunk, so
  little is pickled, and the per-file Python of small files runs on every core at once.
* threads (everything else, and the start of every scan): the walking thread does the per-file
  work of small files itself (short Python between short syscalls: spread over threads it mostly
  hands the GIL around); files of DEFER_BYTES or more go to helper threads, whose reads and
  BLAKE3 run without the GIL.

Either way, when reads start reaching the disk (a cold cache), whole chunks go to helper
threads to keep several reads in flight. Results come out in walk order with a bounded window
in flight, so memory stays flat however many files there are.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import resource
import signal
import stat
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import (
    BrokenExecutor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from dataclasses import dataclass, field

from garrison.errors import IntegrityError
from garrison.integrity.hashing import hash_file, read_caps
from garrison.integrity.records import UNREADABLE, FileRecord, line_from_stat, record_from_stat
from garrison.integrity.walk import (
    HashReuse,
    PendingEntry,
    ScanProblems,
    ScanSpec,
    chunk_entries,
    walk_entries,
)

#: Files at least this big are hashed by helper threads (reads and BLAKE3 release the GIL, so
#: they run in parallel); handing over files from 64 KiB or 512 KiB up measured no faster.
DEFER_BYTES = 4 << 20
#: Entries after which a scan moves from threads to worker processes (when allowed): smaller
#: scans (deploy manifests, tests) are done before the processes would have started.
PROCESS_THRESHOLD = 4096
#: Entries per unit of work sent to a worker process, and such units in flight (room for the
#: other workers to go on past a chunk holding a big file).
PROCESS_CHUNK = 256
PROCESS_WINDOW = 64
#: Chunks the walking thread may run ahead of a big file still being hashed.
INLINE_WINDOW = 256
#: Helper threads: enough reads in flight for a cold disk.
IO_THREADS = 4
#: While the disk is the limit, one chunk in this many is still done inline to re-measure.
PROBE_EVERY = 16

ProgressCallback = Callable[[int, int], None]  # (files done, bytes hashed so far)


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

    def extend(self, other: _ChunkResult) -> None:
        """Append a (resolved) result of the entries that follow this one's."""
        self.records += other.records
        self.paths += other.paths
        self.lines += other.lines
        self.unreadable += other.unreadable
        self.vanished += other.vanished
        self.files_hashed += other.files_hashed
        self.bytes_hashed += other.bytes_hashed

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
    chunk: list[PendingEntry], spec: ScanSpec, lines: bool, defer: Defer | None = None
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


def _complete_lines(paths: list[str], spec: ScanSpec, *, mapped: bool) -> _ChunkResult:
    """What _complete_chunk does for a manifest, for worker processes: paths in, lines out,
    no records built on the way."""
    result = _ChunkResult()
    for path in paths:
        real = spec.real(path)
        st: os.stat_result | None = None
        try:
            st = os.lstat(real)
            if stat.S_ISREG(st.st_mode):
                caps = read_caps(real)
                digest = hash_file(real, st.st_size, spec.algorithm, mapped=mapped)
                line = line_from_stat(path, st, caps=caps, hash=digest)
                result.files_hashed += 1
                result.bytes_hashed += st.st_size
            elif stat.S_ISLNK(st.st_mode):
                line = line_from_stat(path, st, target=os.readlink(real))
            else:
                line = line_from_stat(path, st)
        except FileNotFoundError:
            result.vanished.append(path)  # gone since the walk saw it: not recorded
            continue
        except OSError as exc:
            result.unreadable.append(f"{path}: {exc.strerror or exc}")
            if st is None:
                continue
            line = line_from_stat(path, st, hash=UNREADABLE)
        result.paths.append(path)
        result.lines.append(line)
    return result


def _add(result: _ChunkResult, record: FileRecord, lines: bool) -> None:
    if lines:  # formatted here, in parallel, rather than in the writing thread
        result.paths.append(record.path)
        result.lines.append(record.to_line())
    else:
        result.records.append(record)


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
    for paths, lines in scan_line_runs(spec, problems, progress=progress, missing=missing):
        yield from zip(paths, lines, strict=True)


def scan_line_runs(
    spec: ScanSpec,
    problems: ScanProblems,
    *,
    progress: ProgressCallback | None = None,
    missing: list[str] | None = None,
) -> Iterator[tuple[list[str], list[str]]]:
    """Runs of consecutive (paths, manifest lines), in order: a writer takes a run at once."""
    for result in _scan(spec, problems, progress, None, missing, lines=True):
        if len(result.paths) != len(result.lines):
            raise IntegrityError("scan results lost their paths (internal error)")
        yield result.paths, result.lines


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
    walked = walk_entries(spec, problems, missing)
    scanner: Iterator[tuple[int, _ChunkResult]]
    if lines and spec.processes:
        chunks = chunk_entries(walked, reuse, size=PROCESS_CHUNK)
        scanner = _scan_processes(spec, chunks)
    else:
        scanner = _scan_inline(spec, chunk_entries(walked, reuse), lines)
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
    spec: ScanSpec, chunks: Iterator[list[PendingEntry]], lines: bool
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


def _scan_processes(
    spec: ScanSpec, chunks: Iterator[list[PendingEntry]]
) -> Iterator[tuple[int, _ChunkResult]]:
    """Manifest lines from worker processes once the scan is big; small scans stay inline.

    Paths go out, one string of lines per chunk comes back: pickling a few hundred strings
    costs far less than the per-file work it moves to another core. If processes cannot be
    started here (no /dev/shm, a task limit), the scan goes on in threads.
    """
    started: list[list[PendingEntry]] = []
    for chunk in chunks:
        started.append(chunk)
        if sum(len(c) for c in started) >= PROCESS_THRESHOLD:
            break
    else:  # the whole tree fitted below the threshold
        yield from _scan_inline(spec, iter(started), lines=True)
        return
    try:
        pool = _process_pool(spec)
    except OSError:
        yield from _scan_inline(spec, itertools.chain(started, chunks), lines=True)
        return
    window: deque[tuple[list[str], Future[_WorkerResult]]] = deque()
    pending = itertools.chain(started, chunks)
    sending: list[str] = []
    try:
        for chunk in pending:
            sending = [item.path for item in chunk]
            window.append((sending, pool.submit(_worker_lines, sending)))
            sending = []
            while len(window) >= PROCESS_WINDOW or (window and window[0][1].done()):
                result = _collect(*window[0])
                window.popleft()
                yield result
        while window:
            result = _collect(*window[0])
            window.popleft()
            yield result
        return
    except BrokenExecutor:
        pass
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    # A worker died (killed, or a big file truncated under its mapping: SIGBUS). What was not
    # answered yet is done again here, reading files instead of mapping them.
    unanswered = [paths for paths, _future in window] + ([sending] if sending else [])
    redo = [[PendingEntry(path, None) for path in paths] for paths in unanswered]
    yield from _scan_inline(spec, itertools.chain(redo, pending), lines=True)


#: A worker's answer for one chunk: lines joined by newlines, the paths it left out (vanished,
#: or unreadable before an lstat), problems, and how many files and bytes it hashed.
_WorkerResult = tuple[str, list[str], list[str], list[str], int, int]


def _collect(paths: list[str], future: Future[_WorkerResult]) -> tuple[int, _ChunkResult]:
    text, left_out, unreadable, vanished, files_hashed, bytes_hashed = future.result()
    sent = len(paths)
    if left_out:
        gone = set(left_out)
        paths = [path for path in paths if path not in gone]
    result = _ChunkResult(
        paths=paths,
        lines=text.split("\n") if text else [],
        unreadable=unreadable,
        vanished=vanished,
        files_hashed=files_hashed,
        bytes_hashed=bytes_hashed,
    )
    return sent, result


@dataclass
class _WorkerState:
    """A worker process's scan settings and its own cold-cache helpers."""

    spec: ScanSpec
    helpers: ThreadPoolExecutor | None = None
    io_bound: bool = False
    chunks_done: int = 0


_worker: _WorkerState | None = None


def _start_worker(spec: ScanSpec) -> None:
    """Worker processes leave Ctrl-C to the parent, which stops the pool cleanly."""
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker = _WorkerState(spec)


def _worker_lines(paths: list[str]) -> _WorkerResult:
    """The per-file work of one chunk, in a worker process."""
    state = _worker
    if state is None:
        raise RuntimeError("worker not initialised")
    spec = state.spec
    if state.io_bound and state.chunks_done % PROBE_EVERY:
        # reads reach the disk: several in flight, from helper threads (no GIL while reading)
        if state.helpers is None:
            state.helpers = ThreadPoolExecutor(IO_THREADS, thread_name_prefix="garrison-read")
        step = max(1, len(paths) // IO_THREADS)
        parts = [paths[i : i + step] for i in range(0, len(paths), step)]
        result = _ChunkResult()
        for part in state.helpers.map(lambda p: _complete_lines(p, spec, mapped=False), parts):
            result.extend(part)
    else:
        before = _blocks_read()
        result = _complete_lines(paths, spec, mapped=True)
        state.io_bound = _blocks_read() > before
    state.chunks_done += 1
    left_out = [] if len(result.paths) == len(paths) else sorted(set(paths) - set(result.paths))
    return (
        "\n".join(result.lines),
        left_out,
        result.unreadable,
        result.vanished,
        result.files_hashed,
        result.bytes_hashed,
    )


def _process_pool(spec: ScanSpec) -> ProcessPoolExecutor:
    """Forked worker processes.

    Fork, not spawn or a fork server: a forked worker starts at once with this module already
    imported, where the others run the caller's main module again in every worker (the whole
    CLI: measured 0.2 s slower per baseline of /usr). A fork copies only the calling thread; a
    lock another thread (the progress bar) holds at that moment stays held in the worker, but
    a worker only runs the per-file code of this module and the pool's own queues, which were
    made before the fork and are not yet in use (the pool forks before it starts its threads).
    """
    context = multiprocessing.get_context("fork")
    return ProcessPoolExecutor(
        spec.worker_count(), mp_context=context, initializer=_start_worker, initargs=(spec,)
    )
