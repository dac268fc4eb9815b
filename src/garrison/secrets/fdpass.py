"""Kernel objects that carry secret bytes to a child without touching a filesystem.

Ranked by strength:
  memfd_secret  memfd_secret(2) (Linux 5.14+, x86_64 syscall 447): pages removed from the
                kernel's direct map, not readable through /proc/PID/mem even by root, never
                swapped. Readable only with mmap (read(2) fails), so the child must map it.
  memfd         memfd_create(2) + F_SEAL_WRITE/GROW/SHRINK/SEAL: anonymous RAM, immutable once
                sealed; /proc/self/fd/N works as a path for tools that want a file.
  pipe          a pipe holding the payload (< 64 KiB); readable once, like a path too.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
import platform
from functools import cache

from garrison.errors import SecretError

_MEMFD_SECRET_SYSCALL = {"x86_64": 447, "aarch64": 447, "riscv64": 447}
_PIPE_CAPACITY = 65536


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _memfd_secret_fd() -> int:
    number = _MEMFD_SECRET_SYSCALL.get(platform.machine())
    if number is None:
        raise OSError(38, f"memfd_secret not known on {platform.machine()}")
    syscall = _libc().syscall
    syscall.restype = ctypes.c_long
    fd = int(syscall(ctypes.c_long(number), ctypes.c_uint(os.O_CLOEXEC)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return fd


@cache
def memfd_secret_problem() -> str:
    """Why memfd_secret cannot be used here ('' when it can): ENOSYS, disabled, no mmap..."""
    try:
        fd = _memfd_secret_fd()
    except OSError as exc:
        return f"memfd_secret(2) unavailable: {exc.strerror}"
    try:
        os.ftruncate(fd, 16)
        with mmap.mmap(fd, 16) as view:
            view[:1] = b"x"
    except OSError as exc:
        return f"memfd_secret(2) not usable: {exc.strerror}"
    finally:
        os.close(fd)
    return ""


def memfd_secret_from(payload: bytearray) -> int:
    """A memfd_secret fd holding payload (garrison's mapping is unmapped before returning)."""
    if not payload:
        raise SecretError("nothing to deliver")
    try:
        fd = _memfd_secret_fd()
    except OSError as exc:
        raise SecretError(f"memfd_secret(2): {exc.strerror} (use mode = 'memfd')") from None
    try:
        os.ftruncate(fd, len(payload))
        with mmap.mmap(fd, len(payload)) as view:
            view[:] = payload
    except OSError as exc:
        os.close(fd)
        raise SecretError(f"memfd_secret(2): {exc.strerror} (use mode = 'memfd')") from None
    return fd


def sealed_memfd_from(payload: bytearray, name: str = "garrison-secrets") -> int:
    """A memfd holding payload, sealed against any further write, growth or shrink."""
    try:
        fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    except OSError as exc:
        raise SecretError(f"memfd_create(2): {exc.strerror} (use mode = 'pipe')") from None
    try:
        view = memoryview(payload)
        written = 0
        while written < len(payload):
            written += os.write(fd, view[written:])
        view.release()
        os.lseek(fd, 0, os.SEEK_SET)
        seals = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
    except OSError as exc:
        os.close(fd)
        raise SecretError(f"sealed memfd: {exc.strerror}") from None
    return fd


def pipe_from(payload: bytearray) -> int:
    """The read end of a pipe already holding payload (write end closed: reader sees EOF)."""
    if len(payload) >= _PIPE_CAPACITY:
        raise SecretError(f"pipe delivery holds at most {_PIPE_CAPACITY - 1} bytes")
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        view = memoryview(payload)
        written = 0
        while written < len(payload):
            written += os.write(write_fd, view[written:])
        view.release()
    finally:
        os.close(write_fd)
    return read_fd
