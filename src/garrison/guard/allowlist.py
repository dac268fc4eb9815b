"""Verified allow-lists: package-manager writes, garrison's own writes, verified deploys.

A write is only allowed when it can be checked, not because of who claims to have made it:
- package-manager: the writer is dpkg (by /proc/PID/exe), an ancestor is apt/unattended-upgrades,
  AND once dpkg has exited the file on disk matches the dpkg database (md5sums or conffile
  hash). A file that does not match raises the alert after all.
- garrison: the writer is this guard process, or garrison's own interpreter running the
  garrison entry point.
- deploy: the file matches a deploy manifest from garrison.integrity.deploy (when that exists).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from garrison.config.guard import PackageManagerAllow
from garrison.guard.pathglob import glob_match
from garrison.model import Event

DPKG_TEMP_SUFFIXES = (
    ".dpkg-new",
    ".dpkg-tmp",
    ".dpkg-old",
    ".dpkg-dist",
    ".dpkg-bak",
    ".dpkg-remove",
    ".dpkg-backup",
)


class DpkgDatabase:
    """md5 of every file dpkg installed, and the set of paths packages own (lazily rebuilt)."""

    def __init__(self, admindir: Path) -> None:
        self.admindir = admindir
        self.md5: dict[str, str] = {}
        self.owned: set[str] = set()
        self.stamp: tuple[float, float] | None = None

    def _current_stamp(self) -> tuple[float, float]:
        def mtime(p: Path) -> float:
            try:
                return p.stat().st_mtime
            except OSError:
                return 0.0

        return mtime(self.admindir / "info"), mtime(self.admindir / "status")

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the database when it changed. File timestamps are coarse (one kernel tick),
        so a change within the tick of the last read is missed; `force` re-reads anyway."""
        stamp = self._current_stamp()
        if stamp == self.stamp and not force:
            return
        md5: dict[str, str] = {}
        owned: set[str] = set()
        info = self.admindir / "info"
        for entry in sorted(info.glob("*.md5sums")) if info.is_dir() else []:
            for line in _lines(entry):
                digest, _, rel = line.partition("  ")
                if rel:
                    md5["/" + rel.lstrip("/")] = digest
        for entry in sorted(info.glob("*.list")) if info.is_dir() else []:
            owned.update(line for line in _lines(entry) if line.startswith("/"))
        for path, digest in _conffiles(self.admindir / "status"):
            md5.setdefault(path, digest)
        self.md5, self.owned, self.stamp = md5, owned, stamp


def _lines(path: Path) -> Iterator[str]:
    try:
        yield from path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError:
        return


def _conffiles(status: Path) -> Iterator[tuple[str, str]]:
    """(path, md5) of every conffile in dpkg's status file."""
    in_conffiles = False
    for line in _lines(status):
        if line.startswith("Conffiles:"):
            in_conffiles = True
        elif in_conffiles and line.startswith(" "):
            parts = line.split()
            if len(parts) >= 2 and parts[0].startswith("/"):
                yield parts[0], parts[1]
        else:
            in_conffiles = False


def _md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PackageManagerVerifier:
    """Decides whether a write made by dpkg is what the dpkg database says it should be."""

    def __init__(self, settings: PackageManagerAllow) -> None:
        self.settings = settings
        self.root = settings.root.rstrip("/")
        self.db = DpkgDatabase(Path(settings.admindir))

    def qualifies(self, event: Event) -> bool:
        """Writer is dpkg, or runs under dpkg (maintainer scripts, triggers), started under apt
        (any parent if `parents` is []). Its writes are then verified, never trusted.

        A short-lived child of dpkg (`ln` in a postinst) may exit before its exe can be read;
        its ancestry still says where it ran, and the content check decides either way.
        """
        ancestors = event.detail.get("ancestors") or []
        under_dpkg = any(a in self.settings.descendants_of for a in ancestors)
        if not under_dpkg and (not event.exe or event.exe not in self.settings.writers):
            return False
        parents = self.settings.parents
        return not parents or any(a in parents for a in ancestors)

    def unattributed(self, event: Event) -> bool:
        """The writer is unknown (inotify) or exited before we looked: content decides.

        Only for content events: a mode change (attrib) is not covered by md5sums.
        """
        if event.source not in ("fanotify", "inotify", "rescan"):
            return False
        if event.kind == "attrib" and not event.path.endswith(DPKG_TEMP_SUFFIXES):
            return False  # dpkg sets modes on its temporary file, then renames it
        return event.pid is None or bool(event.detail.get("process_gone"))

    def verify(self, path: str) -> tuple[bool, str]:
        """(allowed, why) for the file as it is on disk now.

        A refusal is decided twice, the second time on a freshly read database: dpkg may have
        written its md5sums within the same timestamp tick as the previous read.
        """
        self.db.refresh()
        allowed, why = self._decide(path)
        if not allowed:
            self.db.refresh(force=True)
            allowed, why = self._decide(path)
        return allowed, why

    def _decide(self, path: str) -> tuple[bool, str]:
        rel = path[len(self.root) :] if self.root and path.startswith(self.root + "/") else path
        if any(glob_match(g, rel) for g in self.settings.generated):
            return True, "regenerated by package scripts"
        try:
            st = os.lstat(path)
        except OSError:
            if path.endswith(DPKG_TEMP_SUFFIXES):
                return True, "dpkg temporary file"
            if rel in self.db.owned:
                return False, f"{rel} is gone but a package still owns it"
            return True, "removed together with its package"
        if stat.S_ISDIR(st.st_mode):
            return True, "directory"
        if stat.S_ISLNK(st.st_mode):
            ok = rel in self.db.owned
            return ok, "symlink owned by a package" if ok else "symlink no package owns"
        expected = self.db.md5.get(rel)
        if expected is None:
            return False, f"{rel} is in no package's md5sums"
        try:
            actual = _md5(path)
        except OSError as exc:
            return False, f"cannot read {path}: {exc.strerror}"
        if actual != expected:
            return False, f"{rel} does not match the dpkg database (md5 {actual} != {expected})"
        return True, "matches the dpkg database"


def is_garrison_writer(event: Event) -> bool:
    """This guard, or garrison's interpreter running the garrison entry point."""
    if event.pid is not None and event.pid == os.getpid():
        return True
    if not event.exe or event.pid is None:
        return False
    if os.path.realpath(event.exe) != os.path.realpath(sys.executable):
        return False
    try:
        with open(f"/proc/{event.pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return len(argv) > 1 and os.path.basename(argv[1]) == b"garrison"


class DeployVerifier:
    """A write in a deployed tree is allowed when the file now matches that tree's signed
    deploy manifest (garrison.integrity.deploy: `garrison deploy verify` wrote it)."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.cache: dict[str, tuple[float, dict[str, tuple[str, int]], str]] = {}

    def _records(self, manifest: Path) -> tuple[dict[str, tuple[str, int]], str]:
        mtime = manifest.stat().st_mtime
        cached = self.cache.get(str(manifest))
        if cached is not None and cached[0] == mtime:
            return cached[1], cached[2]
        baseline = importlib.import_module("garrison.integrity.baseline")
        loaded, _doc = baseline.load_trusted_manifest(self.config, manifest)
        records = {r.path: (r.hash, r.size) for r in loaded.records() if r.type == "f"}
        algorithm = str(loaded.header.algorithm)
        self.cache[str(manifest)] = (mtime, records, algorithm)
        return records, algorithm

    def verified(self, path: str) -> bool:
        """True only when a verified deploy manifest covers path with the same content."""
        try:
            deploy = importlib.import_module("garrison.integrity.deploy")
            hashing = importlib.import_module("garrison.integrity.hashing")
            manifests = deploy.load_deploy_manifests(self.config)
        except Exception:  # no integrity support or unreadable records: nothing is allowed
            return False
        for manifest in manifests:
            tree = str(manifest.tree).rstrip("/")
            if not path.startswith(tree + "/"):
                continue
            try:
                records, algorithm = self._records(Path(manifest.manifest))
                expected = records.get(path)
                if expected is None:
                    return False
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode):
                    return False
                return bool(hashing.hash_file(path, st.st_size, algorithm) == expected[0])
            except Exception:  # unsigned, tampered or unreadable manifest: not verified
                return False
        return False
