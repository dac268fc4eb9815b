"""Scan in one process: the walking thread does the per-file work of small files, helper
threads hash big files and, when the disk is the limit, whole chunks."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from garrison.integrity.chunk_work import (
    IO_THREADS,
    PROBE_EVERY,
    ChunkResult,
    blocks_read,
    complete_chunk,
    hash_later,
)
from garrison.integrity.walk import PendingEntry, ScanSpec

#: Chunks the walking thread may run ahead of a big file still being hashed.
INLINE_WINDOW = 256


def scan_inline(
    spec: ScanSpec, chunks: Iterator[list[PendingEntry]], lines: bool
) -> Iterator[tuple[int, ChunkResult]]:
    """The walking thread does the per-file work itself; helper threads hash big files.

    Per-file work is mostly short Python between short syscalls: spread over threads it spends
    its time handing the GIL around. Big files are the opposite (long reads and BLAKE3, both
    without the GIL), so they go to helpers, which then run truly in parallel. When the disk,
    not the CPU, is the limit (a cold cache: the thread's reads reach the disk), whole chunks
    go to the helpers too, to keep several reads in flight.
    """
    helpers = max(IO_THREADS, spec.worker_count() - 1)
    pool = ThreadPoolExecutor(helpers, thread_name_prefix="garrison-hash")
    window: deque[tuple[int, ChunkResult | Future[ChunkResult]]] = deque()
    io_bound = False

    def defer(real_path: str, size: int) -> Future[str]:
        return pool.submit(hash_later, real_path, size, spec.algorithm)

    def head_ready() -> bool:
        head = window[0][1]
        return head.done() if isinstance(head, Future) else not head.pending()

    def finish() -> tuple[int, ChunkResult]:
        size, item = window.popleft()
        result = item.result() if isinstance(item, Future) else item
        result.resolve(lines)
        return size, result

    try:
        for number, chunk in enumerate(chunks):
            if io_bound and number % PROBE_EVERY:
                window.append((len(chunk), pool.submit(complete_chunk, chunk, spec, lines)))
            else:  # do it here, and notice whether that needed the disk (a cold cache)
                before = blocks_read()
                window.append((len(chunk), complete_chunk(chunk, spec, lines, defer)))
                io_bound = blocks_read() > before
            # run ahead while big files hash; hand results on as soon as they are complete
            while window and (len(window) > INLINE_WINDOW or head_ready()):
                yield finish()
        while window:
            yield finish()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
