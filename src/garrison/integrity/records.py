"""One file's recorded state, and its compact tab-separated line in a manifest."""

from __future__ import annotations

import os
import re
import stat
from typing import NamedTuple
from urllib.parse import quote_from_bytes, unquote_to_bytes

from garrison.errors import IntegrityError

#: Column names, in order, written to the manifest header line.
COLUMNS = (
    "path",
    "type",
    "mode",
    "uid",
    "gid",
    "size",
    "mtime_ns",
    "ctime_ns",
    "inode",
    "dev",
    "nlink",
    "caps",
    "target",
    "hash",
)

NO_VALUE = "-"
UNREADABLE = "?"  # the file existed but could not be read; its content is unknown

TYPE_NAMES = {
    "f": "file",
    "d": "directory",
    "l": "symlink",
    "p": "fifo",
    "s": "socket",
    "c": "char device",
    "b": "block device",
    "?": "unknown",
}
# Anything that would break the one-line, tab-separated format is percent-escaped.
_NEEDS_QUOTING = re.compile(r"[%\t\n\r\\\x00-\x1f\x7f\udc80-\udcff]")


_TYPE_OF_FORMAT = {
    stat.S_IFREG: "f",
    stat.S_IFDIR: "d",
    stat.S_IFLNK: "l",
    stat.S_IFIFO: "p",
    stat.S_IFSOCK: "s",
    stat.S_IFCHR: "c",
    stat.S_IFBLK: "b",
}


def file_type(mode: int) -> str:
    """The one-letter type of an lstat mode."""
    return _TYPE_OF_FORMAT.get(stat.S_IFMT(mode), "?")


def quote_path(text: str) -> str:
    """Escape a path (or symlink target) for the manifest; plain names stay readable."""
    if not _NEEDS_QUOTING.search(text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    return quote_from_bytes(raw, safe="/ !\"#$&'()*+,-.:;<=>?@[]^_`{|}~")


def unquote_path(text: str) -> str:
    if "%" not in text:
        return text
    return unquote_to_bytes(text).decode("utf-8", "surrogateescape")


def sort_key(path: str) -> str:
    """The order of records in a manifest: a depth-first walk with names sorted in each directory.

    Replacing '/' by NUL makes plain string order equal to component-by-component order, which is
    the order a sorted depth-first walk produces ('a/x' before 'a.b' would otherwise be wrong).
    """
    return path.replace("/", "\0")


class FileRecord(NamedTuple):
    """The recorded state of one path.

    A NamedTuple rather than a frozen dataclass: a scan builds and compares hundreds of
    thousands of these, and tuple construction and equality are several times cheaper.
    """

    path: str
    type: str
    mode: int  # permission bits including setuid/setgid/sticky (S_IMODE)
    uid: int
    gid: int
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    dev: int
    nlink: int
    caps: str = ""  # security.capability xattr, hex; "" when none
    target: str = ""  # symlink target
    hash: str = ""  # content hash of regular files; "?" when unreadable

    @property
    def setuid(self) -> bool:
        return bool(self.mode & stat.S_ISUID)

    @property
    def setgid(self) -> bool:
        return bool(self.mode & stat.S_ISGID)

    @property
    def is_file(self) -> bool:
        return self.type == "f"

    def with_content(self, *, hash: str, caps: str = "", target: str = "") -> FileRecord:
        return FileRecord(*self[:11], caps, target, hash)

    def same_inode_state(self, other: FileRecord) -> bool:
        """True when size, mtime, ctime and inode are unchanged (fast mode trusts the hash)."""
        return (
            self.size == other.size
            and self.mtime_ns == other.mtime_ns
            and self.ctime_ns == other.ctime_ns
            and self.inode == other.inode
        )

    def to_line(self) -> str:
        return _format_line(*self)

    @classmethod
    def from_line(cls, line: str, where: str) -> FileRecord:
        """Parse one manifest line; `where` (file:line) names it in the error."""
        fields = line.split("\t")
        if len(fields) != len(COLUMNS):
            raise IntegrityError(f"{where}: expected {len(COLUMNS)} fields, found {len(fields)}")
        try:
            return cls(
                path=unquote_path(fields[0]),
                type=fields[1],
                mode=int(fields[2], 8),
                uid=int(fields[3]),
                gid=int(fields[4]),
                size=int(fields[5]),
                mtime_ns=int(fields[6]),
                ctime_ns=int(fields[7]),
                inode=int(fields[8]),
                dev=int(fields[9]),
                nlink=int(fields[10]),
                caps="" if fields[11] == NO_VALUE else fields[11],
                target="" if fields[12] == NO_VALUE else unquote_path(fields[12]),
                hash="" if fields[13] == NO_VALUE else fields[13],
            )
        except ValueError as exc:
            raise IntegrityError(f"{where}: malformed record ({exc})") from None


def record_from_stat(path: str, st: os.stat_result) -> FileRecord:
    """A record with the metadata of an lstat result (content fields filled in later)."""
    mode = st.st_mode
    kind = _TYPE_OF_FORMAT.get(stat.S_IFMT(mode), "?")
    # positional: this runs for every entry of every scan
    return FileRecord(
        path,
        kind,
        stat.S_IMODE(mode),
        st.st_uid,
        st.st_gid,
        st.st_size if kind in ("f", "l") else 0,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
        st.st_dev,
        st.st_nlink,
    )


def line_from_stat(
    path: str, st: os.stat_result, *, caps: str = "", target: str = "", hash: str = ""
) -> str:
    """The manifest line of `record_from_stat(path, st).with_content(...)`, without building
    the record (worker processes format every entry of a scan; this is ~10 % of their time
    saved)."""
    mode = st.st_mode
    kind = _TYPE_OF_FORMAT.get(stat.S_IFMT(mode), "?")
    return _format_line(
        path,
        kind,
        mode & 0o7777,
        st.st_uid,
        st.st_gid,
        st.st_size if kind in ("f", "l") else 0,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
        st.st_dev,
        st.st_nlink,
        caps,
        target,
        hash,
    )


def _format_line(
    path: str,
    kind: str,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime_ns: int,
    ctime_ns: int,
    inode: int,
    dev: int,
    nlink: int,
    caps: str,
    target: str,
    hash: str,
) -> str:
    """One manifest line, in COLUMNS order (the only place that knows the format)."""
    return (
        f"{quote_path(path)}\t{kind}\t{mode:o}\t{uid}\t{gid}\t{size}\t{mtime_ns}\t{ctime_ns}\t"
        f"{inode}\t{dev}\t{nlink}\t{caps or NO_VALUE}\t"
        f"{quote_path(target) if target else NO_VALUE}\t{hash or NO_VALUE}"
    )
