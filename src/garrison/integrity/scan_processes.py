"""Scan in worker processes: paths out, one string of manifest lines back per chunk."""

from __future__ import annotations

import itertools
import multiprocessing
import signal
from collections import deque
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

from garrison.integrity.chunk_work import (
    IO_THREADS,
    PROBE_EVERY,
    ChunkResult,
    blocks_read,
    complete_lines,
)
from garrison.integrity.scan_threads import scan_inline
from garrison.integrity.walk import PendingEntry, ScanSpec

#: Entries after which a scan moves from threads to worker processes (when allowed): smaller
#: scans (deploy manifests, tests) are done before the processes would have started.
PROCESS_THRESHOLD = 4096
#: Entries per unit of work sent to a worker process, and such units in flight (room for the
#: other workers to go on past a chunk holding a big file).
PROCESS_CHUNK = 256
PROCESS_WINDOW = 64


def scan_processes(
    spec: ScanSpec, chunks: Iterator[list[PendingEntry]]
) -> Iterator[tuple[int, ChunkResult]]:
    """Manifest lines from worker processes once the scan is big; small scans stay inline.

    Paths go out, one string of lines per chunk comes back: pickling a few hundred strings
    costs far less than the per-file work it moves to another core. If processes cannot be
    started here (no /dev/shm, a task limit), the scan goes on in threads.
    """
    started: list[list[PendingEntry]] = []
    entries = 0
    for chunk in chunks:
        started.append(chunk)
        entries += len(chunk)
        if entries >= PROCESS_THRESHOLD:
            break
    else:  # the whole tree fitted below the threshold
        yield from scan_inline(spec, iter(started), lines=True)
        return
    try:
        pool = process_pool(spec)
    except OSError:
        yield from scan_inline(spec, itertools.chain(started, chunks), lines=True)
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
    except (BrokenExecutor, OSError):  # OSError: the workers could not be forked (EAGAIN)
        pass
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    # A worker died (killed, or a big file truncated under its mapping: SIGBUS) or could not be
    # started. What was not answered yet is done again here, reading files instead of mapping.
    unanswered = [paths for paths, _future in window] + ([sending] if sending else [])
    redo = [[PendingEntry(path, None) for path in paths] for paths in unanswered]
    yield from scan_inline(spec, itertools.chain(redo, pending), lines=True)


#: A worker's answer for one chunk: lines joined by newlines, the paths it left out (vanished,
#: or unreadable before an lstat), problems, and how many files and bytes it hashed.
_WorkerResult = tuple[str, list[str], list[str], list[str], int, int]


def _collect(paths: list[str], future: Future[_WorkerResult]) -> tuple[int, ChunkResult]:
    text, left_out, unreadable, vanished, files_hashed, bytes_hashed = future.result()
    sent = len(paths)
    if left_out:
        gone = set(left_out)
        paths = [path for path in paths if path not in gone]
    result = ChunkResult(
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
        result = ChunkResult()
        for part in state.helpers.map(lambda p: complete_lines(p, spec, mapped=False), parts):
            result.extend(part)
    else:
        before = blocks_read()
        result = complete_lines(paths, spec, mapped=True)
        state.io_bound = blocks_read() > before
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


def process_pool(spec: ScanSpec) -> ProcessPoolExecutor:
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
