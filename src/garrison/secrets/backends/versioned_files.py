"""A directory of encrypted files, one per secret version: <store>/<name>/<000001>.<ext>.

Shared by the age store and the systemd-creds store. Writes are atomic (temp file, fsync,
rename, fsync of the directory): a crash or a failed encryption never leaves a partial version.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from garrison.errors import SecretError
from garrison.secrets.backends.interface import SecretInfo, valid_name

_VERSION_FILE = re.compile(r"^(\d{6})\.[a-z]+$")


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write data to path so that readers see the old file or the new one, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SecretError(f"{path}: cannot write: {exc.strerror or exc}") from None


class VersionedFiles:
    """Encrypted versions of each secret as files in a private directory."""

    def __init__(self, root: Path, ext: str, keep_versions: int) -> None:
        self.root = root
        self.ext = ext
        self.keep_versions = keep_versions

    def ensure_root(self) -> None:
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
        except OSError as exc:
            raise SecretError(f"{self.root}: cannot create store: {exc.strerror}") from None

    def versions(self, name: str) -> list[tuple[int, Path]]:
        """(version, file) of a secret, oldest first; [] when it does not exist."""
        folder = self.root / valid_name(name)
        try:
            entries = os.listdir(folder)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SecretError(f"{folder}: cannot read: {exc.strerror}") from None
        found = []
        for entry in entries:
            match = _VERSION_FILE.match(entry)
            if match and entry.endswith("." + self.ext):
                found.append((int(match.group(1)), folder / entry))
        return sorted(found)

    def current(self, name: str) -> tuple[int, Path]:
        versions = self.versions(name)
        if not versions:
            raise SecretError(f"secret {name!r} not found in {self.root}")
        return versions[-1]

    def read_current(self, name: str) -> tuple[int, bytes]:
        version, path = self.current(name)
        try:
            return version, path.read_bytes()
        except OSError as exc:
            raise SecretError(f"{path}: cannot read: {exc.strerror}") from None

    def add(self, name: str, encrypt: Callable[[], bytes]) -> SecretInfo:
        """Write a new version with the bytes encrypt() returns; prune old versions."""
        self.ensure_root()
        versions = self.versions(name)
        version = versions[-1][0] + 1 if versions else 1
        folder = self.root / name
        folder.mkdir(mode=0o700, exist_ok=True)
        blob = encrypt()  # before any file is touched: a failed encryption writes nothing
        target = folder / f"{version:06d}.{self.ext}"
        write_atomic(target, blob)
        for _old_version, old_path in versions[: max(0, len(versions) + 1 - self.keep_versions)]:
            old_path.unlink(missing_ok=True)
        return self.info_of(name, version, target)

    def info_of(self, name: str, version: int, path: Path) -> SecretInfo:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return SecretInfo(name, version)
        return SecretInfo(name, version, datetime.fromtimestamp(mtime, UTC))

    def info(self, name: str) -> SecretInfo:
        version, path = self.current(name)
        return self.info_of(name, version, path)

    def list(self) -> list[SecretInfo]:
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SecretError(f"{self.root}: cannot read: {exc.strerror}") from None
        out = []
        for name in names:
            if name.startswith(".") or not (self.root / name).is_dir():
                continue
            versions = self.versions(name)
            if versions:
                out.append(self.info_of(name, *versions[-1]))
        return out

    def delete(self, name: str) -> None:
        folder = self.root / valid_name(name)
        if not self.versions(name):
            raise SecretError(f"secret {name!r} not found in {self.root}")
        shutil.rmtree(folder)
