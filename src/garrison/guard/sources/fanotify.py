"""File source on fanotify (FAN_MARK_FILESYSTEM + FAN_REPORT_DFID_NAME) through ctypes.

No maintained Python binding exists (pyfanotify is a C extension with its own worker process);
ctypes keeps this dependency-free and lets the asyncio loop read the descriptor directly.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import struct
from collections.abc import Callable, Iterable

from garrison.guard.sources.base import EmitEvent, Source, SourceStatus, SourceUnavailable
from garrison.model import Event

FAN_CLOEXEC = 0x1
FAN_NONBLOCK = 0x2
FAN_CLASS_NOTIF = 0x0
FAN_REPORT_DFID_NAME = 0x400 | 0x800
FAN_MARK_ADD = 0x1
FAN_MARK_IGNORED_SURV_MODIFY = 0x40
FAN_MARK_FLUSH = 0x80
FAN_MARK_EVICTABLE = 0x200
FAN_MARK_IGNORE = 0x400
FAN_MARK_FILESYSTEM = 0x100
FAN_EVENT_ON_CHILD = 0x08000000
MAX_IGNORE_MARKS = 4096
MAX_MOVED_IN_FILES = 10000

FAN_MODIFY = 0x2
FAN_ATTRIB = 0x4
FAN_CLOSE_WRITE = 0x8
FAN_MOVED_FROM = 0x40
FAN_MOVED_TO = 0x80
FAN_CREATE = 0x100
FAN_DELETE = 0x200
FAN_Q_OVERFLOW = 0x4000
FAN_ONDIR = 0x40000000

WATCH_MASK = (
    FAN_MODIFY
    | FAN_ATTRIB
    | FAN_CLOSE_WRITE
    | FAN_MOVED_FROM
    | FAN_MOVED_TO
    | FAN_CREATE
    | FAN_DELETE
    | FAN_ONDIR
)
MASK_KINDS = (
    (FAN_CREATE, "create"),
    (FAN_MOVED_TO, "move_to"),
    (FAN_MODIFY, "write"),
    (FAN_CLOSE_WRITE, "write"),
    (FAN_ATTRIB, "attrib"),
    (FAN_DELETE, "delete"),
    (FAN_MOVED_FROM, "move_from"),
)
INFO_DFID_NAME = 2
INFO_DFID = 3
METADATA = struct.Struct("=IBBHQii")  # event_len, vers, reserved, metadata_len, mask, fd, pid
INFO_HEADER = struct.Struct("=BBH")
O_PATH = 0o10000000

#: Builds the event for a path (the daemon passes fileevents.build_file_event with filtering).
FileCallback = Callable[[tuple[str, ...], str, int | None], None]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.fanotify_init.argtypes = [ctypes.c_uint, ctypes.c_uint]
    libc.fanotify_mark.argtypes = [
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint64,
        ctypes.c_int,
        ctypes.c_char_p,
    ]
    libc.open_by_handle_at.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    libc.fstatfs.argtypes = [ctypes.c_int, ctypes.c_char_p]
    return libc


def _fsid(libc: ctypes.CDLL, fd: int) -> bytes:
    """f_fsid of the filesystem behind fd (struct statfs on x86_64/aarch64: offset 56)."""
    buf = ctypes.create_string_buffer(256)
    if libc.fstatfs(fd, buf) != 0:
        return b""
    return buf.raw[56:64]


def _existing_dir(path: str) -> str | None:
    """The path itself, or its nearest existing ancestor directory."""
    current = path
    while current and current != "/":
        if os.path.isdir(current):
            return current
        current = os.path.dirname(current)
    return "/" if os.path.isdir("/") else None


class FanotifySource(Source):
    """Marks every filesystem holding a watched path; filtering happens in `on_file`."""

    name = "files"

    def __init__(
        self,
        roots: Iterable[str],
        on_file: FileCallback,
        emit_overflow: EmitEvent,
        overflow_event: Callable[[str], Event],
        relevant_dir: Callable[[str], bool] | None = None,
    ) -> None:
        self.roots = sorted(set(roots))
        # FAN_MARK_FILESYSTEM reports every write on the filesystem; events in directories
        # that cannot hold a watched path are dropped right after the cached handle lookup.
        self.relevant_dir = relevant_dir or (lambda _d: True)
        self.on_file = on_file
        self.emit_overflow = emit_overflow
        self.overflow_event = overflow_event
        self.fd = -1
        self.mount_fds: list[int] = []
        self.fsid_mount: dict[bytes, int] = {}
        self.dir_cache: dict[bytes, str | None] = {}  # handle -> path, None = not relevant
        self.loop: asyncio.AbstractEventLoop | None = None
        self.events_read = 0
        self.ignore_marks = 0  # learned in-kernel ignore marks on irrelevant busy directories
        self.ignore_supported = True
        self.overflows = 0
        self.marked: list[str] = []
        self.libc = _libc()

    def start(self, loop: asyncio.AbstractEventLoop, emit: EmitEvent) -> None:
        flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME
        fd = self.libc.fanotify_init(flags, os.O_RDONLY | os.O_LARGEFILE)
        if fd < 0:
            err = ctypes.get_errno()
            raise SourceUnavailable(f"fanotify_init(FAN_REPORT_DFID_NAME): {os.strerror(err)}")
        self.fd = fd
        seen_dev: set[int] = set()
        for root in self.roots:
            base = _existing_dir(root)
            if base is None:
                continue
            dev = os.stat(base).st_dev
            if dev in seen_dev:
                continue
            rc = self.libc.fanotify_mark(
                fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, WATCH_MASK, -1, base.encode()
            )
            if rc < 0:
                err = ctypes.get_errno()
                self.stop()
                raise SourceUnavailable(
                    f"fanotify_mark(FAN_MARK_FILESYSTEM) on {base}: {os.strerror(err)}"
                )
            seen_dev.add(dev)
            self.marked.append(base)
            mfd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self.mount_fds.append(mfd)
            self.fsid_mount[_fsid(self.libc, mfd)] = mfd
        self.loop = loop
        loop.add_reader(fd, self._readable)

    def stop(self) -> None:
        if self.fd >= 0:
            if self.loop is not None:
                self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1
        for mfd in self.mount_fds:
            os.close(mfd)
        self.mount_fds = []

    def status(self) -> SourceStatus:
        return SourceStatus(
            name=self.name,
            active=self.fd >= 0,
            mechanism="fanotify FAN_MARK_FILESYSTEM + FAN_REPORT_DFID_NAME",
            detail={
                "filesystems": ", ".join(self.marked),
                "events_read": str(self.events_read),
                "overflows": str(self.overflows),
                "ignore_marks": str(self.ignore_marks),
                "ignore_marks_supported": str(self.ignore_supported),
            },
        )

    def _readable(self) -> None:
        while self.fd >= 0:
            try:
                buf = os.read(self.fd, 256 * 1024)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            if not buf:
                return
            self.parse(buf)

    def parse(self, buf: bytes) -> None:
        """Walk the fanotify_event_metadata records in one read."""
        offset = 0
        while offset + METADATA.size <= len(buf):
            event_len, _vers, _res, meta_len, mask, fd, pid = METADATA.unpack_from(buf, offset)
            if event_len < METADATA.size:
                return
            if fd >= 0:
                os.close(fd)  # FID mode never hands out fds, but be safe
            if mask & FAN_Q_OVERFLOW:
                self.overflows += 1
                self.emit_overflow(self.overflow_event("fanotify queue overflow"))
            else:
                self.events_read += 1
                path = self._path_of(buf, offset + meta_len, offset + event_len)
                if path is not None:
                    kinds = tuple(dict.fromkeys(k for bit, k in MASK_KINDS if mask & bit))
                    # Only a moved directory changes other directories' paths; a deleted one's
                    # handle simply never comes again.
                    writer = pid if pid > 0 else None
                    if mask & FAN_ONDIR and mask & (FAN_MOVED_FROM | FAN_MOVED_TO):
                        self.dir_cache.clear()  # a directory moved: cached paths may be stale
                        self._flush_ignores()
                        if mask & FAN_MOVED_TO:
                            self._moved_in(path, writer)
                    self.on_file(kinds, path, writer)
            offset += event_len

    def _path_of(self, buf: bytes, start: int, end: int) -> str | None:
        """The path from a DFID_NAME (dir handle + name) or DFID info record."""
        pos = start
        while pos + INFO_HEADER.size <= end:
            info_type, _pad, length = INFO_HEADER.unpack_from(buf, pos)
            if length == 0:
                return None
            if info_type in (INFO_DFID_NAME, INFO_DFID):
                fsid = buf[pos + 4 : pos + 12]
                hbytes = struct.unpack_from("=I", buf, pos + 12)[0]
                handle = buf[pos + 12 : pos + 20 + hbytes]
                directory = self._resolve(fsid, handle)
                if directory is None:
                    return None
                if info_type == INFO_DFID:
                    return directory
                raw = buf[pos + 20 + hbytes : pos + length]
                name = raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                if name in ("", "."):
                    return directory
                return os.path.join(directory, name)
            pos += length
        return None

    def _ignore(self, mfd: int, handle: bytes) -> None:
        """Tell the kernel to stop reporting a directory no watched path can be in.

        An evictable FAN_MARK_IGNORE mark (Linux 6.0+) on the directory and its children: a
        bot writing its logs elsewhere on the filesystem then costs the guard nothing. Every
        directory move flushes these marks (a directory moved under a protected path must be
        seen again); on older kernels the guard keeps filtering in user space.
        """
        if not self.ignore_supported or self.ignore_marks >= MAX_IGNORE_MARKS:
            return
        dfd = self.libc.open_by_handle_at(mfd, handle, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        if dfd < 0:
            return
        try:
            flags = (
                FAN_MARK_ADD | FAN_MARK_IGNORE | FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_EVICTABLE
            )
            # Not FAN_ONDIR: events about the directory itself (its move under a protected
            # path above all) must still be reported.
            mask = (WATCH_MASK & ~FAN_ONDIR) | FAN_EVENT_ON_CHILD
            if self.libc.fanotify_mark(self.fd, flags, mask, dfd, None) == 0:
                self.ignore_marks += 1
            elif ctypes.get_errno() == errno.EINVAL:
                self.ignore_supported = False
        finally:
            os.close(dfd)

    def _moved_in(self, directory: str, pid: int | None) -> None:
        """A directory moved here: report what it holds (writes made inside it before the
        ignore marks were flushed never reached us)."""
        count = 0
        for top, _dirs, files in os.walk(directory):
            for name in files:
                self.on_file(("move_to",), os.path.join(top, name), pid)
                count += 1
                if count >= MAX_MOVED_IN_FILES:
                    return

    def _flush_ignores(self) -> None:
        if self.ignore_marks:
            self.libc.fanotify_mark(self.fd, FAN_MARK_FLUSH, 0, -1, None)
            self.ignore_marks = 0

    def _resolve(self, fsid: bytes, handle: bytes) -> str | None:
        key = fsid + handle
        if key in self.dir_cache:
            return self.dir_cache[key]
        mfd = self.fsid_mount.get(fsid)
        if mfd is not None:
            hfd = self.libc.open_by_handle_at(mfd, handle, O_PATH | os.O_CLOEXEC)
            if hfd < 0:
                return None  # the directory is already gone (ESTALE)
            try:
                path = os.readlink(f"/proc/self/fd/{hfd}")
            finally:
                os.close(hfd)
            if len(self.dir_cache) > 8192:
                self.dir_cache.clear()
            relevant = path if self.relevant_dir(path) else None
            self.dir_cache[key] = relevant
            if relevant is None:
                self._ignore(mfd, handle)
            return relevant
        return None
