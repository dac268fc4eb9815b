"""The per-file work of one chunk of a scan: lstat, symlink target, capabilities, content hash,
and the record or manifest line of each entry; shared by the thread and process scanners."""

from __future__ import annotations

import os
import resource
import stat
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from garrison.integrity.hashing import hash_file, read_caps
from garrison.integrity.records import UNREADABLE, FileRecord, line_from_stat, record_from_stat
from garrison.integrity.walk import PendingEntry, ScanSpec

#: Files at least this big are hashed by helper threads (reads and BLAKE3 release the GIL, so
#: they run in parallel); handing over files from 64 KiB or 512 KiB up measured no faster.
DEFER_BYTES = 4 << 20
#: Helper threads: enough reads in flight for a cold disk.
IO_THREADS = 4
#: While the disk is the limit, one chunk in this many is still done inline to re-measure.
PROBE_EVERY = 16


@dataclass
class ChunkResult:
    """The outcome of one chunk: records (verify's fast mode) or, for a manifest, paths and
    their lines; what could not be read or vanished; how much was hashed."""

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

    def extend(self, other: ChunkResult) -> None:
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


def hash_later(real_path: str, size: int, algorithm: str) -> str:
    """hash_file for a helper thread (looked up at call time: tests replace it)."""
    return hash_file(real_path, size, algorithm)


def reusable(known: FileRecord | None, record: FileRecord) -> bool:
    """Fast mode: the baseline's hash stands when size, mtime, ctime and inode are unchanged."""
    return (
        known is not None
        and known.is_file
        and known.hash not in ("", UNREADABLE)
        and known.same_inode_state(record)
    )


def complete_chunk(
    chunk: list[PendingEntry], spec: ScanSpec, lines: bool, defer: Defer | None = None
) -> ChunkResult:
    """lstat, read symlinks and capabilities, and hash the files of one chunk.

    With `defer`, files of DEFER_BYTES or more are handed to it and resolved later.
    """
    result = ChunkResult()
    for item in chunk:
        real = spec.real(item.path)
        try:
            record = item.record
            if record is None:
                record = record_from_stat(item.path, os.lstat(real))
            if record.type == "l":
                record = record.with_content(hash="", target=os.readlink(real))
            elif record.type == "f":
                if reusable(item.known, record):
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


def complete_lines(paths: list[str], spec: ScanSpec, *, mapped: bool) -> ChunkResult:
    """What complete_chunk does for a manifest, for worker processes: paths in, lines out,
    no records built on the way."""
    result = ChunkResult()
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


def _add(result: ChunkResult, record: FileRecord, lines: bool) -> None:
    if lines:  # formatted here, in parallel, rather than in the writing thread
        result.paths.append(record.path)
        result.lines.append(record.to_line())
    else:
        result.records.append(record)


def blocks_read() -> int:
    """Blocks this thread had to read from the disk so far (0 growth: all from the cache)."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_inblock
