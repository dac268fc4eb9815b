"""File source fallback on inotify (ctypes): recursive watches, no writer pid.

Used where fanotify with FAN_REPORT_DFID_NAME is not available (old kernels, some containers).
New directories get a watch as they appear; IN_Q_OVERFLOW triggers the overflow path.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import struct
from collections.abc import Callable, Iterable

from garrison.guard.sources.base import EmitEvent, Source, SourceStatus, SourceUnavailable
from garrison.guard.sources.fanotify import FileCallback
from garrison.model import Event

IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_Q_OVERFLOW = 0x4000
IN_ISDIR = 0x40000000
WATCH_MASK = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
)
MASK_KINDS = (
    (IN_CREATE, "create"),
    (IN_MOVED_TO, "move_to"),
    (IN_MODIFY, "write"),
    (IN_CLOSE_WRITE, "write"),
    (IN_ATTRIB, "attrib"),
    (IN_DELETE, "delete"),
    (IN_MOVED_FROM, "move_from"),
)
HEADER = struct.Struct("=iIII")  # wd, mask, cookie, len


class InotifySource(Source):
    name = "files"

    def __init__(
        self,
        roots: Iterable[str],
        on_file: FileCallback,
        emit_overflow: EmitEvent,
        overflow_event: Callable[[str], Event],
    ) -> None:
        self.roots = sorted({r for r in roots if os.path.isdir(r)})
        self.on_file = on_file
        self.emit_overflow = emit_overflow
        self.overflow_event = overflow_event
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self.libc = libc
        self.fd = -1
        self.wd_path: dict[int, str] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.failed_watches = 0
        self.overflows = 0

    def start(self, loop: asyncio.AbstractEventLoop, emit: EmitEvent) -> None:
        fd = self.libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise SourceUnavailable(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        self.fd = fd
        for root in self.roots:
            self._watch_tree(root)
        self.loop = loop
        loop.add_reader(fd, self._readable)

    def _watch_tree(self, top: str) -> None:
        for directory, subdirs, _files in os.walk(top):
            wd = self.libc.inotify_add_watch(self.fd, directory.encode(), WATCH_MASK)
            if wd < 0:
                self.failed_watches += 1
                subdirs[:] = []
                continue
            self.wd_path[wd] = directory

    def stop(self) -> None:
        if self.fd >= 0:
            if self.loop is not None:
                self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1

    def status(self) -> SourceStatus:
        return SourceStatus(
            name=self.name,
            active=self.fd >= 0,
            mechanism="inotify (fallback)",
            fallback=True,
            missing=("fanotify FAN_REPORT_DFID_NAME",),
            detail={
                "watches": str(len(self.wd_path)),
                "failed_watches": str(self.failed_watches),
                "overflows": str(self.overflows),
                "writer_pid": "not available",
            },
        )

    def _readable(self) -> None:
        while self.fd >= 0:
            try:
                buf = os.read(self.fd, 256 * 1024)
            except BlockingIOError:
                return
            self.parse(buf)

    def parse(self, buf: bytes) -> None:
        offset = 0
        while offset + HEADER.size <= len(buf):
            wd, mask, _cookie, length = HEADER.unpack_from(buf, offset)
            raw = buf[offset + HEADER.size : offset + HEADER.size + length]
            offset += HEADER.size + length
            if mask & IN_Q_OVERFLOW:
                self.overflows += 1
                self.emit_overflow(self.overflow_event("inotify queue overflow"))
                continue
            directory = self.wd_path.get(wd)
            if directory is None:
                continue
            name = raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            path = os.path.join(directory, name) if name else directory
            if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                self._watch_tree(path)
            kinds = tuple(dict.fromkeys(k for bit, k in MASK_KINDS if mask & bit))
            if kinds:
                self.on_file(kinds, path, None)
