"""What a strategy process does to read the secrets garrison delivered (any mode).

Bots written in Python can import this (or copy it: it needs only the standard library):

    from garrison.secrets.child import read_delivered
    secrets = read_delivered()      # {"binance_key": "...", ...} or the nested fields document

Environment set by `garrison secrets run`:
  GARRISON_SECRETS_MODE   memfd_secret | memfd | pipe | keyring | env
  GARRISON_SECRETS_FD     the inherited fd (memfd_secret, memfd, pipe)
  GARRISON_SECRETS_PATH   /proc/self/fd/N, a path for tools that want one (memfd, pipe)
  GARRISON_SECRETS_SIZE   payload length in bytes
  GARRISON_SECRETS_KEY    key serial in the session keyring (keyring)
"""

from __future__ import annotations

import json
import mmap
import os
from typing import Any


def read_delivered_bytes(*, close: bool = True) -> bytearray:
    """The raw JSON document garrison delivered to this process."""
    mode = os.environ.get("GARRISON_SECRETS_MODE", "")
    size = int(os.environ.get("GARRISON_SECRETS_SIZE", "0"))
    if mode == "keyring":
        from garrison.secrets.keyring import read_user_key

        return read_user_key(int(os.environ["GARRISON_SECRETS_KEY"]))
    fd = int(os.environ["GARRISON_SECRETS_FD"])
    try:
        if mode == "memfd_secret":  # read(2) is refused on secret memory; map it instead
            with mmap.mmap(fd, size, prot=mmap.PROT_READ) as view:
                return bytearray(view[:size])
        out = bytearray()
        while chunk := os.pread(fd, 65536, len(out)) if mode == "memfd" else os.read(fd, 65536):
            out += chunk
        return out
    finally:
        if close:
            os.close(fd)


def read_delivered() -> dict[str, Any]:
    """The delivered document parsed as JSON."""
    data = read_delivered_bytes()
    try:
        parsed: dict[str, Any] = json.loads(bytes(data))
        return parsed
    finally:
        data[:] = bytes(len(data))
