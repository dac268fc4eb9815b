"""Walk paths (never following symlinks, skipping binaries and big files) and report secrets
as file:line with the value redacted; optionally read /proc/*/environ of running bots."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from garrison.config.schema import Config
from garrison.secrets.memory import redact
from garrison.secrets.scanner.formats import (
    hummingbot_hits,
    ini_password_hits,
    json_hits,
    pem_hits,
)
from garrison.secrets.scanner.rules import Hit, scan_line

DEFAULT_PATHS = ("/etc", "/home", "/root", "/opt", "/srv", "/var/lib")

#: trees that never hold a bot's secrets and are large, or hold keys that belong there
PRUNED = (
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/lib/dpkg",
    "/var/lib/apt",
    "/var/lib/docker/overlay2",
    "/var/lib/containerd",
    "/var/lib/aide",
    "/var/lib/garrison/secrets",
    "/var/cache",
    "/var/lib/mysql",
    "/var/lib/postgresql",
    "/var/lib/systemd/coredump",
    "/var/lib/ucf",
)
# toolchains and caches: big, and their test keys are public fixtures, not your secrets
_SKIP_DIR_NAMES = frozenset(
    [
        ".git",
        "__pycache__",
        "node_modules",
        ".mypy_cache",
        ".tox",
        ".cache",
        ".venv",
        "venv",
        "site-packages",
        "dist-packages",
        ".npm",
        ".cargo",
        ".rustup",
        ".ruff_cache",
        ".pyenv",
        ".rbenv",
        ".nvm",
        ".m2",
        ".gradle",
    ]
)
#: private keys that are supposed to be exactly there (host identity, TLS, SSH client keys)
_EXPECTED_KEY_FILES = (
    "*/etc/ssh/ssh_host_*_key",
    "*/etc/ssl/private/*",
    "*/.ssh/id_*",
    "*/.ssh/*_ed25519",
    "*/.ssh/*_rsa",
    "*/etc/garrison/*.key",
)
_SKIP_SUFFIXES = (
    ".age",
    ".cred",
    ".gz",
    ".xz",
    ".zst",
    ".bz2",
    ".zip",
    ".png",
    ".jpg",
    ".so",
    ".pyc",
    ".mo",
    ".deb",
    ".whl",
    ".db",
    ".sqlite",
    ".ttf",
    ".woff",
    ".ico",
)
# cheap first pass: a file is only read line by line when something here matches
_TRIGGER = re.compile(
    rb"(?i)key|secret|pass|token|pwd|uid|credential|authorization|PRIVATE KEY|"
    rb"[0-9a-f]{32}-[0-9a-f]{32}|[0-9]{8,10}:AA|organizations/"
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ScanFinding:
    """A secret on disk (or in a process environment), redacted."""

    path: str
    line: int
    rule: str
    redacted: str
    detail: str

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class ScanResult:
    findings: tuple[ScanFinding, ...]
    files_scanned: int
    files_skipped: int
    partial: bool = False  # a time budget stopped the walk early
    errors: tuple[str, ...] = ()


def package_owned_files(root: Path) -> frozenset[str]:
    """Files shipped by Debian packages outside /etc (public, identical on every machine;
    /etc is excluded because conffiles are edited, e.g. to add a password)."""
    owned: set[str] = set()
    info = root / "var/lib/dpkg/info"
    try:
        lists = [entry.path for entry in os.scandir(info) if entry.name.endswith(".list")]
    except OSError:
        return frozenset()
    for path in lists:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                owned.update(ln.rstrip("\n") for ln in handle if not ln.startswith("/etc/"))
        except OSError:
            continue
    return frozenset(owned)


def default_scan_paths(config: Config) -> list[str]:
    paths = list(DEFAULT_PATHS)
    paths += [s.code_dir for s in config.strategies if s.code_dir and s.code_dir not in paths]
    return paths


def _display(root: Path, real: Path) -> str:
    if root == Path("/"):
        return str(real)
    try:
        return "/" + str(real.relative_to(root))
    except ValueError:
        return str(real)


def _is_pruned(system_path: str, extra: list[str]) -> bool:
    if any(system_path == p or system_path.startswith(p + "/") for p in PRUNED):
        return True
    return any(fnmatch.fnmatch(system_path, pattern) for pattern in extra)


def iter_files(root: Path, system_path: str, ignore: list[str]) -> Iterator[tuple[Path, str]]:
    """(real path, system path) of regular files below system_path; symlinks never followed."""
    start = root / system_path.lstrip("/")
    try:
        st = start.lstat()
    except OSError:
        return
    if stat.S_ISREG(st.st_mode):
        yield start, _display(root, start)
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    stack = [start]
    while stack:
        directory = stack.pop()
        if _is_pruned(_display(root, directory), ignore) and directory != start:
            continue
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _SKIP_DIR_NAMES:
                        subdirs.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    real = Path(entry.path)
                    shown = _display(root, real)
                    if not _is_pruned(shown, ignore):
                        yield real, shown
            except OSError:
                continue
        stack.extend(reversed(subdirs))


def scan_text(text: str, shown: str) -> list[ScanFinding]:
    """Findings in one file's text."""
    lines = text.splitlines()
    found: list[tuple[int, Hit]] = []
    structured = json_hits(text) if shown.endswith(".json") or text.lstrip()[:1] == "{" else None
    if structured is not None:
        found += structured
    if fnmatch.fnmatch(shown, "*/conf/connectors/*.yml"):
        found += hummingbot_hits(lines)
    elif shown.lower().endswith(".ini"):
        found += ini_password_hits(lines)
    # line rules also run on JSON: a token shape under an unremarkable key is still a token
    known = {hit.value for _number, hit in found}
    for number, line in enumerate(lines, 1):
        found += [(number, hit) for hit in scan_line(line) if hit.value not in known]
    if not any(fnmatch.fnmatch(shown, p) for p in _EXPECTED_KEY_FILES):
        found += pem_hits(lines)
    return [ScanFinding(shown, n, h.rule, redact(h.value), h.detail) for n, h in found]


def scan_file(real: Path, shown: str, max_bytes: int) -> list[ScanFinding] | None:
    """Findings in one file; None when it is skipped (binary, too big, unreadable)."""
    if shown.endswith(_SKIP_SUFFIXES):
        return None
    try:
        with real.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size > max_bytes:
                return None
            data = handle.read(max_bytes + 1)
    except OSError:
        return None
    if b"\0" in data[:8192] or len(data) > max_bytes:
        return None
    if not _TRIGGER.search(data):
        return []
    return scan_text(data.decode("utf-8", "replace"), shown)


def scan_paths(
    config: Config,
    paths: list[str],
    *,
    root: Path = Path("/"),
    include_proc: bool = False,
    progress: Progress | None = None,
    budget_s: float | None = None,
) -> ScanResult:
    """Scan files below paths (system paths under root); stop early after budget_s seconds."""
    started = time.monotonic()
    findings: list[ScanFinding] = []
    scanned = skipped = 0
    partial = False
    max_bytes = config.secrets.scan_max_file_bytes
    shipped = package_owned_files(root)
    for system_path in paths:
        for real, shown in iter_files(root, system_path, config.secrets.scan_ignore):
            if shown in shipped:
                skipped += 1
                continue
            if budget_s is not None and time.monotonic() - started > budget_s:
                partial = True
                break
            if progress is not None and scanned % 200 == 0:
                progress(shown)
            result = scan_file(real, shown, max_bytes)
            if result is None:
                skipped += 1
                continue
            scanned += 1
            findings += result
        if partial:
            break
    if include_proc and root == Path("/"):
        from garrison.secrets.scanner.environ import scan_bot_environments

        findings += scan_bot_environments(config)
    return ScanResult(tuple(findings), scanned, skipped, partial)
