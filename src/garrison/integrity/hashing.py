"""Content hashes and file capabilities of single files, read safely."""

from __future__ import annotations

import errno
import hashlib
import os
import threading

import blake3

CAPABILITY_XATTR = "security.capability"
#: Files at least this big are read block by block into a reused buffer of BIG_READ_BYTES.
BIG_FILE_BYTES = 4 << 20
BIG_READ_BYTES = 4 << 20
READ_BLOCK = 1 << 20

_buffers = threading.local()


def _read_buffer() -> bytearray:
    """A per-thread read buffer: big files are hashed in place, never held whole in memory."""
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(BIG_READ_BYTES)
    return buffer


def hash_file(real_path: str, size: int, algorithm: str) -> str:
    """Hex digest of a file's content. Raises OSError when it cannot be read.

    Plain reads, not mmap: a file truncated while mapped kills the process with SIGBUS.
    """
    # os.open/os.read: no file object per file. O_NOFOLLOW and O_NONBLOCK: if the file was
    # swapped for a symlink or a FIFO since the lstat, fail instead of following or hanging.
    fd = os.open(real_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        digest = blake3.blake3() if algorithm == "blake3" else hashlib.sha256()
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
    """The security.capability xattr as hex, '' when there is none."""
    try:
        return os.getxattr(real_path, CAPABILITY_XATTR, follow_symlinks=False).hex()
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.ENOENT):
            return ""
        raise
