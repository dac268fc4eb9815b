"""The kernel keyring (keyctl(2) through ctypes; no keyutils binary needed).

garrison joins a fresh anonymous session keyring, adds one `user` key holding the payload with
a timeout (KEYCTL_SET_TIMEOUT), and execs the strategy, which inherits the session keyring and
reads the key by serial. After the timeout the kernel destroys the key.
"""

from __future__ import annotations

import ctypes
import os
import platform

from garrison.errors import SecretError

_ADD_KEY = {"x86_64": 248, "aarch64": 217}
_KEYCTL = {"x86_64": 250, "aarch64": 219}
KEY_SPEC_SESSION_KEYRING = -3
KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_READ = 11
KEYCTL_SET_TIMEOUT = 15


def _syscall(number_table: dict[str, int], *args: object) -> int:
    number = number_table.get(platform.machine())
    if number is None:
        raise SecretError(f"keyring: not supported on {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result = int(libc.syscall(ctypes.c_long(number), *args))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def join_new_session_keyring(name: str) -> int:
    """Give this process (and its future children) a fresh session keyring."""
    try:
        return _syscall(_KEYCTL, ctypes.c_long(KEYCTL_JOIN_SESSION_KEYRING), name.encode())
    except OSError as exc:
        raise SecretError(f"keyring: cannot create a session keyring: {exc.strerror}") from None


def add_user_key(description: str, payload: bytearray, timeout_s: int) -> int:
    """Add a `user` key to the session keyring that the kernel destroys after timeout_s."""
    buffer = (ctypes.c_char * len(payload)).from_buffer(payload)
    try:
        serial = _syscall(
            _ADD_KEY,
            b"user",
            description.encode(),
            buffer,
            ctypes.c_size_t(len(payload)),
            ctypes.c_int(KEY_SPEC_SESSION_KEYRING),
        )
        _syscall(
            _KEYCTL,
            ctypes.c_long(KEYCTL_SET_TIMEOUT),
            ctypes.c_long(serial),
            ctypes.c_uint(timeout_s),
        )
    except OSError as exc:
        raise SecretError(f"keyring: cannot add key {description!r}: {exc.strerror}") from None
    return serial


def read_user_key(serial: int) -> bytearray:
    """The payload of a key this process possesses (what a child does to read its secrets)."""
    size = _syscall(
        _KEYCTL, ctypes.c_long(KEYCTL_READ), ctypes.c_long(serial), None, ctypes.c_size_t(0)
    )
    out = bytearray(size)
    buffer = (ctypes.c_char * size).from_buffer(out)
    _syscall(
        _KEYCTL, ctypes.c_long(KEYCTL_READ), ctypes.c_long(serial), buffer, ctypes.c_size_t(size)
    )
    return out
