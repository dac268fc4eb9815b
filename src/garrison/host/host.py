"""The Host: every file read goes through its root, every command through its runner.

`Host(Path("/"))` is the live machine; `Host(Path("/mnt/image"))` is an offline image, where
commands are refused (they would describe the auditing machine, not the image).
"""

from __future__ import annotations

import errno
import os
import socket
import stat as stat_mod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from garrison.errors import HostError
from garrison.host.paths import resolve_in_root
from garrison.host.runner import DEFAULT_TIMEOUT_S, CommandResult, run_command

Runner = Callable[..., CommandResult]

#: Reads larger than this are refused: a config file is never this big, a trap file may be.
MAX_READ_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Account:
    """One line of /etc/passwd."""

    name: str
    uid: int
    gid: int
    home: str
    shell: str

    @property
    def can_login(self) -> bool:
        return not self.shell.endswith(("nologin", "/false", "/sync")) and self.shell != ""


class Host:
    """A system to audit or enforce on, seen through `root`."""

    def __init__(
        self,
        root: Path | str = "/",
        *,
        command_timeout: float = DEFAULT_TIMEOUT_S,
        runner: Runner = run_command,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise HostError(f"--root {root}: not a directory")
        self.live = self.root.resolve() == Path("/")
        self.command_timeout = command_timeout
        self._runner = runner

    # -- paths ---------------------------------------------------------------------------
    def path(self, system_path: str) -> Path:
        """Where `system_path` of the audited system really is, symlinks resolved in the root."""
        try:
            return resolve_in_root(self.root, system_path)
        except OSError as exc:
            raise HostError(f"{system_path}: {exc.strerror or exc}") from exc

    def lpath(self, system_path: str) -> Path:
        """Like path(), but a final symlink is not followed (for lstat and readlink)."""
        return resolve_in_root(self.root, system_path, follow_last=False)

    def display(self, real: Path) -> str:
        """The system path for a real path under the root (for evidence shown to users)."""
        if self.live:
            return str(real)
        try:
            return "/" + str(real.relative_to(self.root)).lstrip(".")
        except ValueError:
            return str(real)

    # -- reads ---------------------------------------------------------------------------
    def exists(self, system_path: str) -> bool:
        try:
            return self.path(system_path).exists()
        except (HostError, OSError):
            return False

    def is_dir(self, system_path: str) -> bool:
        try:
            return self.path(system_path).is_dir()
        except (HostError, OSError):
            return False

    def read_bytes(self, system_path: str, *, limit: int = MAX_READ_BYTES) -> bytes:
        """Read a file; raise HostError with a clear line when it is missing or unreadable."""
        real = self.path(system_path)
        try:
            with real.open("rb") as handle:
                data = _read_up_to(handle, limit + 1)
        except FileNotFoundError:
            raise HostError(f"{system_path}: no such file") from None
        except PermissionError:
            hint = "" if os.geteuid() == 0 else " (run garrison as root)"
            raise HostError(f"{system_path}: permission denied{hint}") from None
        except IsADirectoryError:
            raise HostError(f"{system_path}: is a directory, expected a file") from None
        except OSError as exc:
            raise HostError(f"{system_path}: {exc.strerror or exc}") from None
        if len(data) > limit:
            raise HostError(f"{system_path}: larger than {limit // (1024 * 1024)} MiB, not read")
        return data

    def read_text(self, system_path: str) -> str:
        return self.read_bytes(system_path).decode("utf-8", errors="replace")

    def read_text_or_none(self, system_path: str) -> str | None:
        """The file's text, or None when it does not exist. Other errors still raise."""
        try:
            return self.read_text(system_path)
        except HostError as exc:
            if str(exc).endswith("no such file"):
                return None
            raise

    def listdir(self, system_path: str) -> list[str]:
        """Sorted entry names of a directory; [] when it does not exist."""
        try:
            return sorted(os.listdir(self.path(system_path)))
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            return []
        except PermissionError:
            raise HostError(f"{system_path}: permission denied") from None

    def walk_files(self, system_path: str, *, max_depth: int = 8) -> Iterator[str]:
        """System paths of regular files below a directory (symlinks not followed)."""
        base = self.path(system_path)
        base_depth = len(base.parts)
        for dirpath, dirnames, filenames in os.walk(base, onerror=None):
            if len(Path(dirpath).parts) - base_depth >= max_depth:
                dirnames[:] = []
            for name in sorted(filenames):
                real = Path(dirpath, name)
                try:
                    if stat_mod.S_ISREG(real.lstat().st_mode):
                        yield self.display(real)
                except OSError:
                    continue

    def stat(self, system_path: str) -> os.stat_result:
        try:
            return self.path(system_path).stat()
        except FileNotFoundError:
            raise HostError(f"{system_path}: no such file") from None
        except OSError as exc:
            raise HostError(f"{system_path}: {exc.strerror or exc}") from None

    # -- identity ------------------------------------------------------------------------
    @property
    def hostname(self) -> str:
        if self.live:
            return socket.gethostname()
        text = self.read_text_or_none("/etc/hostname")
        return (text or "").strip() or self.root.name or "image"

    @staticmethod
    def running_as_root() -> bool:
        return os.geteuid() == 0

    def accounts(self) -> list[Account]:
        """Accounts from /etc/passwd of the audited system."""
        text = self.read_text_or_none("/etc/passwd") or ""
        accounts = []
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) < 7 or line.startswith("#"):
                continue
            try:
                accounts.append(
                    Account(fields[0], int(fields[2]), int(fields[3]), fields[5], fields[6])
                )
            except ValueError:
                continue
        return accounts

    # -- commands ------------------------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run a command on the live host. Under --root this raises: the image is not running."""
        if not self.live:
            raise HostError(f"`{' '.join(argv)}` needs the live host; not run under --root")
        if env is None:
            return self._runner(argv, timeout=timeout or self.command_timeout)
        return self._runner(argv, timeout=timeout or self.command_timeout, env=env)


def _read_up_to(handle: BinaryIO, limit: int) -> bytes:
    """Read at most `limit` bytes in modest chunks.

    One read(limit) would ask the kernel for a 16 MiB buffer, which /proc/sys files refuse
    with ENOMEM; chunks also keep memory flat for the common small file.
    """
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = handle.read(min(left, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def is_missing(exc: OSError) -> bool:
    return exc.errno == errno.ENOENT
