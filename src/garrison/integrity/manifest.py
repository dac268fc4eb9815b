"""The manifest file: gzip-compressed lines: magic, JSON header, columns, records, end line.

    # garrison-manifest 1
    # {"version": 1, "hostname": ..., "machine_id": ..., "algorithm": ..., "paths": [...], ...}
    # path<TAB>type<TAB>mode...
    /usr/bin/ls<TAB>f<TAB>755<TAB>...
    # end {"records": 61234, "sha256": "<digest of every line above, uncompressed>"}

Records are in walk order (see records.sort_key), so two manifests diff in one streaming merge.
The end line's digest is what gets signed; a file without a valid end line is incomplete.
Manifests are written to a temporary file and renamed, so a killed scan never leaves a partial
manifest where a complete one is expected.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from garrison.errors import IntegrityError
from garrison.integrity.records import COLUMNS, FileRecord, sort_key

MAGIC = "# garrison-manifest"
FORMAT_VERSION = 1
END_PREFIX = "# end "
WRITE_BATCH_BYTES = 1 << 20


@dataclass(frozen=True)
class ManifestHeader:
    """What a manifest covers and where it was made (all of it is covered by the digest)."""

    hostname: str
    machine_id: str
    algorithm: str
    paths: tuple[str, ...]
    excludes: tuple[str, ...]
    created: str  # ISO 8601, UTC
    root: str = "/"
    one_filesystem: bool = True
    kind: str = "baseline"  # "baseline" or "deploy:<strategy>"
    missing_paths: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, where: str) -> ManifestHeader:
        try:
            data: dict[str, Any] = json.loads(text)
            version = int(data.get("version", 0))
        except (ValueError, TypeError):
            raise IntegrityError(f"{where}: header is not valid JSON") from None
        if version != FORMAT_VERSION:
            raise IntegrityError(
                f"{where}: manifest format version {version} is not supported "
                f"(this garrison reads version {FORMAT_VERSION}; make a new baseline)"
            )
        try:
            return cls(
                hostname=str(data["hostname"]),
                machine_id=str(data["machine_id"]),
                algorithm=str(data["algorithm"]),
                paths=tuple(data["paths"]),
                excludes=tuple(data["excludes"]),
                created=str(data["created"]),
                root=str(data.get("root", "/")),
                one_filesystem=bool(data.get("one_filesystem", True)),
                kind=str(data.get("kind", "baseline")),
                missing_paths=tuple(data.get("missing_paths", ())),
                extra=dict(data.get("extra", {})),
                version=version,
            )
        except (KeyError, TypeError) as exc:
            raise IntegrityError(f"{where}: header lacks {exc}") from None


@dataclass(frozen=True)
class ManifestSummary:
    """A complete manifest: where it is, what it covers, how many records, its digest."""

    path: Path
    header: ManifestHeader
    records: int
    sha256: str


class ManifestWriter:
    """Write records (in walk order) to a temporary file; `commit()` renames it into place."""

    def __init__(self, target: Path, header: ManifestHeader) -> None:
        self.target = target
        self.header = header
        self.count = 0
        self._last_key = ""
        self._digest = hashlib.sha256()
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise IntegrityError(f"{target.parent}: cannot create ({exc.strerror})") from None
        self._tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        try:
            self._raw: IO[bytes] = self._tmp.open("wb")
        except OSError as exc:
            raise IntegrityError(f"{self._tmp}: cannot write ({exc.strerror})") from None
        # mtime=0: the same content always compresses to the same bytes.
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=1, mtime=0)
        # Lines are batched: one compress call per line costs more than the hashing of /usr.
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._write(f"{MAGIC} {FORMAT_VERSION}\n")
        self._write(f"# {header.to_json()}\n")
        self._write("# " + "\t".join(COLUMNS) + "\n")

    def _write(self, line: str) -> None:
        data = line.encode("utf-8", "surrogateescape")
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= WRITE_BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        block = b"".join(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        self._digest.update(block)
        self._gz.write(block)

    def add(self, record: FileRecord) -> None:
        self.add_line(record.path, record.to_line())

    def add_line(self, path: str, line: str) -> None:
        """Append a record's manifest line (records must come in walk order)."""
        key = sort_key(path)
        if key <= self._last_key and self.count:
            raise IntegrityError(f"{path}: records out of order (internal error)")
        self._last_key = key
        self._write(line + "\n")
        self.count += 1

    def add_lines(self, paths: list[str], lines: list[str]) -> None:
        """Append a run of consecutive records' lines (one chunk of a scan, already in walk
        order within itself: the walk sorts each directory; runs must follow each other)."""
        if not paths:
            return
        first, last = sort_key(paths[0]), sort_key(paths[-1])
        if (first <= self._last_key and self.count) or last < first:
            raise IntegrityError(f"{paths[0]}: records out of order (internal error)")
        self._last_key = last
        self._write("\n".join(lines) + "\n")
        self.count += len(lines)

    def commit(self) -> ManifestSummary:
        """Write the end line, flush to disk, and atomically replace the target."""
        self._flush()
        digest = self._digest.hexdigest()
        end = json.dumps({"records": self.count, "sha256": digest}, sort_keys=True)
        self._gz.write(f"{END_PREFIX}{end}\n".encode())
        self._gz.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.chmod(self._tmp, 0o600)
        self._tmp.replace(self.target)
        return ManifestSummary(self.target, self.header, self.count, digest)

    def abort(self) -> None:
        """Drop the temporary file (the previous manifest, if any, stays as it was)."""
        with contextlib.suppress(Exception):
            self._gz.close()
        with contextlib.suppress(Exception):
            self._raw.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()


@dataclass(frozen=True)
class LoadedManifest:
    """A manifest read into memory (compressed) and checked against its own end line."""

    summary: ManifestSummary
    data: bytes  # the compressed file, so every later pass reads exactly what was checked

    @property
    def header(self) -> ManifestHeader:
        return self.summary.header

    def records(self) -> Iterator[FileRecord]:
        """The records, in walk order, decompressed and parsed lazily (order is checked)."""
        name = self.summary.path
        last_key = ""
        for number, line in _lines(self.data, name):
            if line.startswith("#"):
                continue
            record = FileRecord.from_line(line, f"{name}:{number}")
            key = sort_key(record.path)
            if key <= last_key:
                raise IntegrityError(f"{name}:{number}: records out of order: tampered")
            last_key = key
            yield record

    def record_lines(self) -> Iterator[tuple[int, str]]:
        """(line number, raw line) of every record, unparsed (see diff.diff_lines)."""
        for number, line in _lines(self.data, self.summary.path):
            if not line.startswith("#"):
                yield number, line

    def parse(self, line: str, number: int) -> FileRecord:
        return FileRecord.from_line(line, f"{self.summary.path}:{number}")


def _blocks(data: bytes, name: Path) -> Iterator[bytes]:
    """The decompressed content of a gzip manifest held in memory, block by block."""
    decompressor = zlib.decompressobj(wbits=31)
    view = memoryview(data)
    try:
        for start in range(0, len(data), 1 << 20):
            block = decompressor.decompress(view[start : start + (1 << 20)])
            if block:
                yield block
    except zlib.error:
        raise IntegrityError(f"{name}: corrupt (not a valid gzip stream): tampered?") from None
    if not decompressor.eof:
        raise IntegrityError(f"{name}: truncated (compressed stream ends early)")
    if decompressor.unused_data:
        raise IntegrityError(f"{name}: data after the end of the manifest: tampered")


def _lines(data: bytes, name: Path) -> Iterator[tuple[int, str]]:
    """(line number, text without newline) of a gzip manifest held in memory."""
    pending = b""
    number = 0
    for block in _blocks(data, name):
        # decode whole blocks (cut at a newline, so never inside a character), not each line
        cut = block.rfind(b"\n") + 1
        if not cut:
            pending += block
            continue
        text = (pending + block[:cut]).decode("utf-8", "surrogateescape")
        pending = block[cut:]
        for line in text.split("\n")[:-1]:
            number += 1
            yield number, line
    if pending:
        raise IntegrityError(f"{name}: truncated (last line incomplete)")


def load_manifest(path: Path) -> LoadedManifest:
    """Read a manifest and check its header, end line, record count and digest.

    Works on decompressed blocks, not lines: the digest covers every byte before the end line.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IntegrityError(f"{path}: no such manifest") from None
    except OSError as exc:
        raise IntegrityError(f"{path}: cannot read ({exc.strerror})") from None
    digest = hashlib.sha256()
    head = b""  # the first lines, until the header is complete
    tail = b""  # held back: the last complete line may be the end line
    lines = 0
    for block in _blocks(data, path):
        if head.count(b"\n") < 3:
            head += block[:65536]
        pending = tail + block
        last = pending.rfind(b"\n", 0, len(pending) - 1)
        if last < 0:
            tail = pending
            continue
        done, tail = pending[: last + 1], pending[last + 1 :]
        digest.update(done)
        lines += done.count(b"\n")
    *body, end_line = tail.split(b"\n")[:-1] if tail.endswith(b"\n") else [b"", b""]
    for line in body:  # a short file: lines held back with the end line
        digest.update(line + b"\n")
        lines += 1
    header_lines = head.split(b"\n", 3)
    if not head.startswith(MAGIC.encode()):
        raise IntegrityError(f"{path}: not a garrison manifest")
    if len(header_lines) < 3:
        raise IntegrityError(f"{path}: not a garrison manifest (no header)")
    header = ManifestHeader.from_json(
        header_lines[1][2:].decode("utf-8", "surrogateescape"), str(path)
    )
    if not end_line.startswith(END_PREFIX.encode()):
        raise IntegrityError(f"{path}: truncated (no end line): incomplete or tampered")
    try:
        end = json.loads(end_line[len(END_PREFIX) :])
    except ValueError:
        raise IntegrityError(f"{path}: garbled end line") from None
    count = lines - 3  # magic, header and column lines
    if end.get("records") != count or end.get("sha256") != digest.hexdigest():
        raise IntegrityError(f"{path}: content does not match its digest: tampered")
    return LoadedManifest(ManifestSummary(path, header, count, digest.hexdigest()), data)
