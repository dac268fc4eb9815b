"""Failed sudo/su authentication from the auth log (syslog format), tailed via inotify.

Only lines appended after the guard started are read. Rotation (the file replaced) is noticed
through a watch on the directory. The audit source reports the same failures from PAM's
USER_AUTH records when auditing is on; both fold into one alert by the dedup key.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import re
import struct
from datetime import UTC, datetime

from garrison.guard.sources.base import EmitEvent, Source, SourceStatus, SourceUnavailable
from garrison.model import Event

IN_MODIFY = 0x2
IN_CREATE = 0x100
IN_MOVED_TO = 0x80
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
HEADER = struct.Struct("=iIII")

PATTERNS = (
    re.compile(
        r"\b(?P<program>sudo|su)(?:\[\d+\])?: pam_unix\([\w-]+:auth\): authentication failure;"
        r".*?\bruser=(?P<by>\S*).*?\buser=(?P<user>\S+)"
    ),
    re.compile(
        r"\b(?P<program>sudo)(?:\[\d+\])?:\s+(?P<by>\S+) : (?:\d+ )?incorrect password attempts?"
        r".*?USER=(?P<user>\S+)"
    ),
    re.compile(r"\b(?P<program>su)(?:\[\d+\])?: FAILED SU \(to (?P<user>[^)]+)\) (?P<by>\S+)"),
)


def parse_auth_line(line: str) -> dict[str, str] | None:
    """{program, user, by} for a failed sudo/su line, else None."""
    for pattern in PATTERNS:
        match = pattern.search(line)
        if match:
            return {k: v for k, v in match.groupdict().items() if v is not None}
    return None


class AuthLogSource(Source):
    name = "auth-log"

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1
        self.handle: object | None = None
        self.offset = 0
        self.buffer = b""
        self.loop: asyncio.AbstractEventLoop | None = None
        self.emit: EmitEvent | None = None
        self.lines = 0
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self.libc = libc
        self.file_wd = -1

    def start(self, loop: asyncio.AbstractEventLoop, emit: EmitEvent) -> None:
        directory = os.path.dirname(self.path) or "."
        if not os.path.isdir(directory):
            raise SourceUnavailable(f"auth log directory {directory} does not exist")
        fd = self.libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise SourceUnavailable(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        self.fd = fd
        self.libc.inotify_add_watch(fd, directory.encode(), IN_CREATE | IN_MOVED_TO)
        self._open_file(at_end=True)
        self.loop, self.emit = loop, emit
        loop.add_reader(fd, self._readable)

    def _open_file(self, *, at_end: bool) -> None:
        try:
            self.offset = os.path.getsize(self.path) if at_end else 0
        except OSError:
            self.offset = 0
            return
        self.file_wd = self.libc.inotify_add_watch(self.fd, self.path.encode(), IN_MODIFY)
        self.buffer = b""

    def stop(self) -> None:
        if self.fd >= 0:
            if self.loop is not None:
                self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1

    def status(self) -> SourceStatus:
        exists = os.path.exists(self.path)
        return SourceStatus(
            name=self.name,
            active=self.fd >= 0,
            mechanism=f"tail {self.path} (inotify)",
            fallback=True,
            missing=() if exists else (f"{self.path} does not exist yet (no syslog daemon?)",),
            detail={"lines": str(self.lines)},
        )

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        base = os.path.basename(self.path).encode()
        pos = 0
        while pos + HEADER.size <= len(data):
            _wd, mask, _cookie, length = HEADER.unpack_from(data, pos)
            name = data[pos + HEADER.size : pos + HEADER.size + length].split(b"\0", 1)[0]
            pos += HEADER.size + length
            if mask & (IN_CREATE | IN_MOVED_TO) and name == base:
                self._open_file(at_end=False)  # rotated: read the new file from the start
        self._read_new()

    def _read_new(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < self.offset:
                    self.offset = 0  # truncated
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return
        self.offset += len(chunk)
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for raw in lines:
            self.lines += 1
            found = parse_auth_line(raw.decode("utf-8", "replace"))
            if found and self.emit is not None:
                self.emit(
                    Event(
                        source="authlog",
                        kind="auth_failure",
                        time=datetime.now(UTC),
                        detail={**found, "line": raw.decode("utf-8", "replace")[:300]},
                    )
                )
