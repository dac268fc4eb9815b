"""Scan the protected trees: walk in manifest order, hash in parallel, stream results in order.

Two ways to spread the per-file work (lstat, capabilities, read, hash, format):

* worker processes (baselines and `verify --full` of big trees, when more than one CPU): the
  walking process sends plain paths and gets back one string of manifest lines per chunk, so
  little is pickled, and the per-file Python of small files runs on every core at once.
* threads (everything else, and the start of every scan): the walking thread does the per-file
  work of small files itself (short Python between short syscalls: spread over threads it mostly
  hands the GIL around); files of DEFER_BYTES or more go to helper threads, whose reads and
  BLAKE3 run without the GIL.

The per-file work itself is in chunk_work, the two ways in scan_threads and scan_processes.
Either way, when reads start reaching the disk (a cold cache), whole chunks go to helper
threads to keep several reads in flight. Results come out in walk order with a bounded window
in flight, so memory stays flat however many files there are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from garrison.errors import IntegrityError
from garrison.integrity.chunk_work import ChunkResult
from garrison.integrity.records import FileRecord
from garrison.integrity.scan_processes import PROCESS_CHUNK, scan_processes
from garrison.integrity.scan_threads import scan_inline
from garrison.integrity.walk import (
    HashReuse,
    ScanProblems,
    ScanSpec,
    chunk_entries,
    walk_entries,
)

ProgressCallback = Callable[[int, int], None]  # (files done, bytes hashed so far)


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
) -> Iterator[ChunkResult]:
    entries_done = 0
    walked = walk_entries(spec, problems, missing)
    scanner: Iterator[tuple[int, ChunkResult]]
    if lines and spec.processes:
        chunks = chunk_entries(walked, reuse, size=PROCESS_CHUNK)
        scanner = scan_processes(spec, chunks)
    else:
        scanner = scan_inline(spec, chunk_entries(walked, reuse), lines)
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
