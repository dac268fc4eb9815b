"""Resolve absolute paths of the audited system inside a root directory, chroot-style.

An image mounted at /mnt/image has absolute symlinks (/etc/localtime -> /usr/share/...) that must
resolve inside the image, not on the auditing host. os.path.realpath cannot do that, and no
well-kept library does it without chroot(2) (which needs root and a process of its own), so this
walks the components itself.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

MAX_SYMLINKS = 40  # the kernel's own limit (ELOOP)


class SymlinkLoopError(OSError):
    """Too many symlinks were followed while resolving a path."""


def resolve_in_root(root: Path, path: str | PurePosixPath, *, follow_last: bool = True) -> Path:
    """Return the real location under `root` of the system path `path`.

    Symlinks are followed with `root` as '/', and '..' never climbs above it.
    Missing components are kept as they are (the result may not exist).
    """
    root = Path(root)
    parts = [p for p in PurePosixPath("/" + str(path).lstrip("/")).parts[1:] if p not in ("", ".")]
    resolved: list[str] = []
    followed = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        is_last = not parts
        if candidate.is_symlink() and (follow_last or not is_last):
            followed += 1
            if followed > MAX_SYMLINKS:
                raise SymlinkLoopError(40, "too many levels of symbolic links", "/" + str(path))
            target = os.readlink(candidate)
            target_parts = [p for p in PurePosixPath(target).parts if p not in ("", ".")]
            if target.startswith("/"):
                resolved = []
                target_parts = target_parts[1:]
            parts = target_parts + parts
            continue
        resolved.append(part)
    return root.joinpath(*resolved)
