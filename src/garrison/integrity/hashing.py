"""Content hashes and file capabilities of single files, read safely."""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import stat
import threading

import blake3

CAPABILITY_XATTR = "security.capability"
#: Files at least this big are read block by block into a reused buffer of BIG_READ_BYTES.
BIG_FILE_BYTES = 4 << 20
BIG_READ_BYTES = 4 << 20
READ_BLOCK = 1 << 20
#: Big files are mapped this much at a time (a multiple of the page size).
MAP_WINDOW = 16 << 20

_buffers = threading.local()


def _read_buffer() -> bytearray:
    """A per-thread read buffer: big files are hashed in place, never held whole in memory."""
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(BIG_READ_BYTES)
    return buffer


def _new_digest(algorithm: str) -> blake3.blake3 | hashlib._Hash:
    return blake3.blake3() if algorithm == "blake3" else hashlib.sha256()


def hash_file(real_path: str, size: int, algorithm: str, *, mapped: bool = False) -> str:
    """Hex digest of a file's content. Raises OSError when it cannot be read.

    Plain reads by default. `mapped` hashes big files through a memory mapping instead, which
    saves copying them (about a third of the CPU of hashing /usr's big files), but a file
    truncated while mapped kills the process with SIGBUS: only worker processes, whose death
    the scan survives, may ask for it.
    """
    if mapped and size >= BIG_FILE_BYTES:
        whole = _hash_mapped(real_path, algorithm)
        if whole is not None:
            return whole
    # os.open/os.read: no file object per file. O_NOFOLLOW and O_NONBLOCK: if the file was
    # swapped for a symlink or a FIFO since the lstat, fail instead of following or hanging.
    fd = os.open(real_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        digest = _new_digest(algorithm)
        if size < BIG_FILE_BYTES:
            want = size + 1
            block = os.read(fd, want)
            while block:
                digest.update(block)
                if len(block) < want:  # a short read of a regular file is its end
                    break
                want = READ_BLOCK
                block = os.read(fd, want)
        else:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)  # larger readahead when cold
            buffer = _read_buffer()
            view = memoryview(buffer)
            while count := os.readv(fd, [buffer]):
                digest.update(view[:count])
    finally:
        os.close(fd)
    return str(digest.hexdigest())


def read_caps(real_path: str) -> str:
    """The security.capability xattr as hex, '' when there is none.

    Listing the names first: most files have no extended attributes at all, and an empty list
    is cheaper than the ENODATA exception a direct getxattr raises.
    """
    try:
        names = os.listxattr(real_path, follow_symlinks=False)
        if CAPABILITY_XATTR not in names:
            return ""
        return os.getxattr(real_path, CAPABILITY_XATTR, follow_symlinks=False).hex()
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.ENOENT):
            return ""
        raise


def _hash_mapped(real_path: str, algorithm: str) -> str | None:
    """Hash a whole regular file through read-only mappings of MAP_WINDOW bytes at a time (the
    window bounds how much of the file is mapped, so resident memory stays flat); None: the
    file cannot be mapped, read it instead."""
    fd = os.open(real_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            return None
        digest = _new_digest(algorithm)
        # MAP_POPULATE maps the cached pages up front instead of faulting them one by one
        flags = mmap.MAP_SHARED | mmap.MAP_POPULATE
        offset = 0
        while offset < st.st_size:
            length = min(MAP_WINDOW, st.st_size - offset)
            try:
                mapping = mmap.mmap(fd, length, flags=flags, prot=mmap.PROT_READ, offset=offset)
            except (ValueError, OSError):  # not mappable here
                return None
            with mapping:
                digest.update(mapping)
            offset += length
        return str(digest.hexdigest())
    finally:
        os.close(fd)
